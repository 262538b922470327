"""Every dbt model, test and analysis passes sqlfluff (dbt templater, DuckDB dialect, config in .sqlfluff)."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest
from cadence.config import PROJECT_ROOT

pytestmark = [pytest.mark.static, pytest.mark.timeout(600)]


def test_sqlfluff_lints_the_dbt_project_clean(tmp_path):
    assert (PROJECT_ROOT / ".sqlfluff").is_file(), "the lint config lives at the repository root"
    sqlfluff = Path(sys.executable).with_name("sqlfluff")
    env = {
        **os.environ,
        # the dbt templater compiles against a throw-away warehouse and an empty lake
        "DBT_DUCKDB_PATH": str(tmp_path / "lint.duckdb"),
        "DBT_LAKE_ROOT": str(tmp_path / "lake"),
        "DBT_TARGET": "duckdb",
    }
    result = subprocess.run(
        [str(sqlfluff), "lint", "dbt", "--processes", "1", "--disable-progress-bar", "--verbose"],
        cwd=PROJECT_ROOT, env=env, capture_output=True, text=True, timeout=540,
    )  # fmt: skip
    assert "[dbt templater] Project Compiled." in result.stdout + result.stderr, result.stderr[-3000:]
    assert result.returncode == 0, result.stdout[-6000:]
    passed = {
        line.split("[", 1)[1].split("]", 1)[0]
        for line in result.stdout.splitlines()
        if line.endswith("] PASS")
    }
    models = {str(p.relative_to(PROJECT_ROOT)) for p in (PROJECT_ROOT / "dbt" / "models").rglob("*.sql")}
    assert models <= passed, f"not linted: {sorted(models - passed)}"

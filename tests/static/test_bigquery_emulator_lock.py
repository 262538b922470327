"""The BigQuery emulator's lock (requirements-bigquery-emulator.txt, its own .venv-bq-emulator) runs the same
dbt as the main lock and differs from it only where crucible pins its own versions (duckdb, sqlglot), so
the emulator test exercises the dbt-bigquery that production gets."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

pytestmark = pytest.mark.static

ROOT = Path(__file__).resolve().parents[2]


def _pins(path: Path) -> dict[str, str]:
    text = path.read_text()
    return {m[0].lower(): m[1] for m in re.findall(r"^([A-Za-z0-9_.\-]+)==(\S+)", text, re.MULTILINE)}


def test_the_emulator_lock_follows_the_main_lock_except_crucibles_own_pins():
    main = _pins(ROOT / "requirements.txt")
    emulator = _pins(ROOT / "requirements-bigquery-emulator.txt")
    assert "crucible-emulator" in emulator and "uvicorn" in emulator  # `crucible serve` needs [server]
    for package in ("dbt-core", "dbt-adapters", "dbt-bigquery", "google-cloud-bigquery"):
        assert emulator[package] == main[package], package
    differ = {name for name in emulator.keys() & main.keys() if emulator[name] != main[name]}
    assert differ <= {"duckdb", "sqlglot"}, "run `make lock`: " + ", ".join(
        f"{name} {emulator[name]} vs {main[name]}" for name in sorted(differ)
    )

"""Run or render the monitoring models with dbt outside Airflow (the CLI, the dry-run task).

Inside the DAG the models run in Cosmos task groups; here the same models run through dbt's own runner
with the project's profiles.yml, pointed at the configured warehouse. Rendering compiles against a
throwaway DuckDB file, so a dry run never opens (or waits for) the real warehouse.
"""

from __future__ import annotations

import json
import os
import tempfile
from pathlib import Path
from unittest.mock import patch

from cadence.config import Settings
from cadence.dbt_group import dbt_env, release_dbt_duckdb

MODELS = {"kpis": "kpi_anomalies", "health": "pipeline_health"}


class DbtError(RuntimeError):
    """dbt failed; the message carries dbt's own error."""


def _environment(settings: Settings, duckdb_path: Path):
    """dbt's variables for this warehouse, set only while dbt runs (restored afterwards)."""
    values = dbt_env(settings) | {"DBT_DUCKDB_PATH": str(duckdb_path), "DBT_TARGET": settings.warehouse}
    return patch.dict(os.environ, values)


def invoke(settings: Settings, command: str, model: str, dbt_vars: dict, *, scratch: bool):
    """``dbt <command> --select <model>`` with ``dbt_vars``; returns dbt's per-node results."""
    from dbt.cli.main import dbtRunner

    project = str(settings.dbt_project_dir)
    with tempfile.TemporaryDirectory(prefix="cadence-dbt-") as work:
        # same file name as the warehouse, so the rendered SQL names the same database
        database = Path(work, settings.duckdb_path.name) if scratch else settings.duckdb_path
        args = [
            command,
            "--select",
            f"{model},resource_type:model" if command == "compile" else model,
            "--project-dir",
            project,
            "--profiles-dir",
            project,
            "--target-path",
            f"{work}/target",
            "--log-path",
            f"{work}/logs",
            "--vars",
            json.dumps(dbt_vars),
            "--quiet",
        ]
        if command == "compile":
            args.append("--no-populate-cache")
        else:  # only tests whose every parent is selected: never a test of a model not built here
            args += ["--indirect-selection", "cautious"]
        with _environment(settings, database):
            result = dbtRunner().invoke(args)
            release_dbt_duckdb()
    if not result.success:
        failures = [
            f"{r.node.name}: {r.message}"
            for r in (result.result or [])
            if getattr(r, "status", None) in ("error", "fail")
        ]
        raise DbtError(f"dbt {command} of {model} failed: {result.exception or '; '.join(failures)}")
    return result.result


def render(settings: Settings, model: str, dbt_vars: dict) -> str:
    """The SQL ``model`` would run with ``dbt_vars``, compiled without executing it."""
    results = invoke(settings, "compile", model, dbt_vars, scratch=True)
    return next(r.node.compiled_code for r in results if r.node.name == model)


def build(settings: Settings, model: str, dbt_vars: dict) -> None:
    """Build ``model`` (and run its tests) in the configured warehouse."""
    invoke(settings, "build", model, dbt_vars, scratch=False)

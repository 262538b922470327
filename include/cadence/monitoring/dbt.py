"""Run or render the monitoring models with dbt outside Airflow (the CLI, the dry-run task).

Inside the DAG the models run in Cosmos task groups; here the same models run through dbt's own runner
with the project's profiles.yml, pointed at the configured warehouse. Rendering compiles against a
throwaway DuckDB file, so a dry run never opens (or waits for) the real warehouse.

A build keeps dbt's partial-parse state between calls (as Cosmos does for the DAGs' tasks), and the values
that change from call to call reach dbt in the environment, not as --vars: otherwise every call would parse
the whole project again (~2 s of CPU).
"""

from __future__ import annotations

import json
import os
import shutil
import tempfile
from pathlib import Path
from unittest.mock import patch

from cadence.config import Settings
from cadence.dbt_group import (
    ONE_MODEL_FLAGS,
    WINDOW_KEYS,
    dbt_env,
    parse_state_key,
    release_dbt_duckdb,
    run_value_variable,
)
from cadence.monitoring.daily import HEALTH_RUN_VALUES

MODELS = {"kpis": "kpi_anomalies", "health": "pipeline_health"}
#: Keys of ``dbt_vars`` that change from call to call: passed in the environment (run_value_variable).
RUN_VALUES = (*WINDOW_KEYS, *HEALTH_RUN_VALUES)
PARTIAL_PARSE = "partial_parse.msgpack"


class DbtError(RuntimeError):
    """dbt failed; the message carries dbt's own error."""


def _environment(settings: Settings, duckdb_path: Path, run_values: dict):
    """dbt's variables for this warehouse and call, set only while dbt runs (restored afterwards)."""
    values = dbt_env(settings) | {"DBT_DUCKDB_PATH": str(duckdb_path), "DBT_TARGET": settings.warehouse}
    values |= {run_value_variable(key): str(value) for key, value in run_values.items()}
    return patch.dict(os.environ, values)


def _parse_state(settings: Settings, dbt_vars: dict) -> Path:
    """The partial-parse file kept for builds with these --vars in this warehouse, in the local data folder
    (a kpis and a health build pass different vars: each keeps its own, neither forces the other to parse)."""
    return settings.data_dir / "dbt-parse" / parse_state_key(settings, dbt_vars) / PARTIAL_PARSE


def _keep(parsed: Path, state: Path) -> None:
    """Replace the kept partial-parse file with this call's, atomically (another call may be reading it)."""
    if parsed.exists():
        state.parent.mkdir(parents=True, exist_ok=True)
        partial = state.with_name(f".{PARTIAL_PARSE}.{os.getpid()}")
        shutil.copyfile(parsed, partial)
        partial.replace(state)


def invoke(settings: Settings, command: str, model: str, dbt_vars: dict, *, scratch: bool):
    """``dbt <command> --select <model>`` with ``dbt_vars``; returns dbt's per-node results."""
    from dbt.cli.main import dbtRunner

    project = str(settings.dbt_project_dir)
    run_values = {key: value for key, value in dbt_vars.items() if key in RUN_VALUES}
    dbt_vars = {key: value for key, value in dbt_vars.items() if key not in RUN_VALUES}
    state = None if scratch else _parse_state(settings, dbt_vars)
    with tempfile.TemporaryDirectory(prefix="cadence-dbt-") as work:
        # same file name as the warehouse, so the rendered SQL names the same database
        database = Path(work, settings.duckdb_path.name) if scratch else settings.duckdb_path
        parsed = Path(work, "target", PARTIAL_PARSE)
        if state is not None and state.exists():
            parsed.parent.mkdir()
            shutil.copyfile(state, parsed)
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
            *ONE_MODEL_FLAGS,
        ]
        if command != "compile":  # only tests whose every parent is selected: never one of a model not built
            args += ["--indirect-selection", "cautious"]
        with _environment(settings, database, run_values):
            result = dbtRunner().invoke(args)
            release_dbt_duckdb()
        if state is not None:
            _keep(parsed, state)
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

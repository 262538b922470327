"""Shared fixtures: a throwaway Airflow home per session, and a fresh lake, DuckDB and source per test.

Airflow reads its configuration when first imported, so the environment is set here, before any test
module imports it. Connections come from AIRFLOW_CONN_* variables pointing at per-test files.
"""

from __future__ import annotations

import json
import os
import tempfile
from datetime import UTC, datetime
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
DAGS = ROOT / "dags"
_SESSION_DIR = Path(tempfile.mkdtemp(prefix="cadence-tests-"))

os.environ.update(
    {
        "AIRFLOW_HOME": str(_SESSION_DIR / "airflow"),
        "AIRFLOW__CORE__DAGS_FOLDER": str(DAGS),
        "AIRFLOW__CORE__LOAD_EXAMPLES": "False",
        "AIRFLOW__COSMOS__ENABLE_TELEMETRY": "False",
        "AIRFLOW__COSMOS__CACHE_DIR": str(_SESSION_DIR / "cosmos"),
        "DO_NOT_TRACK": "1",
        "SCARF_NO_ANALYTICS": "true",
        # A failing task in a test should fail now, not after a one-minute retry delay.
        "CADENCE_PURCHASES__RETRIES": "0",
    }
)
for variable in [v for v in os.environ if v.startswith("CADENCE_") and "__RETRIES" not in v]:
    del os.environ[variable]  # a developer's own overrides must not leak into the tests

# A fixed "now" for simulated history, so every number in the tests is reproducible.
SIM_NOW = datetime(2026, 3, 10, 12, 0, tzinfo=UTC)


@pytest.fixture(scope="session")
def airflow_db():
    """A migrated Airflow metadata DB with the one-slot DuckDB pool."""
    from airflow.models.pool import Pool
    from airflow.utils import db
    from airflow.utils.session import create_session

    db.initdb()
    with create_session() as session:
        Pool.create_or_update_pool(
            "duckdb", slots=1, description="DuckDB single writer", session=session, include_deferred=False
        )
    return True


@pytest.fixture
def cadence_env(tmp_path, monkeypatch):
    """Point Cadence and its Airflow connections at a fresh data folder; returns the settings."""
    from cadence.config import get_settings

    data = tmp_path / "data"
    data.mkdir()
    monkeypatch.setenv("CADENCE_DATA_DIR", str(data))
    monkeypatch.setenv(
        "AIRFLOW_CONN_CADENCE_SOURCE",
        json.dumps({"conn_type": "sqlite", "host": str(data / "source.sqlite")}),
    )
    monkeypatch.setenv(
        "AIRFLOW_CONN_CADENCE_WAREHOUSE",
        json.dumps({"conn_type": "duckdb", "host": str(data / "warehouse.duckdb")}),
    )
    return get_settings()


def seed_source(days: float, until: datetime = SIM_NOW, streams: tuple[str, ...] = ("purchases",)):
    from cadence.simulator import cli

    return cli.seed(list(streams), days, until)


@pytest.fixture
def load_dag(airflow_db):
    """Parse a DAG afresh from its file (Params set by one dag.test() would leak into the next)."""
    from airflow.dag_processing.dagbag import DagBag

    def _load(dag_id: str):
        bag = DagBag(dag_folder=str(DAGS / f"{dag_id}.py"))
        assert not bag.import_errors, bag.import_errors
        return bag.get_dag(dag_id)

    return _load


@pytest.fixture
def run_dag(load_dag):
    """Run one DAG run in-process with dag.test() and return it."""

    def _run(
        dag_id: str,
        logical_date: datetime,
        conf: dict | None = None,
        mark_success: str | None = None,
        keep_other_runs: bool = False,
    ):
        # Otherwise dag.test() finds the finished run of an earlier test and skips; runs of the other DAGs
        # (those an earlier run triggered) are kept on request.
        forget_runs(dag_id if keep_other_runs else None)
        environment = dict(os.environ)
        try:
            dag = load_dag(dag_id)
            return dag.test(logical_date=logical_date, run_conf=conf, mark_success_pattern=mark_success)
        finally:
            release_dbt_duckdb()
            # In-process tasks (Cosmos exports the dbt env) must not leak variables into the next test.
            os.environ.clear()
            os.environ.update(environment)

    return _run


def forget_runs(dag_id: str | None = None) -> None:
    """Drop the DAG runs of earlier tests (all of them, or one DAG's) from the session's Airflow DB."""
    from airflow.models import DagRun
    from airflow.utils.session import create_session
    from sqlalchemy import delete

    statement = delete(DagRun) if dag_id is None else delete(DagRun).where(DagRun.dag_id == dag_id)
    with create_session() as session:
        session.execute(statement)


def release_dbt_duckdb() -> None:
    """dag.test() runs dbt in this process, and dbt-duckdb keeps its DuckDB connection open afterwards;
    drop it so the test (or the next run, on another file) can open the warehouse."""
    import gc

    from dbt.adapters.duckdb.connections import DuckDBConnectionManager

    DuckDBConnectionManager.close_all_connections()
    gc.collect()


def warehouse_query(settings, sql: str):
    import duckdb

    with duckdb.connect(str(settings.duckdb_path), read_only=True) as connection:
        return connection.sql(sql).df()


def source_frame(settings, table: str = "purchases"):
    import sqlite3

    import pandas as pd

    with sqlite3.connect(settings.source_db_path) as connection:
        return pd.read_sql(f"select * from {table}", connection)

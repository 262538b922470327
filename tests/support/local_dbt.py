"""dbt run in-process on a test's own warehouse and lake, as the DAGs' Cosmos tasks run it.

(Not named ``dbt_*``: dbt imports every top-level ``dbt_*`` module on the path as a plugin, and
bigquery_offline.py runs as a script from this folder.)"""

from __future__ import annotations

from datetime import timedelta

import pytest

from tests.support.data import SIM_NOW, seed_source


def invoke(settings, command: str, *args: str, env: dict[str, str | None] | None = None):
    """``dbt <command> *args`` on the project against ``settings``' DuckDB file and local lake, with ``env``
    on top for this call only (None unsets a name); the DuckDB file is released afterwards, so the test
    can read it. Returns dbt's result; the caller asserts on it."""
    from cadence.dbt_group import release_dbt_duckdb
    from dbt.cli.main import dbtRunner

    project = str(settings.dbt_project_dir)
    environment = {"DBT_DUCKDB_PATH": str(settings.duckdb_path), "DBT_LAKE_ROOT": settings.lake_local_path}
    with pytest.MonkeyPatch.context() as patch:
        for name, value in {**environment, **(env or {})}.items():
            if value is None:
                patch.delenv(name, raising=False)
            else:
                patch.setenv(name, value)
        try:
            return dbtRunner().invoke(
                [command, "--project-dir", project, "--profiles-dir", project,
                 "--target-path", str(settings.data_dir / "dbt-target"), "--quiet", *args]
            )  # fmt: skip
        finally:
            release_dbt_duckdb()


def land_one_day(settings) -> None:
    """One simulated day of both streams, seeded in the source and landed in the lake by the real ingest."""
    from cadence import ingest, sources
    from cadence.lake import Window

    seed_source(days=1, streams=("purchases", "spins_hourly"))
    window = Window(SIM_NOW - timedelta(days=1), SIM_NOW)
    for name in ("purchases", "spins_hourly"):
        ingest.ingest(settings, sources.get_spec(name, settings), window,
                      lookback=timedelta(0), chunk=timedelta(hours=6))  # fmt: skip

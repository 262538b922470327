"""daily_kpis over a window shorter than a day (an hourly run, a manual trigger) on DuckDB: it recomputes
the whole day the window lies in, identically, instead of rendering `from ( union all ... )` with no day."""

from __future__ import annotations

import json
from datetime import timedelta

import duckdb
import pytest
from cadence import ingest, sources
from cadence.dbt_group import release_dbt_duckdb
from cadence.lake import Window

from tests.support.data import SIM_NOW, seed_source

pytestmark = pytest.mark.dbt


def _build(settings, *args: str):
    from dbt.cli.main import dbtRunner

    project = str(settings.dbt_project_dir)
    with pytest.MonkeyPatch.context() as patch:
        patch.setenv("DBT_DUCKDB_PATH", str(settings.duckdb_path))
        patch.setenv("DBT_LAKE_ROOT", settings.lake_local_path)
        try:
            result = dbtRunner().invoke(
                ["build", "--project-dir", project, "--profiles-dir", project, "--target-path",
                 str(settings.data_dir / "dbt-target"), "--quiet", "--exclude", "test_type:unit", *args]
            )  # fmt: skip
        finally:
            release_dbt_duckdb()
    assert result.success, result.exception
    return result


def _kpis(settings, day: str) -> list[tuple]:
    with duckdb.connect(str(settings.duckdb_path), read_only=True) as connection:
        return connection.execute(
            "select * exclude (retention_d1, retention_d7) from kpis.daily_kpis"
            " where kpi_date = ? order by slice",
            [day],
        ).fetchall()


def test_an_hourly_window_recomputes_its_whole_day_identically(cadence_env):
    seed_source(days=1, streams=("purchases", "spins_hourly"))
    window = Window(SIM_NOW - timedelta(days=1), SIM_NOW)
    for name in ("purchases", "spins_hourly"):
        ingest.ingest(cadence_env, sources.get_spec(name, cadence_env), window,
                      lookback=timedelta(0), chunk=timedelta(hours=6))  # fmt: skip
    _build(cadence_env, "--select", "+daily_kpis", "last_activity")
    day = (SIM_NOW - timedelta(hours=2)).date().isoformat()
    before = _kpis(cadence_env, day)
    assert any(row[1] == "all" and row[4] > 0 for row in before), "the day has activity"

    hour = {"window_start": f"{day} 09:00:00", "window_end": f"{day} 10:00:00"}
    _build(cadence_env, "--select", "daily_user_panel", "daily_kpis", "--vars", json.dumps(hour))
    assert _kpis(cadence_env, day) == before

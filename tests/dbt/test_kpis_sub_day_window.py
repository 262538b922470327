"""daily_kpis over a window shorter than a day (an hourly run, a manual trigger) on DuckDB: it recomputes
the whole day the window lies in, identically, instead of rendering `from ( union all ... )` with no day."""

from __future__ import annotations

import json
from datetime import timedelta

import duckdb
import pytest

from tests.support.data import SIM_NOW
from tests.support.local_dbt import invoke, land_one_day

pytestmark = pytest.mark.dbt


def _build(settings, *args: str):
    result = invoke(settings, "build", "--exclude", "test_type:unit", *args)
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
    land_one_day(cadence_env)
    _build(cadence_env, "--select", "+daily_kpis", "last_activity")
    day = (SIM_NOW - timedelta(hours=2)).date().isoformat()
    before = _kpis(cadence_env, day)
    assert any(row[1] == "all" and row[4] > 0 for row in before), "the day has activity"

    hour = {"window_start": f"{day} 09:00:00", "window_end": f"{day} 10:00:00"}
    _build(cadence_env, "--select", "daily_user_panel", "daily_kpis", "--vars", json.dumps(hour))
    assert _kpis(cadence_env, day) == before

"""The traffic rule over a simulated week with the default configuration: every burst caught, nothing else.

A week of uploads (default rates: diurnal rhythm, quiet periods, bursts about once a day) is landed and the
telemetry models are built with dbt on DuckDB; the alerted minutes are compared with the minutes the
simulator's bursts fill (false positives and misses are counted and printed).
"""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta

import pandas as pd
import pytest

from tests.support.data import warehouse_query
from tests.support.local_dbt import invoke

pytestmark = pytest.mark.dbt

WEEK_START = datetime(2026, 3, 2, tzinfo=UTC)


def build(settings, landed: dict) -> None:
    from cadence.telemetry import pipeline

    variables = {
        **pipeline.dbt_vars(settings),
        "window_start": landed["window_start"],
        "window_end": landed["window_end"],
    }
    result = invoke(settings, "build", "--select", "path:models/telemetry", "--vars", json.dumps(variables))
    assert result.success, result.exception


def test_a_week_of_normal_traffic_is_not_flagged_and_every_burst_is(cadence_env, capsys):
    from cadence.telemetry import pipeline, simulator

    settings = cadence_env
    end = WEEK_START + timedelta(days=7)
    simulator.write_uploads(settings, simulator.uploads(WEEK_START, end, settings))
    build(settings, pipeline.ingest(settings, "week"))

    events = warehouse_query(settings, "select event_time, visit_id from telemetry.stg_telemetry_events")
    bursts = set(events.loc[events["visit_id"].str.startswith("v-burst"), "event_time"].dt.floor("min"))
    minutes = warehouse_query(settings, "select count(*) as n from ops.traffic_minutes where scope = 'all'")[
        "n"
    ][0]
    alerts = warehouse_query(settings, "select minute_start, scope from ops.traffic_alerts")
    flagged = set(pd.to_datetime(alerts.loc[alerts["scope"] == "all", "minute_start"]))
    false_positives, missed = flagged - bursts, bursts - flagged
    with capsys.disabled():
        print(
            f"\ntraffic rule over a simulated week: {minutes} minutes with events, "
            f"{len(bursts)} burst minutes, "
            f"{len(flagged)} flagged, {len(false_positives)} false positives, {len(missed)} missed"
        )
    assert len(bursts) >= 3 * settings.telemetry.burst_minutes  # the week has several bursts to find
    assert not missed
    assert not false_positives
    device_alerts = alerts[alerts["scope"] != "all"]
    assert set(pd.to_datetime(device_alerts["minute_start"])) == bursts

"""Configuration fails loudly with the variable to fix; trigger conf is refused with a clear message."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from cadence.config import ConfigError, load_settings
from cadence.planning import RunConfError, plan_run

INTERVAL = (datetime(2026, 3, 10, 11, 55, tzinfo=UTC), datetime(2026, 3, 10, 12, 0, tzinfo=UTC))
NOW = datetime(2026, 3, 10, 12, 1, tzinfo=UTC)


def test_defaults_describe_the_embedded_stack(monkeypatch):
    monkeypatch.delenv("CADENCE_PURCHASES__RETRIES", raising=False)
    settings = load_settings()
    assert settings.warehouse == "duckdb"
    assert settings.lake_url.startswith("file://")
    assert settings.purchases.schedule == "*/5 * * * *"
    assert settings.purchases.retries == 1
    assert settings.purchases.dagrun_timeout == timedelta(minutes=8)


def test_environment_overrides_one_field_of_a_section(monkeypatch):
    monkeypatch.setenv("CADENCE_PURCHASES__LOOKBACK", "PT15M")
    settings = load_settings()
    assert settings.purchases.lookback == timedelta(minutes=15)
    assert settings.purchases.schedule == "*/5 * * * *"  # the rest of the section keeps its defaults


@pytest.mark.parametrize(
    ("variable", "value", "message"),
    [
        ("CADENCE_PURCHASES__LOOKBACK", "banana", "CADENCE_PURCHASES__LOOKBACK"),
        ("CADENCE_PURCHASES__SCHEDULE", "every five minutes", "not a valid cron expression"),
        ("CADENCE_SIMULATOR__LATE_RATE", "1.5", "CADENCE_SIMULATOR__LATE_RATE"),
        ("CADENCE_WAREHOUSE", "oracle", "CADENCE_WAREHOUSE"),
        ("CADENCE_LAKE_URL", "ftp://nowhere", "must start with file://"),
        ("CADENCE_PURCHASES__BACKFILL_CHUNK", "PT0S", "greater than zero"),
        ("CADENCE_QUALITY__BATCH_ROWS", "0", "CADENCE_QUALITY__BATCH_ROWS: Input should be greater than"),
    ],
)
def test_a_bad_value_names_the_setting(monkeypatch, variable, value, message):
    monkeypatch.setenv(variable, value)
    with pytest.raises(ConfigError, match=message):
        load_settings()


def _plan(**params):
    settings = load_settings()
    return plan_run(params, *INTERVAL, settings.purchases, settings, now=NOW)


def test_a_scheduled_run_processes_its_interval_with_lookback():
    plan = _plan()
    assert (plan.window.start, plan.window.end) == INTERVAL
    assert not plan.is_backfill
    assert plan.lookback == timedelta(minutes=10)
    assert plan.dbt_vars() == {"window_start": "2026-03-10 11:55:00", "window_end": "2026-03-10 12:00:00"}


def test_a_backfill_processes_exactly_its_range():
    plan = _plan(backfill_start="2026-03-01T00:00:00Z", backfill_end="2026-03-02T06:00:00+00:00")
    assert plan.is_backfill and plan.lookback == timedelta(0)
    assert plan.window.start == datetime(2026, 3, 1, tzinfo=UTC)
    assert plan.window.end == datetime(2026, 3, 2, 6, tzinfo=UTC)


@pytest.mark.parametrize(
    ("params", "message"),
    [
        (
            {"backfill_start": "yesterday", "backfill_end": "2026-03-02T00:00:00Z"},
            "backfill_start 'yesterday' is not an ISO-8601 date-time",
        ),
        (
            {"backfill_start": "2026-03-02T00:00:00Z", "backfill_end": "2026-03-01T00:00:00Z"},
            "backfill_end 2026-03-01T00:00:00\\+00:00 is not after backfill_start 2026-03-02",
        ),
        (
            {"backfill_start": "2026-01-01T00:00:00Z", "backfill_end": "2026-03-01T00:00:00Z"},
            "exceeds the maximum of 31 days",
        ),
        ({"backfill_start": "2026-03-01T00:00:00Z"}, "backfill_end is empty"),
        ({"backfill_start": "2026-03-10T00:00:00Z", "backfill_end": "2026-03-11T00:00:00Z"}, "in the future"),
    ],
)
def test_bad_backfill_conf_is_refused_with_a_clear_message(params, message):
    with pytest.raises(RunConfError, match=message):
        _plan(**params)


@pytest.mark.parametrize(
    ("cadence", "triggered_at", "interval"),
    [
        ("spins", datetime(2026, 3, 10, 20, 48, 57, tzinfo=UTC), ("19:00", "20:00")),
        ("spins", datetime(2026, 3, 10, 20, 0, tzinfo=UTC), ("19:00", "20:00")),
        ("purchases", datetime(2026, 3, 10, 20, 52, 1, tzinfo=UTC), ("20:45", "20:50")),
    ],
)
def test_a_manual_run_without_logical_date_takes_the_latest_complete_interval(
    cadence, triggered_at, interval
):
    from cadence.planning import latest_interval

    start, end = latest_interval(getattr(load_settings(), cadence), triggered_at)
    assert (f"{start:%H:%M}", f"{end:%H:%M}") == interval
    assert start.tzinfo is not None and end <= triggered_at


def test_run_log_records_of_every_job_have_one_shape(tmp_path):
    """Landing jobs count rows that must add up; other jobs leave the counts empty; details sit beside."""
    from cadence.lake import Window
    from cadence.runlog import RunRecord

    window = Window(datetime(2026, 3, 1, tzinfo=UTC), datetime(2026, 3, 1, 1, tzinfo=UTC))
    landing = RunRecord.landing("purchases", window, run_id="r")
    landing.rows_extracted, landing.rows_valid, landing.rows_landed = 3, 2, 2
    with pytest.raises(AssertionError, match="row counts do not add up"):
        landing.check_counts()
    landing.rows_quarantined = 1
    landing.check_counts()
    gold = RunRecord("gold", window.start, window.end, status="success", details={"note": "fresh"}).as_json()
    assert gold["rows_extracted"] is None and gold["note"] == "fresh"
    assert gold["window_start"] == "2026-03-01T00:00:00+00:00"
    assert set(landing.as_json()) | {"note"} == set(gold)

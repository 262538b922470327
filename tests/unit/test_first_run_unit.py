"""`make up` pieces without a stack: the first-run backfill plan, the generated admin password,
the bind address, and the trigger form's date-time pattern."""

from __future__ import annotations

import json
import re
from datetime import UTC, datetime

import pytest

pytestmark = pytest.mark.unit


def test_first_run_plans_purchases_in_chunks_then_spins_and_kpis_over_the_range():
    from datetime import timedelta

    from cadence import first_run

    start, end = first_run.seeded_range(1, now=datetime(2026, 3, 10, 12, 34, tzinfo=UTC))
    assert (start, end) == (datetime(2026, 3, 9, tzinfo=UTC), datetime(2026, 3, 10, 12, tzinfo=UTC))
    plan = first_run.plan(start, end, timedelta(hours=16))
    chunks = [(r["conf"]["backfill_start"], r["conf"]["backfill_end"]) for r in plan["purchases"]]
    assert chunks == [
        ("2026-03-09T00:00:00Z", "2026-03-09T16:00:00Z"),
        ("2026-03-09T16:00:00Z", "2026-03-10T08:00:00Z"),
        ("2026-03-10T08:00:00Z", "2026-03-10T12:00:00Z"),
    ]
    assert len({r["trigger_run_id"] for r in plan["purchases"]}) == 3
    whole = ("2026-03-09T00:00:00Z", "2026-03-10T12:00:00Z")
    assert (plan["spins"]["backfill_start"], plan["spins"]["backfill_end"]) == whole
    assert (plan["mmp"]["backfill_start"], plan["mmp"]["backfill_end"]) == whole
    days = (plan["daily_kpis"]["backfill_start"], plan["daily_kpis"]["backfill_end"])
    assert days == ("2026-03-09T00:00:00Z", "2026-03-10T00:00:00Z")
    # Then one normal purchases run, which catches up to now (no range: cadence.catch_up).
    assert "backfill_start" not in plan["purchases_catch_up"]
    # No cadence triggers another on its own while the history is backfilled.
    kinds = ("purchases_catch_up", "spins", "mmp", "daily_kpis")
    runs = [r["conf"] for r in plan["purchases"]] + [plan[k] for k in kinds]
    assert {conf["triggered_by"] for conf in runs} == {"first_run"}


def test_only_a_normal_run_yields_and_only_while_the_first_run_is_active():
    from cadence.first_run import yields_to_first_run

    asked = []

    def active(count):
        return lambda: asked.append(count) or count

    assert yields_to_first_run({}, active(1))
    assert yields_to_first_run({"backfill_start": None, "is_full_refresh": False}, active(2))
    assert not yields_to_first_run({}, active(0))
    # part of the first run, a backfill, a full refresh: never (and the DB is not asked)
    asked.clear()
    assert not yields_to_first_run({"triggered_by": "first_run"}, active(1))
    assert not yields_to_first_run({"backfill_start": "2026-03-09T00:00:00Z"}, active(1))
    assert not yields_to_first_run({"is_full_refresh": True}, active(1))
    assert asked == []
    # a catch-up another cadence triggered carries its range: a backfill
    assert not yields_to_first_run(
        {"triggered_by": "spins", "backfill_start": "2026-03-09T00:00:00Z"}, active(1)
    )


def test_the_seeded_history_and_the_kpis_start_on_a_day_boundary():
    """A first day holding only the last hour of players (seen under make up: the history began at the
    hour it ran) read as a 731 % DAU jump the next day and failed the first run's anomaly check."""
    from datetime import timedelta

    from cadence import first_run

    start, end = first_run.seeded_range(3, now=datetime(2026, 11, 30, 23, 48, tzinfo=UTC))
    assert (start, end) == (datetime(2026, 11, 27, tzinfo=UTC), datetime(2026, 11, 30, 23, tzinfo=UTC))
    kpis = first_run.plan(start, end, timedelta(hours=6))["daily_kpis"]
    assert (kpis["backfill_start"], kpis["backfill_end"]) == ("2026-11-27T00:00:00Z", "2026-11-30T00:00:00Z")
    late = datetime(2026, 11, 27, 23, tzinfo=UTC)  # a range given in the conf: its whole days only
    kpis = first_run.plan(late, late + timedelta(days=3), timedelta(hours=6))["daily_kpis"]
    assert (kpis["backfill_start"], kpis["backfill_end"]) == ("2026-11-28T00:00:00Z", "2026-11-30T00:00:00Z")


def test_make_up_seeds_the_source_from_the_first_runs_midnight(cadence_env, monkeypatch):
    """The real seed, into a temporary source database: every stream starts where the first run's range
    starts, a midnight."""
    from cadence import first_run, local, sources
    from cadence.simulator import source

    monkeypatch.setenv("CADENCE_SIMULATOR__SEED_DAYS", "1")
    local.seed_source()
    start, _ = first_run.seeded_range(1)
    assert start.hour == 0
    hook = sources.source_hook(cadence_env)
    for stream in ("purchases", "spins_hourly"):
        assert source.state(hook, stream)[0] == start


def test_the_admin_password_is_generated_once_and_kept(tmp_path):
    from cadence import local

    password, generated = local.admin_password(tmp_path)
    assert generated and len(password) >= 16 and password != "admin"
    assert local.admin_password(tmp_path) == (password, False)
    stored = tmp_path / local.PASSWORDS_FILE
    assert json.loads(stored.read_text()) == {"admin": password}
    assert stored.stat().st_mode & 0o077 == 0  # readable by its owner only
    other, _ = local.admin_password(tmp_path / "elsewhere")
    assert other != password


def test_the_api_server_binds_localhost_unless_told(monkeypatch):
    from cadence import local

    assert local.HOST == "127.0.0.1" or "CADENCE_UI_HOST" in __import__("os").environ
    command = local.service_commands(8141)["api-server"]
    assert command[command.index("--host") + 1] == local.HOST


@pytest.mark.parametrize(
    ("value", "ok"),
    [
        ("2026-03-01", True),
        ("2026-03-01T00:00", True),  # what the form's datetime-local picker sends
        ("2026-03-01T00:00:00Z", True),
        ("2026-03-01 23:59:59.123456+05:30", True),
        ("2026-13-01", False),
        ("2026-03-32", False),
        ("2026-03-01T24:00", False),
        ("x", False),
        ("2026-03-01T00:00:00Zjunk", False),
    ],
)
def test_the_date_time_pattern(value, ok):
    from cadence.conf_schema import ISO_DATETIME_PATTERN

    assert bool(re.search(ISO_DATETIME_PATTERN, value)) is ok


@pytest.mark.parametrize("dialect", ["duckdb", "bigquery"])
def test_the_dashboard_queries_parse_on_both_warehouses(dialect):
    """The snapshot is published from DuckDB locally and BigQuery in production: same SQL."""
    import sqlglot
    from cadence.dashboard.snapshot import QUERIES

    for name, sql in QUERIES.items():
        parsed = sqlglot.parse_one(sql.format(since="2026-03-01"), read=dialect)
        tables = {f"{t.db}.{t.name}" for t in parsed.find_all(sqlglot.exp.Table)}
        schemas = {t.split(".")[0] for t in tables}
        assert tables and schemas <= {"kpis", "ops", "gold", "mmp"}, (name, tables)

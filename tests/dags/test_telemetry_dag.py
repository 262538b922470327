"""Real dag.test() runs of the telemetry DAG: arriving, duplicated, corrected, corrupt and late files.

Two dag.test() runs share one lake (two arrivals, the second with a corrected re-upload and a late file),
then a rerun with nothing new and a full refresh. After each, bronze,
quarantine and the ledger account for every line of every file, and sessions, users, engagement,
clickstream marts and traffic equal an independent pandas reading of the landing files
(``tests.support.telemetry_expected``).
"""

from __future__ import annotations

import gzip
import json
import os
from datetime import UTC, datetime, timedelta

import duckdb
import pandas as pd
import pytest

from tests.support import telemetry_expected as expected
from tests.support.data import warehouse_query

pytestmark = pytest.mark.dags

T0 = datetime(2026, 3, 2, 0, 0, tzinfo=UTC)
T1 = T0 + timedelta(hours=6)
T2 = T0 + timedelta(hours=12)
RATES = {
    "VISITS_PER_HOUR": "50",
    "FILES_PER_HOUR": "6",
    "DUPLICATE_FILE_RATE": "0.2",
    "CORRECTED_FILE_RATE": "0.2",
    "TRUNCATED_FILE_RATE": "0.1",
    "INVALID_LINE_RATE": "0.03",
    "BAD_VISIT_RATE": "0.03",
    "SPLIT_VISIT_RATE": "0.15",
    "BURSTS_PER_DAY": "6",
    "BURST_EVENTS_PER_MINUTE": "2500",
    "QUIET_PERIODS_PER_DAY": "2",
    "RETRIES": "0",
}
TABLES = {
    "telemetry.fct_sessions": "session_id",
    "telemetry.dim_users": "user_id",
    "telemetry.user_engagement": "activity_date, user_id",
    "telemetry.user_engagement_daily": "activity_date",
    "telemetry.telemetry_screen_views": "event_date, screen",
    "telemetry.telemetry_store_items": "event_date, sku",
    "telemetry.telemetry_sales_by_category": "event_date, category",
    "telemetry.telemetry_purchase_discrepancies": "event_date, user_id",
    "telemetry.telemetry_visits_by_device": "visit_date, platform, device_model, os_version",
    "ops.traffic_minutes": "minute_start, scope",
    "ops.traffic_alerts": "minute_start, scope, rule",
}


@pytest.fixture
def telemetry_env(cadence_env, monkeypatch):
    for name, value in RATES.items():
        monkeypatch.setenv(f"CADENCE_TELEMETRY__{name}", value)
    from cadence.config import get_settings

    return get_settings()


def backend_purchases(settings) -> pd.DataFrame:
    """Valid backend purchases around the range, straight from the simulator, loaded as silver.purchases."""
    from cadence.simulator import purchases
    from cadence.simulator.population import build_population, hours_between

    population = build_population(settings.simulator)
    hours = hours_between(T0 - timedelta(hours=8), T2 + timedelta(hours=2))
    rows = pd.concat([purchases.generate_hour(h, population, settings.simulator) for h in hours])
    rows = rows[rows["op"] == "insert"].drop_duplicates("transaction_id")
    rows = rows[rows["user_id"].notna() & (rows["revenue_usd"] >= 0)]
    rows["purchased_at"] = pd.to_datetime(rows["purchased_at"], errors="coerce", utc=True).dt.tz_convert(None)
    rows = rows[rows["purchased_at"].notna()][["transaction_id", "user_id", "revenue_usd", "purchased_at"]]
    with duckdb.connect(str(settings.duckdb_path)) as connection:
        connection.execute("create schema silver")
        connection.execute(
            "create table silver.purchases as select transaction_id, user_id,"
            " cast(revenue_usd as decimal(18, 2)) as revenue_usd, purchased_at from rows"
        )
    return rows


def tables(settings) -> dict[str, pd.DataFrame]:
    return {
        name: warehouse_query(settings, f"select * from {name} order by {key}")
        for name, key in TABLES.items()
    }


def xcom(dag_run, task_id: str):
    from airflow.models.xcom import XComModel
    from airflow.utils.session import create_session

    with create_session() as session:
        row = (
            session.query(XComModel)
            .filter_by(dag_id="telemetry", run_id=dag_run.run_id, task_id=task_id, key="return_value")
            .one()
        )
        return XComModel.deserialize_value(row)


def assert_green(dag_run) -> None:
    states = {ti.task_id: ti.state for ti in dag_run.get_task_instances()}
    assert dag_run.state == "success", states
    assert sum(task.startswith("models.") for task in states) >= 10, states


def assert_every_line_accounted(settings, reading) -> None:
    lake = settings.data_dir / "lake"
    bronze = duckdb.sql(
        f"select _file, _line from read_parquet('{lake}/bronze/telemetry_visits/*/*.parquet')"
    ).df()
    quarantined = duckdb.sql(
        "select _file, _line, _reject_reason "
        f"from read_parquet('{lake}/quarantine/telemetry_lines/*/*.parquet')"
    ).df()
    for name, count in reading.lines.items():
        if name in reading.corrupt:
            rows = quarantined[quarantined["_file"] == name]
            assert len(rows) == 1 and rows["_line"].isna().all(), name
            assert "gzip" in rows["_reject_reason"].iloc[0]
            assert list((lake / "quarantine/telemetry_files").rglob(name)), name
            continue
        source = reading.duplicates.get(name, name)  # a retry's lines are in bronze under its first copy
        in_bronze = set(bronze.loc[bronze["_file"] == source, "_line"])
        in_quarantine = set(quarantined.loc[quarantined["_file"] == source, "_line"].dropna().astype(int))
        assert in_bronze == reading.loaded[source], name  # exactly the valid lines, by an independent parse
        assert not in_bronze & in_quarantine, name
        assert in_bronze | in_quarantine == set(range(1, count + 1)), name


def assert_tables_match(settings, reading, backend) -> None:
    gap = int(settings.telemetry.session_gap.total_seconds())
    visits, events, items = expected.staged(reading)
    got = tables(settings)

    sessions = expected.sessions(events, gap)
    actual = got["telemetry.fct_sessions"]
    assert len(actual) == len(sessions)
    for column in (
        "session_id",
        "user_id",
        "events",
        "screens",
        "levels_played",
        "purchases",
        "platform",
        "country",
        "app_version",
        "device_id",
    ):
        assert actual[column].tolist() == sessions[column].tolist(), column
    for column in ("session_start", "session_end"):
        assert (pd.to_datetime(actual[column]) == sessions[column]).all(), column
    assert actual["duration_s"].round(3).tolist() == sessions["duration_s"].round(3).tolist()

    users = expected.users(sessions)
    dim = got["telemetry.dim_users"]
    for column in (
        "user_id",
        "first_platform",
        "first_country",
        "first_app_version",
        "lifetime_sessions",
        "lifetime_events",
    ):
        assert dim[column].tolist() == users[column].tolist(), column
    assert (pd.to_datetime(dim["first_seen_at"]) == users["first_seen_at"]).all()

    engagement = expected.engagement(sessions)
    actual = got["telemetry.user_engagement"]
    for column in ("user_id", "sessions", "events", "returned_d1", "returned_d7"):
        assert actual[column].tolist() == engagement[column].tolist(), column
    assert actual["avg_session_s"].round(3).tolist() == engagement["avg_session_s"].round(3).tolist()
    daily = got["telemetry.user_engagement_daily"]
    assert daily["active_users"].tolist() == engagement.groupby("activity_date").size().tolist()

    views = events[events["event_type"] == "screen_view"].groupby(["event_date", "screen"]).size()
    marts = got["telemetry.telemetry_screen_views"]
    assert marts["views"].tolist() == views.tolist()

    stored = got["telemetry.telemetry_store_items"]
    shop = items[items["event_type"].isin(["item_view", "add_to_cart"])]
    by_sku = shop.groupby(["event_date", "sku"])
    assert stored["views"].tolist() == by_sku["event_type"].apply(lambda s: (s == "item_view").sum()).tolist()
    assert (
        stored["adds"].tolist() == by_sku["event_type"].apply(lambda s: (s == "add_to_cart").sum()).tolist()
    )

    sold = items[items["event_type"] == "purchase"]
    sales = sold.assign(amount=sold["price_usd"] * sold["quantity"]).groupby(["event_date", "category"])
    actual = got["telemetry.telemetry_sales_by_category"]
    assert actual["purchases"].tolist() == sales["event_id"].nunique().tolist()
    assert [float(v) for v in actual["revenue_usd"]] == pytest.approx(
        sales["amount"].sum().tolist(), abs=1e-6
    )

    discrepancies = expected.purchase_discrepancies(events, items, backend)
    actual = got["telemetry.telemetry_purchase_discrepancies"]
    assert actual["user_id"].tolist() == discrepancies["user_id"].tolist()
    assert actual["telemetry_purchases"].tolist() == discrepancies["telemetry_purchases"].astype(int).tolist()
    assert actual["backend_purchases"].tolist() == discrepancies["backend_purchases"].astype(int).tolist()
    assert [float(v) for v in actual["backend_revenue_usd"]] == pytest.approx(
        discrepancies["backend_revenue_usd"].astype(float).tolist(), abs=1e-6
    )

    device = (
        visits.assign(visit_date=visits["started_at"].dt.normalize())
        .groupby(["visit_date", "platform", "device_model", "os_version"])
        .size()
    )
    assert got["telemetry.telemetry_visits_by_device"]["visits"].tolist() == device.tolist()

    per_minute = expected.minutes(events)
    traffic = got["ops.traffic_minutes"]
    overall = traffic[traffic["scope"] == "all"]
    assert overall["events"].tolist() == per_minute.tolist()
    config = settings.telemetry
    flagged = expected.alert_minutes(
        per_minute,
        config.baseline_minutes,
        config.alert_absolute,
        config.alert_factor,
        config.alert_min_events,
    )
    alerts = got["ops.traffic_alerts"]
    assert set(pd.to_datetime(alerts.loc[alerts["scope"] == "all", "minute_start"])) == flagged


def assert_bursts_caught(settings, reading, expect_any: bool) -> None:
    """Every minute of a simulated burst alerts (overall and for the device), and no other minute does."""
    bursts = reading.events[reading.events["visit_id"].str.startswith("v-burst")]
    burst_minutes = set(bursts["event_time"].dt.floor("min"))
    assert bool(burst_minutes) == expect_any
    alerts = warehouse_query(settings, "select minute_start, scope from ops.traffic_alerts")
    overall = set(pd.to_datetime(alerts.loc[alerts["scope"] == "all", "minute_start"]))
    assert overall == burst_minutes
    devices = alerts[alerts["scope"] != "all"]
    assert set(pd.to_datetime(devices["minute_start"])) == burst_minutes
    assert set(devices["scope"]) == {f"device:{d}" for d in bursts["device_id"].unique()}


def rerun(settings, full_refresh: bool) -> None:
    """What a telemetry run does, without Airflow: land (nothing is new), dbt build, mark modeled."""
    from cadence.dbt_group import release_dbt_duckdb
    from cadence.telemetry import pipeline
    from dbt.cli.main import dbtRunner

    landed = pipeline.ingest(settings, "rerun")
    assert landed["files"] == 0
    variables = pipeline.dbt_vars(settings)
    if not full_refresh:
        variables |= {"window_start": landed["window_start"], "window_end": landed["window_end"]}
    args = [
        "build",
        "--select",
        "path:models/telemetry",
        "--vars",
        json.dumps(variables),
        "--project-dir",
        str(settings.dbt_project_dir),
        "--profiles-dir",
        str(settings.dbt_project_dir),
    ]
    environment = {"DBT_LAKE_ROOT": settings.lake_local_path, "DBT_DUCKDB_PATH": str(settings.duckdb_path)}
    saved = {k: os.environ.get(k) for k in environment}
    os.environ.update(environment)
    try:
        result = dbtRunner().invoke(args + (["--full-refresh"] if full_refresh else []))
    finally:
        release_dbt_duckdb()
        for key, value in saved.items():
            os.environ.pop(key, None) if value is None else os.environ.__setitem__(key, value)
    assert result.success, result.exception
    pipeline.mark_modeled(settings, landed["ingested_at"])


def bridge_file(settings, sessions: pd.DataFrame) -> bytes:
    """A late upload with events filling the gap between two sessions of one user: they become one."""
    ordered = sessions.sort_values(["user_id", "session_start"])
    pairs = ordered.assign(next_start=ordered.groupby("user_id")["session_start"].shift(-1)).dropna(
        subset=["next_start"]
    )
    pairs = pairs[
        (pd.to_datetime(pairs["next_start"]) - pd.to_datetime(pairs["session_end"])) < pd.Timedelta(hours=3)
    ]
    first = pairs.iloc[0]
    start, end = pd.Timestamp(first["session_end"]), pd.Timestamp(first["next_start"])
    stamps = pd.date_range(start, end, freq="20min")[1:]
    late = datetime(2026, 3, 2, 13, 0, tzinfo=UTC)
    record = {
        "visit_id": "v-late-bridge",
        "user_id": first["user_id"],
        "device": {
            "device_id": first["device_id"],
            "platform": first["platform"],
            "model": "Pixel7",
            "os_version": "14",
            "app_version": first["app_version"],
        },
        "geo": {"country": first["country"], "region": "late"},
        "client_started_at": f"{stamps[0]:%Y-%m-%dT%H:%M:%S}.000Z",
        "sent_at": f"{late:%Y-%m-%dT%H:%M:%S}.000Z",
        "received_at": f"{late:%Y-%m-%dT%H:%M:%S}.000Z",
        "events": [
            {
                "event_id": f"late-{i}",
                "type": "screen_view",
                "screen": "map",
                "ts": f"{t:%Y-%m-%dT%H:%M:%S}.000Z",
            }
            for i, t in enumerate(stamps)
        ],
    }
    return gzip.compress((json.dumps(record) + "\n").encode(), mtime=0), first["user_id"]


def test_arrivals_duplicates_corrections_and_corrupt_files(telemetry_env, run_dag):
    from cadence.telemetry import pipeline, simulator

    settings = telemetry_env
    backend = backend_purchases(settings)
    folder = settings.data_dir / "lake/landing/telemetry"
    platforms, countries = settings.quality.platforms, settings.quality.countries

    # run 1: six hours of uploads, bursts and imperfections included
    first = simulator.uploads(T0, T1, settings)
    assert {u.kind for u in first} >= {"upload", "duplicate", "truncated"}
    simulator.write_uploads(settings, first)
    run = run_dag("telemetry", T1)
    assert_green(run)
    reading = expected.read_landing(folder, platforms, countries)
    assert_every_line_accounted(settings, reading)
    assert_tables_match(settings, reading, backend)
    assert_bursts_caught(settings, reading, expect_any=False)
    assert xcom(run, "check_traffic")["alerts"] == 0
    ledger = pipeline.read_ledger(settings)
    assert set(ledger["status"]) == {"loaded", "duplicate", "quarantined"}
    assert ledger["modeled"].all()
    before = tables(settings)["telemetry.fct_sessions"]

    # run 2: six more hours, a corrected re-upload of a run-1 file, and a late file bridging two sessions
    corrected = next(u for u in first if u.kind == "upload" and '"home"' in "".join(u.lines))
    fixed = [simulator._corrected(line) for line in corrected.lines]
    late, late_user = bridge_file(settings, before)
    second = simulator.uploads(T1, T2, settings)
    simulator.write_uploads(settings, second)
    (folder / corrected.name).write_bytes(simulator._gzip(fixed))
    (folder / "telemetry_20260302T130000_late.json.gz").write_bytes(late)
    second_run = run_dag("telemetry", T2)
    assert_green(second_run)
    reading = expected.read_landing(folder, platforms, countries)
    assert_every_line_accounted(settings, reading)
    assert_tables_match(settings, reading, backend)
    assert_bursts_caught(settings, reading, expect_any=True)
    assert xcom(second_run, "check_traffic")["alerts"] > 0
    ledger = pipeline.read_ledger(settings)
    run2_files = set(ledger.loc[ledger["run_id"] == second_run.run_id, "file"])
    ledger = ledger.set_index("file")
    assert ledger.loc[corrected.name, "status"] == "replaced"
    assert ledger.loc["telemetry_20260302T130000_late.json.gz", "status"] == "loaded"
    after = tables(settings)["telemetry.fct_sessions"]
    assert len(after[after["user_id"] == late_user]) == len(before[before["user_id"] == late_user]) - 1

    # a session no event of run 2 came near (within the gap) is the same row as before
    gap = settings.telemetry.session_gap
    arrived = reading.events[reading.events["_file"].isin(run2_files)][["user_id", "event_time"]]
    near = before.merge(arrived, on="user_id")
    near = near[
        (near["event_time"] >= pd.to_datetime(near["session_start"]) - gap)
        & (near["event_time"] <= pd.to_datetime(near["session_end"]) + gap)
    ]
    touched = set(near["session_id"])
    untouched = before[~before["session_id"].isin(touched)].set_index("session_id")
    assert touched and len(untouched)
    kept = after.set_index("session_id").loc[untouched.index]
    pd.testing.assert_frame_equal(kept, untouched, check_dtype=False)
    snapshot = tables(settings)

    # a rerun with nothing new, then a full rebuild from bronze: both leave every table as it was. (These
    # two go through the same land function and `dbt build` directly: two more dag.test() runs would cost
    # ~3 minutes each on the shared machine for the same code path.)
    rerun(settings, full_refresh=False)
    for name, frame in tables(settings).items():
        pd.testing.assert_frame_equal(frame, snapshot[name], check_dtype=False, obj=name)
    rerun(settings, full_refresh=True)
    for name, frame in tables(settings).items():
        pd.testing.assert_frame_equal(frame, snapshot[name], check_dtype=False, obj=name)

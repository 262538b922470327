"""Real dag.test() runs of the mmp DAG over 14.5 simulated days: lake, run log, staging, grains and marts.

Expected numbers come from an independent pandas computation over the generator's events for the same
hourly windows (and over the game activity the reconciliation reads), not from the pipeline's SQL.
"""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from decimal import Decimal

import duckdb
import numpy as np
import pandas as pd
import pyarrow as pa
import pytest

from tests.support.data import SIM_NOW, warehouse_query

START = datetime(2026, 2, 24, tzinfo=UTC)  # a Tuesday: the range spans three ISO weeks and two months
HOUR = timedelta(hours=1)
BACKFILL = {"backfill_start": START.isoformat(), "backfill_end": (SIM_NOW - HOUR).isoformat()}
KEY = ["grain", "period_start", "partner", "platform", "country"]
TYPES = ["impression", "click", "install", "reinstall"]


def generated_events(settings, start: datetime, end: datetime) -> pd.DataFrame:
    """The generator's events of every hourly window in [start, end), as plain pandas columns."""
    from cadence.mmp.generator import generate_window

    tables, moment = [], start
    while moment < end:
        tables.append(generate_window(moment, moment + HOUR, settings))
        moment += HOUR
    table = pa.concat_tables(tables)
    frame = table.drop_columns(["cost_usd", "event_time"]).to_pandas(
        types_mapper={pa.int64(): pd.Int64Dtype()}.get
    )
    for name in ("event_type", "partner", "platform", "country"):
        frame[name] = frame[name].astype(str)
    frame["event_time"] = table.column("event_time").to_pandas().dt.tz_convert(None)
    frame["cost"] = [Decimal(str(v)) for v in table.column("cost_usd").to_pylist()]
    return frame


def period_start(times: pd.Series, grain: str) -> pd.Series:
    day = times.dt.normalize()
    if grain == "week":
        return day - pd.to_timedelta(day.dt.weekday, unit="D")  # ISO weeks start on Monday
    if grain == "month":
        return day - pd.to_timedelta(day.dt.day - 1, unit="D")
    return day


def expected_totals(events: pd.DataFrame) -> pd.DataFrame:
    """Counts and exact costs per grain, period, partner, platform and country."""
    frames = []
    for grain in ("day", "week", "month"):
        by = events.assign(grain=grain, period_start=period_start(events["event_time"], grain))
        counts = by.pivot_table(index=KEY, columns="event_type", values="event_id", aggfunc="count")
        costs = by.groupby([*KEY, "event_type"])["cost"].sum().unstack()
        frame = counts.reindex(columns=TYPES).fillna(0).astype(int).rename(columns=lambda t: f"{t}s")
        for kind in TYPES:
            frame[f"{kind}_cost_usd"] = costs.reindex(columns=TYPES)[kind].map(
                lambda v: Decimal(0) if pd.isna(v) else v
            )
        frames.append(frame.rename_axis(columns=None).reset_index())
    totals = pd.concat(frames, ignore_index=True)
    totals["total_spend_usd"] = totals[[f"{k}_cost_usd" for k in TYPES]].sum(axis=1)
    return totals.sort_values(KEY, ignore_index=True)


def mart(settings, name: str, columns: list[str], decimals: tuple[str, ...] = ()) -> pd.DataFrame:
    """A mart in key order; decimal columns read as text, so they compare exactly."""
    select = ", ".join(f"cast({c} as varchar) as {c}" if c in decimals else c for c in [*KEY, *columns])
    frame = warehouse_query(settings, f"select {select} from mmp.{name} order by {', '.join(KEY)}")
    for column in decimals:
        frame[column] = [None if v is None else Decimal(v) for v in frame[column]]
    frame["period_start"] = pd.to_datetime(frame["period_start"])
    return frame


def game_activity(settings) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Valid game purchases and spins from two days before the MMP range to SIM_NOW, straight from the
    simulator (the purchases and spins DAGs are tested on their own)."""
    from cadence.simulator import purchases, spins
    from cadence.simulator.population import build_population, hours_between

    population = build_population(settings.simulator)
    hours = hours_between(START - timedelta(days=2), SIM_NOW)
    bought = pd.concat([purchases.generate_hour(h, population, settings.simulator) for h in hours])
    played = pd.concat([spins.generate_hour(h, population, settings.simulator) for h in hours])
    bought = bought.assign(purchased_at=pd.to_datetime(bought["purchased_at"], errors="coerce", utc=True))
    played = played.assign(app_hour=pd.to_datetime(played["app_hour"], utc=True))
    bought = bought[
        bought["user_id"].notna() & bought["purchased_at"].notna() & (bought["revenue_usd"] >= 0)
    ].drop_duplicates("transaction_id")
    played = played[
        played["user_id"].notna()
        & (played["app_hour"] == played["app_hour"].dt.floor("h"))
        & (played["total_spins"] >= 0)
    ].drop_duplicates(["app_hour", "user_id"])
    return (
        bought.assign(purchased_at=bought["purchased_at"].dt.tz_convert(None))[
            ["transaction_id", "user_id", "platform", "purchased_at"]
        ],
        played.assign(app_hour=played["app_hour"].dt.tz_convert(None))[["user_id", "app_hour"]],
    )


def load_silver(settings, bought: pd.DataFrame, played: pd.DataFrame) -> None:
    """The columns of silver purchases and spins the reconciliation reads."""
    with duckdb.connect(str(settings.duckdb_path)) as connection:
        connection.execute("create schema silver")
        connection.execute("create table silver.purchases as select * from bought")
        connection.execute("create table silver.spins_hourly as select * from played")


def expected_reconciliation(events: pd.DataFrame, bought: pd.DataFrame, played: pd.DataFrame) -> pd.DataFrame:
    installs = events[events["event_type"] == "install"].assign(
        install_date=events["event_time"].dt.normalize()
    )
    mmp = installs.groupby(["install_date", "platform", "partner"]).size().rename("mmp_installs")

    first_install = installs.sort_values(["event_time", "event_id"]).drop_duplicates("user_id")
    first_purchase = bought.sort_values(["purchased_at", "platform"]).drop_duplicates("user_id")
    activity = pd.concat(
        [bought.rename(columns={"purchased_at": "seen_at"}), played.rename(columns={"app_hour": "seen_at"})]
    )
    users = activity.groupby("user_id")["seen_at"].min().dt.normalize().rename("install_date").reset_index()
    users = users.merge(first_purchase[["user_id", "platform"]], on="user_id", how="left").merge(
        first_install[["user_id", "platform", "partner"]], on="user_id", how="left", suffixes=("", "_mmp")
    )
    users["platform"] = users["platform"].fillna(users["platform_mmp"]).fillna("unknown")
    users["partner"] = users["partner"].fillna("unattributed")
    days = events["event_time"].dt.normalize()
    users = users[users["install_date"].between(days.min(), days.max())]
    seen = users.groupby(["install_date", "platform", "partner"]).size().rename("first_seen_users")

    joined = pd.concat([mmp, seen], axis=1).fillna(0).astype(int).reset_index()
    joined["difference"] = joined["mmp_installs"] - joined["first_seen_users"]
    joined["difference_pct"] = (
        100 * joined["difference"] / joined["first_seen_users"].replace(0, np.nan)
    ).round(2)
    return joined.sort_values(["install_date", "platform", "partner"], ignore_index=True)


def run_log(settings) -> list[dict]:
    folder = settings.data_dir / "lake/ops/run_log/mmp"
    return [json.loads(p.read_text()) for p in sorted(folder.rglob("*.json"))]


def assert_green(dag_run) -> None:
    states = {ti.task_id: ti.state for ti in dag_run.get_task_instances()}
    assert dag_run.state == "success", states
    assert any(task.startswith("marts.") for task in states), states


@pytest.fixture
def backfilled(mmp_env, run_dag):
    """14.5 days of MMP events landed by one backfill run, with game activity in silver beside them."""
    bought, played = game_activity(mmp_env)
    load_silver(mmp_env, bought, played)
    assert_green(run_dag("mmp", SIM_NOW, conf=BACKFILL))
    return mmp_env, bought, played


def test_backfill_lands_every_window_and_the_marts_match_pandas(backfilled, run_dag):
    settings, bought, played = backfilled
    end = SIM_NOW - HOUR
    events = generated_events(settings, START, end)
    assert len(events) > 30_000 and (events["event_type"] == "reinstall").any()

    records = run_log(settings)
    assert len(records) == (end - START) // HOUR  # one record per hourly window
    assert all(r["status"] == "success" for r in records)
    assert all(r["rows_extracted"] == r["rows_valid"] + r["rows_quarantined"] for r in records)
    assert sum(r["rows_landed"] for r in records) == len(events)
    files = sorted((settings.data_dir / "lake/mmp/events").rglob("*.jsonl"))
    assert len(files) == len(records)
    assert files[0].name == "mmp_events_20260224T0000_20260224T0100.jsonl"
    assert warehouse_query(settings, "select count(*) as n from mmp.stg_mmp_events")["n"][0] == len(events)

    totals = expected_totals(events)
    installs = mart(settings, "mmp_installs", ["installs", "reinstalls", "conversions"])
    pd.testing.assert_frame_equal(
        installs,
        totals[[*KEY, "installs", "reinstalls"]].assign(
            conversions=totals["installs"] + totals["reinstalls"]
        ),
        check_dtype=False,
    )

    ctr = mart(settings, "mmp_ctr", ["impressions", "clicks", "ctr", "ctr_pct"])
    assert (ctr[["impressions", "clicks"]].to_numpy() == totals[["impressions", "clicks"]].to_numpy()).all()
    expected_ctr = totals["clicks"] / totals["impressions"].replace(0, np.nan)
    np.testing.assert_allclose(ctr["ctr"], expected_ctr, rtol=1e-12)
    np.testing.assert_allclose(ctr["ctr_pct"], 100 * expected_ctr, atol=0.005 + 1e-9)  # 2 places
    months = ctr[ctr["grain"] == "month"]
    assert 0.02 <= months["clicks"].sum() / months["impressions"].sum() <= 0.05  # the configured range

    costs = [f"{k}_cost_usd" for k in TYPES] + ["total_spend_usd"]
    cpis = ["direct_cpi_usd", "blended_cpi_usd"]
    cpi = mart(settings, "mmp_cpi", ["installs", *costs, *cpis], decimals=(*costs, *cpis))
    pd.testing.assert_frame_equal(  # exact to the micro-dollar
        cpi[[*KEY, "installs", *costs]], totals[[*KEY, "installs", *costs]], check_dtype=False
    )
    for column, numerator in zip(cpis, ["install_cost_usd", "total_spend_usd"], strict=True):
        expected_cpi = totals[numerator].astype(float) / totals["installs"].replace(0, np.nan)
        np.testing.assert_allclose(cpi[column].astype(float), expected_cpi, atol=1e-6)  # rounded to 6 places
    with_installs = cpi[cpi["installs"] > 0]
    assert len(with_installs) > 100
    assert (with_installs["blended_cpi_usd"] > with_installs["direct_cpi_usd"]).all()

    daily = totals[totals["grain"] == "day"]
    assert daily["period_start"].nunique() == 15 and set(totals["grain"]) == {"day", "week", "month"}
    assert set(totals.loc[totals["grain"] == "week", "period_start"].dt.weekday) == {0}

    reconciliation = warehouse_query(
        settings, "select * from mmp.mmp_install_reconciliation order by install_date, platform, partner"
    )
    expected = expected_reconciliation(events, bought, played)
    pd.testing.assert_frame_equal(reconciliation, expected, check_dtype=False, check_exact=False, atol=0.01)
    assert ((expected["mmp_installs"] > 0) & (expected["first_seen_users"] > 0)).any()
    assert (expected["partner"] == "unattributed").any()


def test_a_scheduled_hour_recomputes_only_the_periods_it_touched(mmp_env, run_dag):
    settings, first = mmp_env, datetime(2026, 3, 8, tzinfo=UTC)  # a Sunday, in the week of 2 March
    backfill = {"backfill_start": first.isoformat(), "backfill_end": (SIM_NOW - HOUR).isoformat()}
    assert_green(run_dag("mmp", SIM_NOW, conf=backfill))
    before = warehouse_query(settings, "select * from mmp.mmp_period_totals")
    assert (before["computed_window_end"] == pd.Timestamp(SIM_NOW - HOUR).tz_convert(None)).all()

    assert_green(run_dag("mmp", SIM_NOW))  # the data interval [11:00, 12:00) of 10 March
    (record,) = [r for r in run_log(settings) if r["window_end"] == SIM_NOW.isoformat()]
    assert record["window_start"] == (SIM_NOW - HOUR).isoformat() and record["rows_landed"] > 0

    after = warehouse_query(settings, "select * from mmp.mmp_period_totals")
    recomputed = after[after["computed_window_end"] == pd.Timestamp(SIM_NOW).tz_convert(None)]
    periods = set(zip(recomputed["grain"], recomputed["period_start"].astype(str), strict=True))
    assert periods == {("day", "2026-03-10"), ("week", "2026-03-09"), ("month", "2026-03-01")}
    touched = before.set_index(["grain", "period_start"]).index.isin(
        recomputed.set_index(["grain", "period_start"]).index
    )
    assert (~touched).sum() > 0  # days 8 and 9 March and the week of 2 March kept their rows as they were
    pd.testing.assert_frame_equal(
        after.drop(recomputed.index).sort_values(KEY, ignore_index=True),
        before[~touched].sort_values(KEY, ignore_index=True),
    )

    totals = expected_totals(generated_events(settings, first, SIM_NOW))
    cpi = mart(settings, "mmp_cpi", ["installs", "total_spend_usd"], decimals=("total_spend_usd",))
    pd.testing.assert_frame_equal(cpi, totals[[*KEY, "installs", "total_spend_usd"]], check_dtype=False)

    # No spins or purchases were ever built here: the game side of the reconciliation is empty, not an error.
    reconciliation = warehouse_query(settings, "select * from mmp.mmp_install_reconciliation")
    assert reconciliation["mmp_installs"].sum() > 0 and (reconciliation["first_seen_users"] == 0).all()


def test_invalid_events_are_quarantined_and_the_counts_add_up(mmp_env, monkeypatch):
    from cadence.lake import Window
    from cadence.mmp import generator, pipeline

    window = Window(START, START + HOUR)
    clean = generator.generate_window(window.start, window.end, mmp_env)
    broken = pipeline.decoded(clean).to_pandas(types_mapper={pa.int64(): pd.Int64Dtype()}.get)
    click = broken.index[broken["event_type"] == "click"][0]
    broken.loc[click, "impression_id"] = None
    broken.loc[0, "cost_usd"] = Decimal("-0.01")
    broken.loc[1, "partner"] = "nobody"
    broken.loc[2, "event_time"] = pd.Timestamp(window.end)
    table = pa.Table.from_pandas(broken, schema=pipeline.decoded(clean).schema, preserve_index=False)
    monkeypatch.setattr(generator, "generate_window", lambda *args, **kwargs: table)

    (record,) = pipeline.land_windows(mmp_env, [window], run_id="test")
    assert (record.rows_extracted, record.rows_quarantined, record.rows_landed) == (
        len(clean),
        4,
        len(clean) - 4,
    )
    assert record.rule_failures == {
        "click without impression_id": 1,
        "cost_usd is negative": 1,
        "partner not allowed": 1,
        "event_time after its window": 1,
    }
    quarantine = pd.read_parquet(next((mmp_env.data_dir / "lake/quarantine/mmp_events").rglob("*.parquet")))
    assert sorted(quarantine["event_id"].astype(int)) == sorted(broken.loc[[0, 1, 2, click], "event_id"])
    landed = pd.read_json(next((mmp_env.data_dir / "lake/mmp/events").rglob("*.jsonl")), lines=True)
    assert len(landed) == len(clean) - 4 and not set(landed["event_id"]) & set(
        quarantine["event_id"].astype(int)
    )
    logged = run_log(mmp_env)
    assert len(logged) == 1 and logged[0]["rows_quarantined"] == 4 and logged[0]["status"] == "success"

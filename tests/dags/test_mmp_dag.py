"""Real dag.test() runs of the mmp DAG over 14.5 simulated days: lake, run log, staging, grains and marts.

Expected numbers come from an independent pandas computation over the generator's events for the same
hourly windows (and, per user, over the game activity the reconciliation reads), not from the pipeline's SQL.
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
from tests.support.mmp import RECONCILIATION_KEY, expected_reconciliation, game_activity

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


def load_silver(settings, bought: pd.DataFrame, played: pd.DataFrame) -> None:
    """The columns of silver purchases and spins the reconciliation reads."""
    with duckdb.connect(str(settings.duckdb_path)) as connection:
        connection.execute("create schema silver")
        connection.execute("create table silver.purchases as select * from bought")
        connection.execute("create table silver.spins_hourly as select * from played")


def run_log(settings) -> list[dict]:
    folder = settings.data_dir / "lake/ops/run_log/mmp"
    return [json.loads(p.read_text()) for p in sorted(folder.rglob("*.json"))]


def assert_green(dag_run) -> None:
    states = {ti.task_id: ti.state for ti in dag_run.get_task_instances()}
    assert dag_run.state == "success", states
    assert any(task.startswith("marts.") for task in states), states


def reconciliation_marts(settings) -> tuple[pd.DataFrame, pd.DataFrame]:
    per_row = warehouse_query(
        settings, f"select * from mmp.mmp_install_reconciliation order by {', '.join(RECONCILIATION_KEY)}"
    )
    daily = warehouse_query(
        settings, "select * from mmp.mmp_install_reconciliation_daily order by install_date"
    )
    return per_row, daily


def assert_reconciliation(settings, events: pd.DataFrame, bought: pd.DataFrame, played: pd.DataFrame):
    """Both reconciliation marts equal the per-user pandas computation; returns the expected frames."""
    expected_rows, expected_daily = expected_reconciliation(events, bought, played)
    per_row, daily = reconciliation_marts(settings)
    pd.testing.assert_frame_equal(per_row, expected_rows, check_dtype=False, check_exact=False, atol=0.01)
    pd.testing.assert_frame_equal(daily, expected_daily, check_dtype=False)
    return expected_rows, expected_daily


@pytest.fixture
def backfilled(mmp_env, run_dag):
    """14.5 days of MMP events landed by one backfill run, with game activity in silver beside them: the
    game's whole history since launch, as first-seen needs."""
    launch = datetime.combine(mmp_env.simulator.population_start, datetime.min.time(), UTC)
    bought, played = game_activity(mmp_env, launch, SIM_NOW)
    load_silver(mmp_env, bought, played)
    assert_green(run_dag("mmp", SIM_NOW, conf=BACKFILL))
    return mmp_env, bought, played


def test_backfill_lands_every_window_and_the_marts_match_pandas(backfilled, run_dag):
    settings, bought, played = backfilled
    end = SIM_NOW - HOUR
    events = generated_events(settings, START, end)
    assert len(events) > 20_000 and (events["event_type"] == "reinstall").any()  # paid: 60% of installs

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
    with_installs = cpi[(cpi["installs"] > 0) & (cpi["partner"] != "organic")]
    assert len(with_installs) > 100
    assert (with_installs["blended_cpi_usd"] > with_installs["direct_cpi_usd"]).all()
    organic = cpi[(cpi["partner"] == "organic") & (cpi["installs"] > 0)]  # organic installs cost nothing
    assert (
        len(organic) > 10
        and (organic["blended_cpi_usd"] == 0).all()
        and (organic["direct_cpi_usd"] == 0).all()
    )

    daily = totals[totals["grain"] == "day"]
    assert daily["period_start"].nunique() == 15 and set(totals["grain"]) == {"day", "week", "month"}
    assert set(totals.loc[totals["grain"] == "week", "period_start"].dt.weekday) == {0}

    per_row, daily = assert_reconciliation(settings, events, bought, played)
    assert len(daily) == 15 and daily["within_tolerance"].all()  # first-seen = attributed + organic
    assert (daily["attributed_installs"] > 0).all() and (daily["organic_installs"] > 0).all()
    assert daily["matched_users"].sum() >= 0.95 * daily["mmp_installs"].sum()
    assert set(per_row["partner"]) >= {*settings.mmp.partner_weights, "organic"}
    assert daily["installs_first_seen_earlier"].sum() == daily["first_seen_installed_later"].sum() == 0


def test_the_reconciliation_follows_corrections_and_a_full_refresh(backfilled, run_dag):
    """Game corrections move first-seen days; the next run and a full refresh both show, and explain, them."""
    settings, bought, played = backfilled
    installs = generated_events(settings, START, SIM_NOW - HOUR).query("event_type == 'install'")
    installed = installs.set_index("user_id")["event_time"]
    # 1. A player's first spins row is withdrawn (a late correction): first seen at their next activity, a
    #    later day (their only activity on the install day was that row).
    activity = pd.concat(
        [played.rename(columns={"app_hour": "seen_at"}), bought.rename(columns={"purchased_at": "seen_at"})]
    )[["user_id", "seen_at"]].merge(installed.rename("installed_at"), left_on="user_id", right_index=True)
    on_install_day = activity["seen_at"].dt.normalize() == activity["installed_at"].dt.normalize()
    counts = (
        activity.assign(same=on_install_day, later=~on_install_day)
        .groupby("user_id")[["same", "later"]]
        .sum()
    )
    candidates = counts[(counts["same"] == 1) & (counts["later"] > 0)].index
    spun = played[played["user_id"].isin(candidates)].merge(installed.rename("installed_at"), on="user_id")
    withdrawn = spun[spun["app_hour"].dt.normalize() == spun["installed_at"].dt.normalize()].iloc[0]
    # 2. A purchase's user_id is corrected to a player who installs two days later: seen before installing.
    late_installer = installed[installed > installed.min() + pd.Timedelta(days=3)].index[0]
    purchase_day = installed[late_installer].normalize() - pd.Timedelta(days=2)
    moved = bought[bought["purchased_at"].dt.normalize() == purchase_day].iloc[0]
    with duckdb.connect(str(settings.duckdb_path)) as connection:
        connection.execute(
            "delete from silver.spins_hourly where user_id = ? and app_hour = ?",
            [withdrawn["user_id"], withdrawn["app_hour"]],
        )
        connection.execute(
            "update silver.purchases set user_id = ? where transaction_id = ?",
            [late_installer, moved["transaction_id"]],
        )
    played = played[
        ~((played["user_id"] == withdrawn["user_id"]) & (played["app_hour"] == withdrawn["app_hour"]))
    ]
    bought = bought.assign(
        user_id=bought["user_id"].where(bought["transaction_id"] != moved["transaction_id"], late_installer)
    )

    assert_green(run_dag("mmp", SIM_NOW))  # the next scheduled hour
    events = generated_events(settings, START, SIM_NOW)
    _, daily = assert_reconciliation(settings, events, bought, played)
    by_day = daily.set_index("install_date")
    assert by_day.loc[withdrawn["installed_at"].normalize(), "installs_first_seen_later"] >= 1
    assert "first seen on a later day" in by_day.loc[withdrawn["installed_at"].normalize(), "discrepancy"]
    assert by_day.loc[installed[late_installer].normalize(), "installs_first_seen_earlier"] == 1
    assert by_day.loc[purchase_day, "first_seen_installed_later"] == 1
    assert "MMP install on a later day" in by_day.loc[purchase_day, "discrepancy"]

    assert_green(run_dag("mmp", SIM_NOW, conf={"is_full_refresh": True}))
    assert_reconciliation(settings, events, bought, played)
    totals = expected_totals(events)
    installs_mart = mart(settings, "mmp_installs", ["installs", "reinstalls"])
    pd.testing.assert_frame_equal(installs_mart, totals[[*KEY, "installs", "reinstalls"]], check_dtype=False)


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
    reconciliation, daily = reconciliation_marts(settings)
    assert reconciliation["mmp_installs"].sum() > 0 and (reconciliation["first_seen_users"] == 0).all()
    assert (reconciliation["installs_not_seen"] == reconciliation["mmp_installs"]).all()
    assert (daily["discrepancy"].str.contains("not seen in the game data yet")).all()


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

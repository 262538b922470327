"""dag.test() runs of the spins cadence and gold, against independent pandas computations."""

from __future__ import annotations

from datetime import timedelta
from decimal import Decimal

import pandas as pd
import pytest

from tests.support import dags, expected
from tests.support.dags import assert_green
from tests.support.data import SIM_NOW, gold_records, seed_source, source_frame, warehouse_query

TWO_DAYS = {
    "backfill_start": (SIM_NOW - timedelta(days=2)).isoformat(),
    "backfill_end": SIM_NOW.isoformat(),
}
GOLD_COLUMNS = [
    "app_hour", "user_id", "country",
    "total_spins_hourly", "total_coins_bet_hourly", "total_coins_won_hourly", "total_purchases_hourly",
    "total_revenue_hourly", "avg_revenue_per_purchase_hourly", "total_revenue_per_user_daily",
]  # fmt: skip
DECIMALS = ["total_revenue_hourly", "avg_revenue_per_purchase_hourly", "total_revenue_per_user_daily"]


def gold(settings) -> pd.DataFrame:
    columns = ", ".join(f"cast({c} as varchar) as {c}" if c in DECIMALS else c for c in GOLD_COLUMNS)
    frame = warehouse_query(
        settings, f"select {columns} from gold.aggregated_final_table order by app_hour, user_id, country"
    )
    for column in DECIMALS:
        frame[column] = _decimals(frame[column])
    frame["app_hour"] = frame["app_hour"].astype("datetime64[us]")
    return frame


def _decimals(values: pd.Series) -> pd.Series:
    """Exact amounts for comparison; NULL stays None whichever way the frame spelled it."""
    return pd.Series([None if pd.isna(v) else Decimal(v).normalize() for v in values], dtype=object)


def pandas_gold(settings) -> pd.DataFrame:
    frame = expected.gold_hourly(source_frame(settings), source_frame(settings, "spins_hourly"))[GOLD_COLUMNS]
    for column in DECIMALS:
        frame[column] = _decimals(frame[column])
    frame["app_hour"] = frame["app_hour"].astype("datetime64[us]")
    return frame


def snapshot(settings) -> dict[str, pd.DataFrame]:
    tables = [
        "silver.purchases",
        "silver.spins_hourly",
        "gold.aggregated_final_table",
        "gold.aggregated_daily_table",
    ]
    return {t: warehouse_query(settings, f"select * from {t} order by all") for t in tables}


@pytest.fixture(scope="module")
def two_days(module_cadence_env):
    """Two simulated days of both streams, landed and modelled by one backfill run of each cadence (once
    for the module; the rerun test leaves the tables identical)."""
    seed_source(days=2, streams=("purchases", "spins_hourly"))
    assert_green(dags.run_dag("purchases", SIM_NOW, conf=TWO_DAYS))
    states = assert_green(dags.run_dag("spins", SIM_NOW, conf=TWO_DAYS))
    assert states["catch_up_purchases"] == "skipped"  # purchases are fresh: gold does not wait
    return module_cadence_env


def test_gold_equals_pandas_to_the_cent_over_two_days(two_days):
    actual, wanted = gold(two_days), pandas_gold(two_days)
    assert len(actual) > 2000
    assert (actual["total_spins_hourly"] == 0).any(), "hours with purchases and no spins must have rows"
    pd.testing.assert_frame_equal(actual, wanted, check_dtype=False)
    daily = warehouse_query(
        two_days,
        "select cast(sum(total_revenue_daily) as varchar) as revenue, sum(total_spins_daily) as spins "
        "from gold.aggregated_daily_table",
    )
    assert Decimal(daily["revenue"][0]) == sum(wanted["total_revenue_hourly"], Decimal(0))
    assert daily["spins"][0] == pytest.approx(wanted["total_spins_hourly"].sum())
    (record,) = [r for r in gold_records(two_days) if r["window_end"] == SIM_NOW.isoformat()]
    assert record["built_on_stale_purchases"] is False


def test_running_again_leaves_identical_tables(two_days, run_dag):
    before = snapshot(two_days)
    assert_green(run_dag("spins", SIM_NOW, conf=TWO_DAYS))  # the whole two days again
    assert_green(run_dag("spins", SIM_NOW))  # and the last hourly window
    after = snapshot(two_days)
    for table, frame in before.items():
        pd.testing.assert_frame_equal(after[table], frame, obj=table)


def test_incremental_runs_equal_a_full_rebuild(cadence_env, run_dag):
    """Late rows, corrections and refunds land in later runs; the user-days they touch are recomputed."""
    seed_source(days=2, streams=("purchases", "spins_hourly"))
    start = SIM_NOW - timedelta(days=2)
    for part in range(2):  # two consecutive day-long runs of each cadence
        conf = {"backfill_start": (start + timedelta(days=part)).isoformat(),
                "backfill_end": (start + timedelta(days=part + 1)).isoformat()}  # fmt: skip
        assert_green(run_dag("purchases", SIM_NOW, conf=conf))
        assert_green(run_dag("spins", SIM_NOW, conf=conf))
    incremental = snapshot(cadence_env)
    pd.testing.assert_frame_equal(gold(cadence_env), pandas_gold(cadence_env), check_dtype=False)

    assert_green(run_dag("spins", SIM_NOW, conf={"is_full_refresh": True}))
    rebuilt = snapshot(cadence_env)
    for table in ("gold.aggregated_final_table", "gold.aggregated_daily_table"):
        pd.testing.assert_frame_equal(rebuilt[table], incremental[table], obj=table)


def test_purchases_triggers_spins_with_a_catch_up_range_when_spins_are_stale(cadence_env, run_dag):
    from airflow.models import DagRun
    from airflow.utils.session import create_session

    seed_source(days=1, streams=("purchases", "spins_hourly"))
    states = assert_green(run_dag("purchases", SIM_NOW))
    assert states["trigger_spins"] == "success"
    with create_session() as session:
        (triggered,) = session.query(DagRun).filter(DagRun.dag_id == "spins").all()
        conf = dict(triggered.conf)
    assert conf["triggered_by"] == "purchases" and "never landed" in conf["trigger_reason"]
    assert conf["backfill_end"] == SIM_NOW.isoformat()  # up to the purchases window end, on the hour


def _quiet_spins_feed(settings) -> list:
    """Both streams for a day up to 3 h before SIM_NOW, then the spins feed goes quiet while purchases go
    on; spins windows keep landing for the last 6 hours (the last 3 empty)."""
    from cadence.ingest import ingest
    from cadence.lake import Window
    from cadence.simulator import cli
    from cadence.sources import get_spec

    seed_source(days=1, until=SIM_NOW - timedelta(hours=3), streams=("purchases", "spins_hourly"))
    assert cli.main(["pause", "spins_hourly"]) == 0
    assert cli.main(["tick", "--until", SIM_NOW.isoformat()]) == 0
    spec, window = get_spec("spins_hourly", settings), Window(SIM_NOW - timedelta(hours=6), SIM_NOW)
    return ingest(settings, spec, window, lookback=timedelta(0), chunk=timedelta(hours=1))


def test_spins_go_stale_when_their_feed_goes_quiet_though_windows_keep_landing(cadence_env):
    from cadence import freshness

    records = _quiet_spins_feed(cadence_env)
    assert [r.rows_landed > 0 for r in records] == [True, True, True, False, False, False]

    limit = cadence_env.spins.freshness_limit
    now = freshness.check(cadence_env, "spins_hourly", SIM_NOW, limit)
    assert now.latest_window_end == SIM_NOW  # landing is up to date…
    assert now.is_stale and now.latest_change is None  # …but no spins row changed in the last 2 hours
    assert "no row changed in the 2:00:00 before 2026-03-10 12:00 UTC" in now.describe()
    conf = freshness.catch_up_conf("purchases", now, SIM_NOW, cadence_env.max_backfill, hourly=True)
    assert (conf["backfill_start"], conf["backfill_end"]) == (
        (SIM_NOW - limit).isoformat(),
        SIM_NOW.isoformat(),
    )

    earlier = freshness.check(cadence_env, "spins_hourly", SIM_NOW - timedelta(hours=2), limit)
    assert not earlier.is_stale  # a replay of an earlier moment is judged on its own period
    spins = source_frame(cadence_env, "spins_hourly")
    newest = pd.to_datetime(spins["updated_at"], utc=True).max()  # every row was valid or quarantined
    assert earlier.latest_change <= newest and earlier.lag < limit


def test_a_quiet_spins_feed_makes_purchases_trigger_spins_once_an_hour(cadence_env, run_dag):
    from airflow.models import DagRun
    from airflow.utils.session import create_session

    def spins_runs():
        with create_session() as session:
            runs = session.query(DagRun).filter(DagRun.dag_id == "spins").all()
            return [(run.run_id, run.state, dict(run.conf)) for run in runs]

    def decided_trigger(dag_run):
        """What check_spins_freshness handed to trigger_spins (None: it short-circuited)."""
        from airflow.models.xcom import XComModel

        with create_session() as session:
            row = (
                session.query(XComModel)
                .filter_by(
                    dag_id="purchases",
                    run_id=dag_run.run_id,
                    task_id="check_spins_freshness",
                    key="return_value",
                )
                .one_or_none()
            )
            return None if row is None else XComModel.deserialize_value(row)

    _quiet_spins_feed(cadence_env)
    assert assert_green(run_dag("purchases", SIM_NOW))["trigger_spins"] == "success"
    ((run_id, state, conf),) = spins_runs()
    assert run_id == f"purchases_catch_up__{SIM_NOW.isoformat()}" and state == "queued"
    assert conf["triggered_by"] == "purchases" and "no row changed" in conf["trigger_reason"]
    assert conf["backfill_start"] == (SIM_NOW - timedelta(hours=2)).isoformat()

    # Five minutes later the triggered run is still queued: purchases leaves spins alone.
    later = SIM_NOW + timedelta(minutes=5)
    dag_run = run_dag("purchases", later, keep_other_runs=True)
    assert assert_green(dag_run)["trigger_spins"] == "skipped" and decided_trigger(dag_run) is None
    assert len(spins_runs()) == 1

    # Once it has run (still nothing to land), the next purchases run in the same hour does not trigger again.
    with create_session() as session:
        session.query(DagRun).filter(DagRun.dag_id == "spins").update({"state": "success"})
    dag_run = run_dag("purchases", later + timedelta(minutes=5), keep_other_runs=True)
    assert assert_green(dag_run)["trigger_spins"] == "skipped"  # the hour's run id exists already
    assert decided_trigger(dag_run)["run_id"] == run_id
    assert [state for _, state, _ in spins_runs()] == ["success"]


def test_a_triggered_run_never_triggers_back(cadence_env, run_dag):
    seed_source(days=1, streams=("purchases", "spins_hourly"))
    conf = {"triggered_by": "purchases", "trigger_reason": "test"}
    states = assert_green(run_dag("spins", SIM_NOW, conf=conf))  # purchases never landed: stale…
    assert states["catch_up_purchases"] == "skipped" and states["build_gold"] == "success"  # …no trigger back
    (record,) = gold_records(cadence_env)
    assert record["built_on_stale_purchases"] is True  # and gold says what it was built on

    conf = {"triggered_by": "spins", "trigger_reason": "test"}
    a_day_later = SIM_NOW + timedelta(days=1)  # spins landed up to SIM_NOW: a day stale by then…
    states = assert_green(run_dag("purchases", a_day_later, conf=conf))
    assert (
        states["check_spins_freshness"] == "success" and states["trigger_spins"] == "skipped"
    )  # …no trigger


def test_gold_is_built_and_flagged_when_purchases_are_still_stale_after_the_catch_up(cadence_env, run_dag):
    """dag.test() runs deferred waits inline with no timeout and no scheduler runs the triggered purchases,
    so the catch-up is marked done without running: purchases are still stale when gold is built. (The
    wait timing out under a real scheduler is covered in test_scheduler.py.)"""
    seed_source(days=1, streams=("purchases", "spins_hourly"))
    dag_run = run_dag("spins", SIM_NOW, mark_success="catch_up_purchases")
    states = assert_green(dag_run)
    assert states["check_purchases_freshness"] == "success" and states["catch_up_purchases"] == "success"
    (record,) = gold_records(cadence_env)
    assert record["built_on_stale_purchases"] is True and "never landed" in record["note"]
    assert len(warehouse_query(cadence_env, "select * from gold.aggregated_final_table")) > 0

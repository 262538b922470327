"""Real dag.test() runs of the purchases DAG against a temporary Airflow home, lake, source and DuckDB.

Expected numbers come from an independent pandas reading of the source database, not from the pipeline.
"""

from __future__ import annotations

import sqlite3
from datetime import timedelta
from decimal import Decimal

import pandas as pd
import pytest

from tests.support import dags
from tests.support.dags import assert_green
from tests.support.data import SIM_NOW, run_log, seed_source, silver, source_frame, warehouse_query
from tests.support.expected import expected_reasons, expected_silver

BACKFILL = {"backfill_start": (SIM_NOW - timedelta(days=2)).isoformat(), "backfill_end": SIM_NOW.isoformat()}


def lake_files(settings) -> dict[str, bytes]:
    root = settings.data_dir / "lake"
    return {str(p.relative_to(root)): p.read_bytes() for p in sorted(root.rglob("*.parquet"))}


@pytest.fixture(scope="module")
def backfilled(module_cadence_env):
    """Two simulated days landed by one backfill run through bronze and silver (once for the module; the
    full-refresh test, last, rebuilds the same silver)."""
    seed_source(days=2)
    assert_green(dags.run_dag("purchases", SIM_NOW, conf=BACKFILL))
    return module_cadence_env


def test_backfill_matches_an_independent_pandas_computation(backfilled):
    settings = backfilled
    source = source_frame(settings)
    reasons = expected_reasons(source)

    records = run_log(settings, "purchases")
    assert len(records) == 48 and all(r["status"] == "success" for r in records)  # 2 days in hourly chunks
    assert sum(r["rows_extracted"] for r in records) == len(source)
    assert sum(r["rows_quarantined"] for r in records) == (reasons != "").sum()
    assert sum(r["rows_landed"] for r in records) == (reasons == "").sum()
    for r in records:
        assert r["rows_extracted"] == r["rows_valid"] + r["rows_quarantined"]
        assert r["rows_landed"] == r["rows_valid"]

    actual, expected = silver(settings), expected_silver(source)
    assert len(actual) > 1000
    pd.testing.assert_frame_equal(actual, expected, check_dtype=False)
    net = warehouse_query(
        settings, "select cast(sum(net_revenue_usd) as varchar) as net from silver.purchases"
    )
    completed = expected[expected["status"] == "completed"]["revenue_usd"].sum()
    assert Decimal(net["net"][0]) == completed


def test_malformed_rows_are_quarantined_with_their_reasons(backfilled):
    settings = backfilled
    quarantine = pd.concat(
        pd.read_parquet(p) for p in (settings.data_dir / "lake/quarantine/purchases").rglob("*.parquet")
    )
    reasons = quarantine["_reject_reason"]
    assert reasons.str.len().gt(0).all()
    assert (quarantine["user_id"].isna() == reasons.str.contains("user_id is null")).all()
    assert (quarantine["country"].eq("XX") == reasons.str.contains("country not allowed")).all()
    assert (
        reasons.str.contains("revenue_usd outside").sum()
        == quarantine["revenue_usd"].astype(float).lt(0).sum()
    )
    assert (
        reasons.str.contains("purchased_at is not a").sum()
        == quarantine["purchased_at"].eq("not-a-timestamp").sum()
    )
    assert reasons.str.contains("duplicate delivery").sum() > 0
    expected = expected_reasons(source_frame(settings))
    for kind, reason in [("null user", "user_id is null"), ("duplicate", "duplicate delivery")]:
        assert expected.str.contains(kind).sum() == reasons.str.contains(reason).sum(), kind


def test_rerunning_a_window_leaves_identical_files_and_tables(cadence_env, run_dag):
    """The first run is also the scheduled window of :func:`assert_scheduled_window_and_lookback`."""
    seed_source(days=1)
    assert_green(run_dag("purchases", SIM_NOW))
    assert_scheduled_window_and_lookback(cadence_env)
    files, table, log = lake_files(cadence_env), silver(cadence_env), run_log(cadence_env, "purchases")
    assert files and len(table) > 0
    assert_green(run_dag("purchases", SIM_NOW))
    assert lake_files(cadence_env) == files
    pd.testing.assert_frame_equal(silver(cadence_env), table)
    strip = ("run_id", "started_at", "duration_s")
    assert [{k: v for k, v in r.items() if k not in strip} for r in run_log(cadence_env, "purchases")] == [
        {k: v for k, v in r.items() if k not in strip} for r in log
    ]


def assert_scheduled_window_and_lookback(cadence_env):
    """A scheduled window extracts its interval plus the lookback."""
    (record,) = run_log(cadence_env, "purchases")
    start, end = pd.Timestamp(record["window_start"]), pd.Timestamp(record["window_end"])
    assert end - start == timedelta(minutes=5)
    assert pd.Timestamp(record["extract_start"]) == start - timedelta(minutes=10)
    source = source_frame(cadence_env)
    changed = pd.to_datetime(source["updated_at"], utc=True)
    assert record["rows_extracted"] == ((changed >= start - timedelta(minutes=10)) & (changed < end)).sum()


def test_a_refund_of_a_week_old_purchase_reaches_silver_in_the_window_it_arrives(cadence_env, run_dag):
    seed_source(days=8)
    old_day = {
        "backfill_start": (SIM_NOW - timedelta(days=8)).isoformat(),
        "backfill_end": (SIM_NOW - timedelta(days=7)).isoformat(),
    }
    assert_green(run_dag("purchases", SIM_NOW, conf=old_day))
    before = warehouse_query(
        cadence_env,
        "select * from silver.purchases where status = 'completed' order by transaction_id limit 1",
    ).iloc[0]
    assert before["purchased_at"] < (SIM_NOW - timedelta(days=7)).replace(tzinfo=None)

    refunded_at = (SIM_NOW - timedelta(minutes=2)).strftime("%Y-%m-%dT%H:%M:%SZ")
    with sqlite3.connect(cadence_env.source_db_path) as connection:  # the backend refunds it now
        connection.execute(
            "update purchases set status = 'refunded', updated_at = ? where transaction_id = ?",
            (refunded_at, before["transaction_id"]),
        )
    dag_run = run_dag("purchases", SIM_NOW)
    assert_green(dag_run)
    after = warehouse_query(
        cadence_env, f"select * from silver.purchases where transaction_id = '{before['transaction_id']}'"
    ).iloc[0]
    assert after["status"] == "refunded" and after["net_revenue_usd"] == 0
    assert after["purchase_hour"] == before["purchase_hour"]  # the old hour is the one it changes
    assert after["landed_window_end"] == SIM_NOW.replace(tzinfo=None)


def test_full_refresh_rebuilds_silver_from_the_lake(backfilled, run_dag):
    """Rows deleted behind dbt's back come back: the rebuild reads the whole lake."""
    settings = backfilled
    import duckdb

    with duckdb.connect(str(settings.duckdb_path)) as connection:
        connection.execute("delete from silver.purchases where purchase_hour < '2026-03-09'")
    assert_green(run_dag("purchases", SIM_NOW, conf={"is_full_refresh": True}))
    pd.testing.assert_frame_equal(
        silver(settings), expected_silver(source_frame(settings)), check_dtype=False
    )


def test_a_bad_trigger_conf_is_refused_and_changes_nothing(cadence_env, run_dag):
    seed_source(days=1)
    bad = {"backfill_start": "2026-03-09T00:00:00Z", "backfill_end": "2026-03-08T00:00:00Z"}
    dag_run = run_dag("purchases", SIM_NOW, conf=bad)
    states = {ti.task_id: ti.state for ti in dag_run.get_task_instances()}
    assert dag_run.state == "failed" and states["land"] == "failed"
    assert all(state == "upstream_failed" for task, state in states.items() if task != "land")
    assert not (cadence_env.data_dir / "lake").exists() or not lake_files(cadence_env)
    assert not cadence_env.duckdb_path.exists()


def test_a_normal_run_yields_to_the_first_run_backfill_and_changes_nothing(cadence_env, run_dag):
    """While `make up`'s first run backfills the history, a purchases run of its own skips everything
    after land, whatever their trigger rules: the next run after the backfill catches up."""
    seed_source(days=1)
    with dags.active_run("first_run"):
        dag_run = run_dag("purchases", SIM_NOW, keep_other_runs=True)
        states = dags.task_states(dag_run)
        assert dag_run.state == "success" and states.pop("land") == "success", states
        assert set(states.values()) == {"skipped"}, states
        assert not (cadence_env.data_dir / "lake").exists() or not lake_files(cadence_env)
        assert not cadence_env.duckdb_path.exists()
    # A first_run that is only queued (its DAG paused, say) holds nothing back (the backfill itself and any
    # other backfill never yield: the unit tier).
    with dags.active_run("first_run", state="queued"):
        assert_green(run_dag("purchases", SIM_NOW, keep_other_runs=True))
        assert lake_files(cadence_env)


def test_a_conf_of_the_wrong_type_is_refused_before_the_run_starts(cadence_env, load_dag):
    from airflow.sdk.definitions.param import ParamValidationError

    with pytest.raises(ParamValidationError, match="is_full_refresh"):
        load_dag("purchases").test(logical_date=SIM_NOW, run_conf={"is_full_refresh": "yes please"})

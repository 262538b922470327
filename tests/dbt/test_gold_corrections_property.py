"""Property test: gold equals an independent pandas computation after every window of a random history.

Seeded random sequences of inserts, late arrivals, duplicate deliveries, refunds and corrections (a
purchase's country, user, hour, day or amount; a spins row's values, fractional ones included) are written to
the source database over several simulated days. After each step the step's window is landed by the real
ingest code (extract → Great Expectations → bronze) and dbt builds silver and gold for that window; gold
hourly and daily must then equal what pandas computes from the source (tests/expected.py, written from the
documented rules). Then a full refresh must give the same tables, and a rerun of the last window must
change nothing.

It runs dbt directly (dbtRunner, one `dbt build` of silver and gold per window) instead of dag.test() per
step: that is the same ingest code and the same dbt models and tests that the DAGs' Cosmos tasks run, with
the window passed the way Cosmos passes it (DBT_WINDOW_START / DBT_WINDOW_END in the environment), at a
fraction of the cost; the DAG wiring itself is covered by the spins/purchases DAG tests.
"""

from __future__ import annotations

from decimal import Decimal

import pandas as pd
import pytest

from tests.support.data import warehouse_query
from tests.support.gold_history import START, STEP, History, build, expected_gold, gold, land

pytestmark = pytest.mark.dbt

STEPS = 6  # three simulated days


def _assert_gold_matches(settings, step: str) -> tuple[pd.DataFrame, pd.DataFrame]:
    hourly, daily = gold(settings)
    want_hourly, want_daily = expected_gold(settings)
    # Spins are compared exactly: a delivered 57.3 must stay 57.3 (a 4-byte float would give 57.2999992).
    pd.testing.assert_frame_equal(
        hourly, want_hourly, check_dtype=False, check_exact=True, obj=f"hourly {step}"
    )
    pd.testing.assert_frame_equal(daily, want_daily, check_dtype=False, obj=f"daily {step}")
    return hourly, daily


@pytest.mark.parametrize("seed", [12])
def test_random_corrections_keep_gold_equal_to_pandas_every_window(sourced, seed):
    history = History(sourced.source_db_path, seed)
    for step in range(STEPS):
        start = START + step * STEP
        history.step(start, changes=40 if step == 0 else 25)
        land(sourced, start, start + STEP)
        result = build(sourced, (start, start + STEP))
        assert result.success, result.exception or [
            str(r.message) for r in result.result.results if r.message
        ]
        hourly, daily = _assert_gold_matches(sourced, f"after window {step}")
    assert (hourly["total_spins_hourly"] == 57.3).any(), "the history must hold a value a float32 cannot"
    moved = warehouse_query(sourced, "select * from silver.purchases_superseded")
    assert len(moved) > 0, "corrections must have superseded earlier versions"

    _assert_kpis_followgold(sourced, daily)

    assert build(sourced, None, "--full-refresh").success
    rebuilt = _assert_gold_matches(sourced, "after a full refresh")
    pd.testing.assert_frame_equal(rebuilt[0], hourly)
    pd.testing.assert_frame_equal(rebuilt[1], daily)

    last = START + (STEPS - 1) * STEP
    assert build(sourced, (last, last + STEP)).success  # the last window again: nothing changes
    again = gold(sourced)
    pd.testing.assert_frame_equal(again[0], hourly)
    pd.testing.assert_frame_equal(again[1], daily)


def _assert_kpis_followgold(settings, daily: pd.DataFrame) -> None:
    """After the corrections, the KPI tables count each purchase once, for its current user and day."""
    assert build(settings, None, select=("tag:kpis",)).success
    panel = warehouse_query(
        settings,
        "select activity_date, user_id, total_spins, total_purchases, "
        "cast(revenue_usd as varchar) as revenue "
        "from kpis.daily_user_panel order by all",
    )
    want = (
        daily.groupby(["app_date", "user_id"])
        .agg(total_spins=("total_spins_daily", "sum"), total_purchases=("total_purchases_daily", "sum"),
             revenue=("total_revenue_daily", lambda s: sum(s, Decimal(0))))
        .reset_index()
    )  # fmt: skip
    assert [Decimal(v) for v in panel["revenue"]] == want["revenue"].tolist()
    assert panel["total_purchases"].tolist() == want["total_purchases"].tolist()
    assert panel["user_id"].tolist() == want["user_id"].tolist()
    assert panel["total_spins"].tolist() == pytest.approx(want["total_spins"].tolist())
    kpis = warehouse_query(
        settings,
        "select kpi_date, dau, cast(revenue_usd as varchar) as revenue from kpis.daily_kpis "
        "where slice = 'all' and dau > 0 order by kpi_date",
    )
    per_day = want.groupby("app_date").agg(
        dau=("user_id", "count"), revenue=("revenue", lambda s: sum(s, Decimal(0)))
    )
    assert kpis["dau"].tolist() == per_day["dau"].tolist()
    assert [Decimal(v) for v in kpis["revenue"]] == per_day["revenue"].tolist()


def test_a_failing_gold_audit_leaves_published_gold_as_it_was(sourced):
    """Write-audit-publish: the recomputed user-days are audited apart; a failing audit stops the run before
    anything is published, and says which rule broke and where the offending rows are kept."""
    History(sourced.source_db_path, seed=3).step(START, changes=30)
    land(sourced, START, START + STEP)
    assert build(sourced, (START, START + STEP)).success
    published = gold(sourced)

    # A silver row that no upstream check caught (written behind dbt's back) reaches gold's next window.
    import duckdb

    window = (START + STEP, START + 2 * STEP)
    with duckdb.connect(str(sourced.duckdb_path)) as connection:
        connection.execute(
            "insert into silver.spins_hourly values (timestamp '2026-03-01 03:00:00', 'u_bad', 'US', "
            "-5.0, 10, 0, timestamp '2026-03-01 14:00:00', timestamp '2026-03-01 14:00:00', "
            "timestamp '2026-03-01 13:00:00')"
        )
    result = build(sourced, window, select=("tag:gold",))
    assert not result.success
    statuses = {r.node.name: str(r.status) for r in result.result.results}
    (failed,) = [name for name, status in statuses.items() if status == "fail"]
    assert "gold_hourly_staged" in failed and "total_spins_hourly" in failed  # which rule, on which model
    assert statuses["aggregated_final_table"] == "skipped" and statuses["aggregated_daily_table"] == "skipped"
    (failure,) = [r for r in result.result.results if r.node.name == failed]
    assert "gold_audit" in failure.node.relation_name  # the rows that broke it are kept there…
    rows = warehouse_query(sourced, f"select * from {failure.node.relation_name}")
    assert rows["total_spins_hourly"].tolist() == [-5.0]  # …and it is exactly the bad one
    for before, after in zip(published, gold(sourced), strict=True):  # nothing was published
        pd.testing.assert_frame_equal(after, before)

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

import random
import sqlite3
from datetime import UTC, datetime, timedelta
from decimal import Decimal

import pandas as pd
import pytest

from tests.support import expected
from tests.support.data import source_frame, warehouse_query
from tests.support.local_dbt import invoke

pytestmark = pytest.mark.dbt

START = datetime(2026, 3, 1, tzinfo=UTC)
STEP = timedelta(hours=12)
STEPS = 6  # three simulated days
USERS = [f"u{n:03d}" for n in range(12)]
COUNTRIES = ["US", "DE", "GB", "FR"]
FMT = "%Y-%m-%dT%H:%M:%SZ"
HOURLY_KEY = ["app_hour", "user_id", "country"]
DAILY_KEY = ["app_date", "user_id", "country"]


def _ts(moment: datetime) -> str:
    return moment.strftime(FMT)


class History:
    """Writes source rows the way the game backend does: inserts, and in-place updates with a newer
    updated_at. Every change of a step gets a later updated_at inside the step's window."""

    def __init__(self, path, seed: int):
        self.db = sqlite3.connect(path)
        self.rng = random.Random(seed)
        self.transactions = 0

    def step(self, start: datetime, changes: int) -> None:
        clock = iter(sorted(start + timedelta(seconds=self.rng.randrange(60, int(STEP.total_seconds()) - 60))
                            for _ in range(changes)))  # fmt: skip
        for moment in clock:
            action = self.rng.choice(
                ["purchase", "purchase", "late_purchase", "duplicate", "refund", "move_country",
                 "move_user", "move_hour", "move_day", "amount", "spins", "spins", "late_spins",
                 "spins_correction"]
            )  # fmt: skip
            getattr(self, action)(moment)
        self.db.commit()

    # -- purchases --
    def _purchases(self) -> list[tuple]:
        return self.db.execute(
            "select distinct transaction_id, purchased_at from purchases order by 1"
        ).fetchall()

    def purchase(self, moment: datetime, bought: datetime | None = None) -> None:
        self.transactions += 1
        bought = bought or moment - timedelta(seconds=self.rng.randrange(0, 600))
        revenue = self.rng.choice(["0.99", "4.99", "9.99", "19.99", "57.30", "0.10"])
        self.db.execute(
            "insert into purchases values (?, ?, ?, ?, 'USD', ?, 'ios', 'completed', ?, ?)",
            (f"tx{self.transactions:05d}", self.rng.choice(USERS), _ts(bought), revenue,
             self.rng.choice(COUNTRIES), _ts(moment), _ts(moment)),
        )  # fmt: skip

    def late_purchase(self, moment: datetime) -> None:
        self.purchase(moment, bought=moment - timedelta(hours=self.rng.randrange(3, 40)))

    def duplicate(self, moment: datetime) -> None:
        """The backend delivers the same version twice (the extract sees two identical rows)."""
        rows = self.db.execute("select * from purchases order by rowid").fetchall()
        if rows:
            row = self.rng.choice(rows)
            self.db.execute(f"insert into purchases values ({', '.join('?' * len(row))})", row)

    def _update(self, moment: datetime, assignment: str, *values) -> None:
        rows = self._purchases()
        if not rows:
            return self.purchase(moment)
        transaction_id, purchased_at = self.rng.choice(rows)
        bought = datetime.strptime(purchased_at, FMT).replace(tzinfo=UTC)
        values = [v(bought) if callable(v) else v for v in values]
        self.db.execute(
            f"update purchases set {assignment}, updated_at = ? where transaction_id = ?",
            (*values, _ts(moment), transaction_id),
        )

    def refund(self, moment):
        self._update(moment, "status = ?", "refunded")

    def move_country(self, moment):
        self._update(moment, "country = ?", self.rng.choice(COUNTRIES))

    def move_user(self, moment):
        self._update(moment, "user_id = ?", self.rng.choice(USERS))

    def move_hour(self, moment):
        self._update(
            moment, "purchased_at = ?", lambda b: _ts(b + timedelta(hours=self.rng.choice([-2, 1, 3])))
        )

    def move_day(self, moment):
        self._update(moment, "purchased_at = ?", lambda b: _ts(b - timedelta(days=1, minutes=7)))

    def amount(self, moment):
        self._update(moment, "revenue_usd = ?", self.rng.choice(["1.49", "57.30", "99.99"]))

    # -- spins --
    def spins(self, moment: datetime, hour: datetime | None = None) -> None:
        hour = (hour or moment).replace(minute=0, second=0, microsecond=0)
        exists = self.db.execute(
            "select 1 from spins_hourly where app_hour = ? and user_id = ? and country = ?",
            key := (_ts(hour), self.rng.choice(USERS), self.rng.choice(COUNTRIES)),
        ).fetchone()
        if not exists:
            spins = self.rng.choice([57.3, 12.0, 0.1, 3.7, 100.0])
            self.db.execute(
                "insert into spins_hourly values (?, ?, ?, ?, ?, ?, ?, ?)",
                (
                    *key,
                    spins,
                    self.rng.randrange(10, 500),
                    self.rng.randrange(0, 500),
                    _ts(moment),
                    _ts(moment),
                ),
            )

    def late_spins(self, moment):
        self.spins(moment, hour=moment - timedelta(hours=self.rng.randrange(2, 30)))

    def spins_correction(self, moment):
        rows = self.db.execute(
            "select app_hour, user_id, country from spins_hourly order by rowid"
        ).fetchall()
        if rows:
            self.db.execute(
                "update spins_hourly set total_spins = ?, coins_bet = ?, updated_at = ? "
                "where app_hour = ? and user_id = ? and country = ?",
                (
                    self.rng.choice([57.3, 0.7, 8.25]),
                    self.rng.randrange(10, 500),
                    _ts(moment),
                    *self.rng.choice(rows),
                ),
            )


SILVER_AND_GOLD = ("tag:purchases", "tag:spins", "tag:gold")


def _build(settings, window: tuple[datetime, datetime] | None, *args: str, select=SILVER_AND_GOLD):
    """`dbt build` of silver and gold, the window in the environment as Cosmos sets it per task."""
    env = {
        f"DBT_WINDOW_{name}": None if moment is None else f"{moment:%Y-%m-%d %H:%M:%S}"
        for name, moment in zip(("START", "END"), window or (None, None), strict=True)
    }
    return invoke(
        settings, "build", "--select", *select, "--exclude", "resource_type:unit_test", *args, env=env
    )


def _land(settings, start: datetime, end: datetime) -> None:
    from cadence import ingest, sources
    from cadence.lake import Window

    for name in ("purchases", "spins_hourly"):
        ingest.ingest(settings, sources.get_spec(name, settings), Window(start, end),
                      lookback=timedelta(0), chunk=end - start)  # fmt: skip


def _gold(settings) -> tuple[pd.DataFrame, pd.DataFrame]:
    hourly = warehouse_query(
        settings,
        "select app_hour, user_id, country, total_spins_hourly, total_coins_bet_hourly, "
        "total_coins_won_hourly, "
        "total_purchases_hourly, cast(total_revenue_hourly as varchar) as total_revenue_hourly, "
        "cast(total_revenue_per_user_daily as varchar) as total_revenue_per_user_daily "
        "from gold.aggregated_final_table order by all",
    )
    daily = warehouse_query(
        settings,
        "select app_date, user_id, country, active_hours, total_spins_daily, total_purchases_daily, "
        "cast(total_revenue_daily as varchar) as total_revenue_daily "
        "from gold.aggregated_daily_table order by all",
    )
    for frame, columns in ((hourly, ["total_revenue_hourly", "total_revenue_per_user_daily"]),
                           (daily, ["total_revenue_daily"])):  # fmt: skip
        for column in columns:
            frame[column] = [Decimal(v).normalize() for v in frame[column]]
    hourly["app_hour"] = hourly["app_hour"].astype("datetime64[us]")
    daily["app_date"] = pd.to_datetime(daily["app_date"]).astype("datetime64[us]")
    return hourly, daily


def _expected(settings) -> tuple[pd.DataFrame, pd.DataFrame]:
    gold = expected.gold_hourly(source_frame(settings), source_frame(settings, "spins_hourly"))
    hourly = gold[[*HOURLY_KEY, "total_spins_hourly", "total_coins_bet_hourly", "total_coins_won_hourly",
                   "total_purchases_hourly", "total_revenue_hourly",
                   "total_revenue_per_user_daily"]].copy()  # fmt: skip
    for column in ("total_revenue_hourly", "total_revenue_per_user_daily"):
        hourly[column] = [Decimal(v).normalize() for v in hourly[column]]
    hourly["app_hour"] = hourly["app_hour"].astype("datetime64[us]")
    gold["app_date"] = pd.to_datetime(gold["app_date"]).astype("datetime64[us]")
    daily = (
        gold.groupby(DAILY_KEY)
        .agg(active_hours=("app_hour", "count"), total_spins_daily=("total_spins_hourly", "sum"),
             total_purchases_daily=("total_purchases_hourly", "sum"),
             total_revenue_daily=("total_revenue_hourly", lambda s: sum(s, Decimal(0))))
        .reset_index()
    )  # fmt: skip
    daily["total_revenue_daily"] = [Decimal(v).normalize() for v in daily["total_revenue_daily"]]
    return (
        hourly.sort_values(HOURLY_KEY, ignore_index=True),
        daily.sort_values(DAILY_KEY, ignore_index=True),
    )


def _assert_gold_matches(settings, step: str) -> tuple[pd.DataFrame, pd.DataFrame]:
    hourly, daily = _gold(settings)
    want_hourly, want_daily = _expected(settings)
    # Spins are compared exactly: a delivered 57.3 must stay 57.3 (a 4-byte float would give 57.2999992).
    pd.testing.assert_frame_equal(
        hourly, want_hourly, check_dtype=False, check_exact=True, obj=f"hourly {step}"
    )
    pd.testing.assert_frame_equal(daily, want_daily, check_dtype=False, obj=f"daily {step}")
    return hourly, daily


@pytest.fixture
def sourced(cadence_env):
    from cadence.simulator.source import ensure_schema
    from cadence.sources import source_hook

    ensure_schema(source_hook(cadence_env))
    return cadence_env


@pytest.mark.parametrize("seed", [12])
def test_random_corrections_keep_gold_equal_to_pandas_every_window(sourced, seed):
    history = History(sourced.source_db_path, seed)
    for step in range(STEPS):
        start = START + step * STEP
        history.step(start, changes=40 if step == 0 else 25)
        _land(sourced, start, start + STEP)
        result = _build(sourced, (start, start + STEP))
        assert result.success, result.exception or [
            str(r.message) for r in result.result.results if r.message
        ]
        hourly, daily = _assert_gold_matches(sourced, f"after window {step}")
    assert (hourly["total_spins_hourly"] == 57.3).any(), "the history must hold a value a float32 cannot"
    moved = warehouse_query(sourced, "select * from silver.purchases_superseded")
    assert len(moved) > 0, "corrections must have superseded earlier versions"

    _assert_kpis_follow_gold(sourced, daily)

    assert _build(sourced, None, "--full-refresh").success
    rebuilt = _assert_gold_matches(sourced, "after a full refresh")
    pd.testing.assert_frame_equal(rebuilt[0], hourly)
    pd.testing.assert_frame_equal(rebuilt[1], daily)

    last = START + (STEPS - 1) * STEP
    assert _build(sourced, (last, last + STEP)).success  # the last window again: nothing changes
    again = _gold(sourced)
    pd.testing.assert_frame_equal(again[0], hourly)
    pd.testing.assert_frame_equal(again[1], daily)


def _assert_kpis_follow_gold(settings, daily: pd.DataFrame) -> None:
    """After the corrections, the KPI tables count each purchase once, for its current user and day."""
    assert _build(settings, None, select=("tag:kpis",)).success
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
    _land(sourced, START, START + STEP)
    assert _build(sourced, (START, START + STEP)).success
    published = _gold(sourced)

    # A silver row that no upstream check caught (written behind dbt's back) reaches gold's next window.
    import duckdb

    window = (START + STEP, START + 2 * STEP)
    with duckdb.connect(str(sourced.duckdb_path)) as connection:
        connection.execute(
            "insert into silver.spins_hourly values (timestamp '2026-03-01 03:00:00', 'u_bad', 'US', "
            "-5.0, 10, 0, timestamp '2026-03-01 14:00:00', timestamp '2026-03-01 14:00:00', "
            "timestamp '2026-03-01 13:00:00')"
        )
    result = _build(sourced, window, select=("tag:gold",))
    assert not result.success
    statuses = {r.node.name: str(r.status) for r in result.result.results}
    (failed,) = [name for name, status in statuses.items() if status == "fail"]
    assert "gold_hourly_staged" in failed and "total_spins_hourly" in failed  # which rule, on which model
    assert statuses["aggregated_final_table"] == "skipped" and statuses["aggregated_daily_table"] == "skipped"
    (failure,) = [r for r in result.result.results if r.node.name == failed]
    assert "gold_audit" in failure.node.relation_name  # the rows that broke it are kept there…
    rows = warehouse_query(sourced, f"select * from {failure.node.relation_name}")
    assert rows["total_spins_hourly"].tolist() == [-5.0]  # …and it is exactly the bad one
    for before, after in zip(published, _gold(sourced), strict=True):  # nothing was published
        pd.testing.assert_frame_equal(after, before)

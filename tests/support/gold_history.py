"""A random source history with corrections, landed and built on DuckDB, and gold read back beside the
pandas oracle: shared by the gold property test and the BigQuery emulator test.

History writes the source the way the game backend does (inserts, late arrivals, duplicate deliveries,
refunds, corrections of a purchase's country, user, hour, day or amount, spins corrections); ``land`` runs
the real ingest for a window; ``build`` runs `dbt build` of silver and gold the way a Cosmos task does.
"""

from __future__ import annotations

import random
import sqlite3
from datetime import UTC, datetime, timedelta
from decimal import Decimal

import pandas as pd

from tests.support import expected
from tests.support.data import source_frame, warehouse_query
from tests.support.local_dbt import invoke

START = datetime(2026, 3, 1, tzinfo=UTC)
STEP = timedelta(hours=12)
USERS = [f"u{n:03d}" for n in range(12)]
COUNTRIES = ["US", "DE", "GB", "FR"]
FMT = "%Y-%m-%dT%H:%M:%SZ"
HOURLY_KEY = ["app_hour", "user_id", "country"]
DAILY_KEY = ["app_date", "user_id", "country"]


def ts(moment: datetime) -> str:
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
            (f"tx{self.transactions:05d}", self.rng.choice(USERS), ts(bought), revenue,
             self.rng.choice(COUNTRIES), ts(moment), ts(moment)),
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
            (*values, ts(moment), transaction_id),
        )

    def refund(self, moment):
        self._update(moment, "status = ?", "refunded")

    def move_country(self, moment):
        self._update(moment, "country = ?", self.rng.choice(COUNTRIES))

    def move_user(self, moment):
        self._update(moment, "user_id = ?", self.rng.choice(USERS))

    def move_hour(self, moment):
        self._update(
            moment, "purchased_at = ?", lambda b: ts(b + timedelta(hours=self.rng.choice([-2, 1, 3])))
        )

    def move_day(self, moment):
        self._update(moment, "purchased_at = ?", lambda b: ts(b - timedelta(days=1, minutes=7)))

    def amount(self, moment):
        self._update(moment, "revenue_usd = ?", self.rng.choice(["1.49", "57.30", "99.99"]))

    # -- spins --
    def spins(self, moment: datetime, hour: datetime | None = None) -> None:
        hour = (hour or moment).replace(minute=0, second=0, microsecond=0)
        exists = self.db.execute(
            "select 1 from spins_hourly where app_hour = ? and user_id = ? and country = ?",
            key := (ts(hour), self.rng.choice(USERS), self.rng.choice(COUNTRIES)),
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
                    ts(moment),
                    ts(moment),
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
                    ts(moment),
                    *self.rng.choice(rows),
                ),
            )


SILVER_AND_GOLD = ("tag:purchases", "tag:spins", "tag:gold")


def build(settings, window: tuple[datetime, datetime] | None, *args: str, select=SILVER_AND_GOLD):
    """`dbt build` of silver and gold, the window in the environment as Cosmos sets it per task."""
    window_env = {
        f"DBT_WINDOW_{name}": None if moment is None else f"{moment:%Y-%m-%d %H:%M:%S}"
        for name, moment in zip(("START", "END"), window or (None, None), strict=True)
    }
    return invoke(
        settings, "build", "--select", *select, "--exclude", "resource_type:unit_test", *args, env=window_env
    )


def land(settings, start: datetime, end: datetime) -> None:
    from cadence import ingest, sources
    from cadence.lake import Window

    for name in ("purchases", "spins_hourly"):
        ingest.ingest(settings, sources.get_spec(name, settings), Window(start, end),
                      lookback=timedelta(0), chunk=end - start)  # fmt: skip


def gold(settings) -> tuple[pd.DataFrame, pd.DataFrame]:
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


def expected_gold(settings) -> tuple[pd.DataFrame, pd.DataFrame]:
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

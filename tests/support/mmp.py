"""MMP events as plain pandas columns, the window the generator tests use, and the install reconciliation
computed per user in pandas (independently of the dbt models) from the events and the game activity."""

from __future__ import annotations

import functools
from datetime import UTC, datetime, timedelta

import numpy as np
import pandas as pd
import pyarrow as pa

START = datetime(2026, 3, 1, tzinfo=UTC)
DAY = timedelta(days=1)


def frame(table: pa.Table) -> pd.DataFrame:
    """Events as plain pandas columns: exact nullable ids, cost as float (exactness is tested on its own)."""
    df = table.drop_columns(["cost_usd"]).to_pandas(types_mapper={pa.int64(): pd.Int64Dtype()}.get)
    for name in ("event_type", "partner", "platform", "country", "campaign_id"):
        df[name] = df[name].astype(str)
    df["cost"] = table.column("cost_usd").cast(pa.float64()).to_numpy()
    return df


# The reconciliation's breakdown columns and how `discrepancy` words them (install side, then game side).
REASONS = {
    "installs_first_seen_later": "installed, first seen on a later day",
    "installs_not_seen": "installed, not seen in the game data yet",
    "installs_first_seen_earlier": "installed, but seen in the game data on an earlier day",
    "first_seen_installed_earlier": "first seen, installed on an earlier day",
    "first_seen_installed_later": "first seen, MMP install on a later day",
    "first_seen_without_install": (
        "first seen, no MMP install (installed before the MMP data begins, or missed)"
    ),
}
RECONCILIATION_KEY = ["install_date", "platform", "partner"]
TOLERANCE_USERS, TOLERANCE_SHARE = 3, 0.05  # dbt vars mmp_reconciliation_tolerance_users / _share


def game_activity(settings, start: datetime, end: datetime) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Valid game purchases and spins of the event hours in [start, end), straight from the simulator, one
    row per key (first version: a correction changes neither the user nor the time), naive UTC times.

    The simulator is deterministic, so a range is generated once per process (two weeks of hours take
    ~10 s of CPU) and every caller gets its own copy."""
    bought, played = _game_activity(settings.simulator, start, end)
    return bought.copy(), played.copy()


@functools.cache
def _game_activity(simulator, start: datetime, end: datetime) -> tuple[pd.DataFrame, pd.DataFrame]:
    from cadence.simulator import purchases, spins
    from cadence.simulator.population import build_population, hours_between

    population = build_population(simulator)
    hours = hours_between(start, end)
    bought = pd.concat([purchases.generate_hour(h, population, simulator) for h in hours])
    played = pd.concat([spins.generate_hour(h, population, simulator) for h in hours])
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
        ].reset_index(drop=True),
        played.assign(app_hour=played["app_hour"].dt.tz_convert(None))[["user_id", "app_hour"]].reset_index(
            drop=True
        ),
    )


def _explain(counts: pd.DataFrame) -> list[str]:
    texts = []
    for _, row in counts.iterrows():
        parts = [f"{int(row[column])} {text}." for column, text in REASONS.items() if row[column] > 0]
        texts.append(" ".join(parts) or "reconciled")
    return texts


def expected_reconciliation(
    events: pd.DataFrame, bought: pd.DataFrame, played: pd.DataFrame
) -> tuple[pd.DataFrame, pd.DataFrame]:
    """mmp_install_reconciliation and its daily sums, per user in pandas: ``events`` has naive UTC
    ``event_time`` and string columns; ``bought`` / ``played`` are silver's purchases and spins columns."""
    installs = events[events["event_type"] == "install"].sort_values(["event_time", "event_id"])
    installs = installs.drop_duplicates("user_id").assign(
        install_date=lambda f: f["event_time"].dt.normalize()
    )
    activity = pd.concat([bought["purchased_at"], played["app_hour"]], ignore_index=True)
    owners = pd.concat([bought["user_id"], played["user_id"]], ignore_index=True)
    first_seen = activity.groupby(owners).min().dt.normalize().rename("first_seen_date")
    first_purchase = bought.sort_values(["purchased_at", "platform"]).drop_duplicates("user_id")
    users = installs.set_index("user_id")[["install_date", "platform", "partner"]].join(
        first_seen, how="outer"
    )
    users["platform"] = (
        users["platform"].fillna(first_purchase.set_index("user_id")["platform"]).fillna("unknown")
    )
    users["partner"] = users["partner"].fillna("no_mmp_install")

    installed, seen = users["install_date"], users["first_seen_date"]
    install_side = pd.DataFrame(
        {
            "install_date": installed,
            "platform": users["platform"],
            "partner": users["partner"],
            "attributed_installs": users["partner"] != "organic",
            "organic_installs": users["partner"] == "organic",
            "matched_users": seen == installed,
            "installs_first_seen_later": seen > installed,
            "installs_not_seen": seen.isna(),
            "installs_first_seen_earlier": seen < installed,
        }
    )[installed.notna()]
    days = events["event_time"].dt.normalize()
    seen_side = pd.DataFrame(
        {
            "install_date": seen,
            "platform": users["platform"],
            "partner": users["partner"],
            "first_seen_users": True,
            "first_seen_installed_earlier": installed < seen,
            "first_seen_installed_later": installed > seen,
            "first_seen_without_install": installed.isna(),
        }
    )[seen.between(days.min(), days.max())]
    per_row = pd.concat(
        [
            install_side.groupby(RECONCILIATION_KEY).sum(),
            seen_side.groupby(RECONCILIATION_KEY).sum(),
        ],
        axis=1,
    )
    per_row = per_row.fillna(0).astype(int).reset_index()
    per_row["mmp_installs"] = per_row["attributed_installs"] + per_row["organic_installs"]
    per_row["difference"] = per_row["mmp_installs"] - per_row["first_seen_users"]
    per_row["difference_pct"] = (
        100 * per_row["difference"] / per_row["first_seen_users"].replace(0, np.nan)
    ).round(2)
    per_row["discrepancy"] = _explain(per_row)
    columns = [
        *RECONCILIATION_KEY,
        "attributed_installs",
        "organic_installs",
        "mmp_installs",
        "first_seen_users",
        "difference",
        "difference_pct",
        "matched_users",
        *REASONS,
        "discrepancy",
    ]
    per_row = per_row[columns].sort_values(RECONCILIATION_KEY, ignore_index=True)

    sums = ["first_seen_users", "attributed_installs", "organic_installs", "mmp_installs", "matched_users"]
    daily = per_row.groupby("install_date")[[*sums, *REASONS]].sum().reset_index()
    daily["difference"] = daily["mmp_installs"] - daily["first_seen_users"]
    daily["tolerance"] = np.maximum(TOLERANCE_USERS, np.ceil(TOLERANCE_SHARE * daily["mmp_installs"])).astype(
        int
    )
    daily["within_tolerance"] = daily["difference"].abs() <= daily["tolerance"]
    daily["discrepancy"] = _explain(daily)
    head = ["install_date", *sums[:4], "difference", "tolerance", "within_tolerance", "matched_users"]
    daily = daily[[*head, *REASONS, "discrepancy"]]
    return per_row, daily

"""Independent pandas versions of what silver and gold must contain, computed from the source database.

Written from the documented rules, not from the pipeline's code, so a bug in one is not copied into the
other.
"""

from __future__ import annotations

from decimal import ROUND_HALF_UP, Decimal

import pandas as pd

ALLOWED_COUNTRIES = {"US", "GB", "DE", "FR", "BR", "JP", "IN", "CA", "AU", "MX"}
TS_FORMAT = "%Y-%m-%dT%H:%M:%SZ"
CENT = Decimal("0.01")


def expected_reasons(source: pd.DataFrame) -> pd.Series:
    """Independent pandas version of the validation rules: a reason per invalid row, '' when valid."""
    parsed = pd.to_datetime(source["purchased_at"], format="%Y-%m-%dT%H:%M:%SZ", errors="coerce")
    reasons = pd.Series("", index=source.index)
    reasons[source["user_id"].isna()] += "null user;"
    reasons[parsed.isna()] += "bad timestamp;"
    reasons[(source["revenue_usd"] < 0) | (source["revenue_usd"] > 500)] += "revenue;"
    reasons[~source["country"].isin(ALLOWED_COUNTRIES)] += "country;"
    ordered = source.sort_values(["updated_at", "transaction_id"], kind="stable")
    duplicates = ordered.duplicated(["transaction_id", "updated_at"], keep="first")
    reasons[duplicates[duplicates].index] += "duplicate;"
    return reasons


def expected_silver(source: pd.DataFrame) -> pd.DataFrame:
    """Latest valid version of every transaction, as silver must hold it."""
    valid = source[expected_reasons(source) == ""]
    latest = valid.sort_values("updated_at").groupby("transaction_id").tail(1)
    purchased = pd.to_datetime(latest["purchased_at"], format="%Y-%m-%dT%H:%M:%SZ")
    return pd.DataFrame(
        {
            "transaction_id": latest["transaction_id"],
            "status": latest["status"],
            "revenue_usd": [Decimal(f"{v:.2f}") for v in latest["revenue_usd"]],
            "purchase_hour": purchased.dt.floor("h").dt.tz_localize(None).astype("datetime64[us]"),
        }
    ).sort_values("transaction_id", ignore_index=True)


def _ts(values: pd.Series) -> pd.Series:
    return pd.to_datetime(values, format=TS_FORMAT, errors="coerce")


def _latest(valid: pd.DataFrame, key: list[str]) -> pd.DataFrame:
    return valid.sort_values("updated_at", kind="stable").groupby(key, dropna=False).tail(1)


def silver_purchases(source: pd.DataFrame) -> pd.DataFrame:
    """Valid purchases (every rule), latest version per transaction."""
    purchased = _ts(source["purchased_at"])
    valid = source[
        source["user_id"].notna()
        & purchased.notna()
        & source["revenue_usd"].between(0, 500)
        & source["country"].isin(ALLOWED_COUNTRIES)
    ].assign(purchase_hour=purchased.dt.floor("h"))
    return _latest(valid, ["transaction_id"])


def silver_spins(source: pd.DataFrame) -> pd.DataFrame:
    """Valid spins rows (on the hour, non-negative, known user and country), latest version per key."""
    hour = _ts(source["app_hour"])
    valid = source[
        source["user_id"].notna()
        & hour.notna()
        & (hour == hour.dt.floor("h"))
        & (source["total_spins"] >= 0)
        & (source["coins_bet"] >= 0)
        & (source["coins_won"] >= 0)
        & source["country"].isin(ALLOWED_COUNTRIES)
    ].assign(app_hour=hour)
    return _latest(valid, ["app_hour", "user_id", "country"])


def gold_hourly(purchases_source: pd.DataFrame, spins_source: pd.DataFrame) -> pd.DataFrame:
    """aggregated_final_table: app_hour x user x country, revenue net of refunds, exact to the cent."""
    purchases = silver_purchases(purchases_source)
    completed = purchases["status"] == "completed"
    purchases = purchases.assign(
        completed=completed.astype(int),
        revenue=[
            Decimal(f"{v:.2f}") if c else Decimal("0.00")
            for v, c in zip(purchases["revenue_usd"], completed, strict=True)
        ],
    )
    by_hour = (
        purchases.rename(columns={"purchase_hour": "app_hour"})
        .groupby(["app_hour", "user_id", "country"])
        .agg(total_purchases_hourly=("completed", "sum"), total_revenue_hourly=("revenue", "sum"))
        .reset_index()
    )
    spins = silver_spins(spins_source)[
        ["app_hour", "user_id", "country", "total_spins", "coins_bet", "coins_won"]
    ]
    gold = spins.merge(by_hour, on=["app_hour", "user_id", "country"], how="outer")
    gold = gold.rename(
        columns={
            "total_spins": "total_spins_hourly",
            "coins_bet": "total_coins_bet_hourly",
            "coins_won": "total_coins_won_hourly",
        }
    )
    counts = [
        "total_spins_hourly",
        "total_coins_bet_hourly",
        "total_coins_won_hourly",
        "total_purchases_hourly",
    ]
    gold[counts] = gold[counts].fillna(0)
    gold["total_revenue_hourly"] = gold["total_revenue_hourly"].map(
        lambda v: Decimal("0.00") if pd.isna(v) else v
    )
    gold["app_date"] = gold["app_hour"].dt.date
    daily = gold.groupby(["user_id", "app_date"])["total_revenue_hourly"].transform(
        lambda s: sum(s, Decimal("0"))
    )
    gold["total_revenue_per_user_daily"] = daily
    gold["avg_revenue_per_purchase_hourly"] = [
        (r / int(n)).quantize(Decimal("0.0001"), rounding=ROUND_HALF_UP) if n else None
        for r, n in zip(gold["total_revenue_hourly"], gold["total_purchases_hourly"], strict=True)
    ]
    return gold.sort_values(["app_hour", "user_id", "country"], ignore_index=True)

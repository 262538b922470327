"""Purchases as the game backend records them, imperfections included.

Each event hour is generated from its own random stream (seed, stream, hour), so any range regenerates the
same rows however it is split. A purchase yields one or more *versions*: the insert when the row reaches
the database (``updated_at`` = arrival), an optional duplicate delivery of that insert, and an optional
later refund (an update with a newer ``updated_at``). The source writer applies versions in change-time
order, which is exactly what an extract by ``updated_at`` sees in a real backend.
"""

from __future__ import annotations

from datetime import datetime, timedelta

import numpy as np
import pandas as pd

from cadence.config import SimulatorSettings
from cadence.simulator.population import Population, generate_hours
from cadence.sources import TIMESTAMP_FORMAT

PRICE_POINTS_USD = np.array([0.99, 1.99, 4.99, 9.99, 19.99, 49.99, 99.99])
PRICE_WEIGHTS = np.array([0.35, 0.25, 0.20, 0.10, 0.06, 0.03, 0.01])
CURRENCY_BY_COUNTRY = {
    "US": "USD",
    "GB": "GBP",
    "DE": "EUR",
    "FR": "EUR",
    "BR": "BRL",
    "JP": "JPY",
    "IN": "INR",
    "CA": "CAD",
    "AU": "AUD",
    "MX": "MXN",
}
MALFORMED_KINDS = ("null_user", "negative_revenue", "unknown_country", "bad_timestamp")
COLUMNS = [
    "transaction_id",
    "user_id",
    "purchased_at",
    "revenue_usd",
    "currency",
    "country",
    "platform",
    "status",
    "created_at",
    "updated_at",
]
_PURCHASES_STREAM = 1


def hourly_rhythm(hour_of_day: int) -> float:
    """Share of peak activity in a UTC hour: quiet at night, peaking in the evening."""
    return 0.55 + 0.45 * np.cos((hour_of_day - 20) / 24 * 2 * np.pi)


def format_ts(values: pd.Series) -> pd.Series:
    return values.dt.strftime(TIMESTAMP_FORMAT)


def generate_hour(hour: datetime, population: Population, settings: SimulatorSettings) -> pd.DataFrame:
    """All versions of the purchases made in one event hour, with an ``op`` column (insert/update)."""
    rng = np.random.default_rng([settings.seed, _PURCHASES_STREAM, int(hour.timestamp()) // 3600])
    installed = population.installed_before(hour)
    payers = np.flatnonzero(population.is_payer[:installed])
    payers = payers[population.started_before(hour, payers)]  # a purchase never precedes the first session
    rate = settings.scaled_purchases_per_hour * hourly_rhythm(hour.hour)
    if settings.spike_day is not None and hour.date() == settings.spike_day:
        rate *= settings.spike_factor  # a configured spike (or outage) on one day; other hours are unchanged
    n = int(rng.poisson(rate)) if len(payers) else 0
    if n == 0:
        return pd.DataFrame(columns=[*COLUMNS, "op"])

    users = payers[rng.integers(0, len(payers), n)]
    purchased = pd.Series(pd.Timestamp(hour) + pd.to_timedelta(rng.integers(0, 3600, n), unit="s"))
    is_late = rng.random(n) < settings.late_rate
    delay_s = np.where(
        is_late,
        rng.integers(3600, max(3601, int(settings.late_max.total_seconds())), n),
        rng.integers(1, 120, n),
    )
    created = purchased + pd.to_timedelta(delay_s, unit="s")
    country = population.country[users]
    rows = pd.DataFrame(
        {
            "transaction_id": [f"tx_{hour:%Y%m%d%H}_{i:05d}" for i in range(n)],
            "user_id": population.user_id[users],
            "purchased_at": format_ts(purchased),
            "revenue_usd": PRICE_POINTS_USD[rng.choice(len(PRICE_POINTS_USD), n, p=PRICE_WEIGHTS)],
            "currency": [CURRENCY_BY_COUNTRY[c] for c in country],
            "country": country,
            "platform": population.platform[users],
            "status": "completed",
            "created_at": format_ts(created),
            "updated_at": format_ts(created),
        }
    )

    malformed = rng.random(n) < settings.malformed_rate
    kind = rng.choice(len(MALFORMED_KINDS), n)
    rows.loc[malformed & (kind == 0), "user_id"] = None
    rows.loc[malformed & (kind == 1), "revenue_usd"] = -rows["revenue_usd"]
    rows.loc[malformed & (kind == 2), "country"] = "XX"
    rows.loc[malformed & (kind == 3), "purchased_at"] = "not-a-timestamp"

    inserts = rows.assign(op="insert")
    duplicates = inserts[rng.random(n) < settings.duplicate_rate]
    refunded = (rng.random(n) < settings.refund_rate) & ~malformed
    refund_after_s = rng.integers(3600, max(3601, int(settings.refund_max_age.total_seconds())), n)
    refunds = rows[refunded].assign(
        status="refunded",
        updated_at=format_ts(created[refunded] + pd.to_timedelta(refund_after_s[refunded], unit="s")),
        op="update",
    )
    return pd.concat([inserts, duplicates, refunds], ignore_index=True)


def generate(
    start: datetime, end: datetime, population: Population, settings: SimulatorSettings
) -> pd.DataFrame:
    """Every version of purchases whose event hour falls in [start, end), in change-time order."""
    return generate_hours(
        generate_hour, COLUMNS, ["updated_at", "transaction_id"], start, end, population, settings
    )


def max_change_delay(settings: SimulatorSettings) -> timedelta:
    """How long after its event hour a purchase can still change (arrive late or be refunded)."""
    return settings.late_max + settings.refund_max_age + timedelta(hours=1)

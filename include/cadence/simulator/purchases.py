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
from cadence.simulator.population import Population, generate_hours, versions
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


def format_seconds(moments: np.ndarray) -> np.ndarray:
    """``datetime64[s]`` values as the source's timestamp text (an object array, as the frame's columns)."""
    return pd.DatetimeIndex(moments).strftime(TIMESTAMP_FORMAT).to_numpy(dtype=object)


def generate_hour(hour: datetime, population: Population, settings: SimulatorSettings) -> pd.DataFrame:
    """All versions of the purchases made in one event hour, with an ``op`` column (insert/update).

    Built from numpy arrays and turned into one frame at the end: the simulator regenerates every hour a
    change can still come from (ten days of refunds) on each tick, so the per-hour cost is what counts."""
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
    purchased = np.datetime64(pd.Timestamp(hour).to_datetime64(), "s") + rng.integers(0, 3600, n).astype(
        "timedelta64[s]"
    )
    is_late = rng.random(n) < settings.late_rate
    delay_s = np.where(
        is_late,
        rng.integers(3600, max(3601, int(settings.late_max.total_seconds())), n),
        rng.integers(1, 120, n),
    )
    created = purchased + delay_s.astype("timedelta64[s]")
    user_id = population.user_id[users].copy()
    country = population.country[users].copy()
    revenue = PRICE_POINTS_USD[rng.choice(len(PRICE_POINTS_USD), n, p=PRICE_WEIGHTS)]
    currency = np.array([CURRENCY_BY_COUNTRY[c] for c in country], dtype=object)
    purchased_at = format_seconds(purchased)
    created_at = format_seconds(created)

    malformed = rng.random(n) < settings.malformed_rate
    kind = rng.choice(len(MALFORMED_KINDS), n)
    user_id[malformed & (kind == 0)] = None
    revenue = np.where(malformed & (kind == 1), -revenue, revenue)
    country[malformed & (kind == 2)] = "XX"
    purchased_at[malformed & (kind == 3)] = "not-a-timestamp"

    duplicated = np.flatnonzero(rng.random(n) < settings.duplicate_rate)
    refunded = np.flatnonzero((rng.random(n) < settings.refund_rate) & ~malformed)
    refund_after_s = rng.integers(3600, max(3601, int(settings.refund_max_age.total_seconds())), n)
    rows, op = versions(n, duplicated, refunded)
    refunded_at = format_seconds(created[refunded] + refund_after_s[refunded].astype("timedelta64[s]"))
    return pd.DataFrame(
        {
            "transaction_id": np.array([f"tx_{hour:%Y%m%d%H}_{i:05d}" for i in range(n)], dtype=object)[rows],
            "user_id": user_id[rows],
            "purchased_at": purchased_at[rows],
            "revenue_usd": revenue[rows],
            "currency": currency[rows],
            "country": country[rows],
            "platform": population.platform[users[rows]],
            "status": np.where(op == "update", "refunded", "completed").astype(object),
            "created_at": created_at[rows],
            "updated_at": np.concatenate([created_at[rows[op == "insert"]], refunded_at]),
            "op": op,
        }
    )


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

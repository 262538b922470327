"""Hourly spin activity as the game backend delivers it, imperfections included.

Each app hour is generated from its own random stream, like purchases. The players of an hour are a random
share of those whose first session came earlier, plus everyone whose first session is in that hour (so a
player's first spins row is the hour of their first session). A row (app_hour x user x country)
reaches the database after its hour closes; some arrive hours late; some are re-delivered later with
corrected totals (same key, newer ``updated_at``); a few are malformed (negative spins, null user, an
app_hour that is not on the hour).
"""

from __future__ import annotations

from datetime import datetime, timedelta

import numpy as np
import pandas as pd

from cadence.config import SimulatorSettings
from cadence.simulator.population import Population, generate_hours, versions
from cadence.simulator.purchases import format_seconds, hourly_rhythm

COLUMNS = [
    "app_hour", "user_id", "country", "total_spins", "coins_bet", "coins_won", "created_at", "updated_at",
]  # fmt: skip
KEY = ["app_hour", "user_id", "country"]
BET_SIZES = np.array([10, 20, 50, 100])
RETURN_TO_PLAYER = 0.92  # the slot machine pays back 92% of coins bet on average
_SPINS_STREAM = 2


def generate_hour(hour: datetime, population: Population, settings: SimulatorSettings) -> pd.DataFrame:
    """All versions of the spins rows of one app hour, with an ``op`` column (insert/update)."""
    rng = np.random.default_rng([settings.seed, _SPINS_STREAM, int(hour.timestamp()) // 3600])
    installed = population.installed_before(hour)
    expected = installed * settings.spins_active_share * hourly_rhythm(hour.hour)
    drawn = min(int(rng.poisson(expected)), installed)
    returning = rng.choice(installed, drawn, replace=False)
    returning = returning[population.started_before(hour, returning)]  # no spin before the first session
    newcomers = population.first_sessions_between(
        hour, hour + timedelta(hours=1), settings.first_session_max_delay
    )
    users = np.sort(np.concatenate([returning, newcomers]))  # every first session spins in its hour
    n = len(users)
    if n == 0:
        return pd.DataFrame(columns=[*COLUMNS, "op"])

    spins = rng.poisson(30, n) + 1
    coins_bet = spins * BET_SIZES[rng.integers(0, len(BET_SIZES), n)]
    coins_won = np.round(coins_bet * rng.gamma(20, RETURN_TO_PLAYER / 20, n)).astype("int64")
    closed = np.datetime64(pd.Timestamp(hour).to_datetime64(), "s") + np.timedelta64(3600, "s")
    is_late = rng.random(n) < settings.late_rate
    delay_s = np.where(
        is_late,
        rng.integers(3600, max(3601, int(settings.late_max.total_seconds())), n),
        rng.integers(5, 600, n),
    )
    created = closed + delay_s.astype("timedelta64[s]")
    created_at = format_seconds(created)
    app_hour = np.full(n, f"{hour:%Y-%m-%dT%H:00:00Z}", dtype=object)
    user_id = population.user_id[users].copy()

    malformed = rng.random(n) < settings.malformed_rate
    kind = rng.choice(3, n)
    spins = np.where(malformed & (kind == 0), -spins, spins).astype("float64")
    user_id[malformed & (kind == 1)] = None
    app_hour[malformed & (kind == 2)] = f"{hour:%Y-%m-%dT%H}:{17 + hour.hour:02d}:00Z"

    duplicated = np.flatnonzero(rng.random(n) < settings.duplicate_rate)
    corrected = np.flatnonzero((rng.random(n) < settings.correction_rate) & ~malformed)
    extra = rng.poisson(3, n) + 1
    corrected_at = created + rng.integers(600, 6 * 3600, n).astype("timedelta64[s]")
    rows, op = versions(n, duplicated, corrected)
    more = np.where(op == "update", extra[rows], 0)  # a correction adds spins (and their bets)
    return pd.DataFrame(
        {
            "app_hour": app_hour[rows],
            "user_id": user_id[rows],
            "country": population.country[users[rows]],
            "total_spins": spins[rows] + more,
            "coins_bet": coins_bet[rows] + more * 10,
            "coins_won": coins_won[rows],
            "created_at": created_at[rows],
            "updated_at": np.concatenate(
                [created_at[rows[op == "insert"]], format_seconds(corrected_at[corrected])]
            ),
            "op": op,
        }
    )


def generate(
    start: datetime, end: datetime, population: Population, settings: SimulatorSettings
) -> pd.DataFrame:
    """Every version of spins rows whose app hour falls in [start, end), in change-time order."""
    return generate_hours(
        generate_hour, COLUMNS, ["updated_at", "app_hour", "user_id"], start, end, population, settings
    )


def max_change_delay(settings: SimulatorSettings) -> timedelta:
    """How long after its app hour a spins row can still change (late arrival plus a correction)."""
    return settings.late_max + timedelta(hours=8)

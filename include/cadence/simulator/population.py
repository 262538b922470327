"""The stable user population shared by purchases, spins and MMP data.

Users are ordered by install time, so "who is installed at time t" is a prefix of the population and the
same seed always yields the same ids, countries, platforms and install dates.

Each user has one timeline: install (what the MMP reports) → first session a few minutes later (when the
game first sees them: their first spins hour) → later spins and purchases, never before the first session.
So a user's first-seen day in the game data is their install day, unless the first session crosses
midnight or the first spins row is lost (malformed, quarantined).
"""

from __future__ import annotations

import functools
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

import numpy as np
import pandas as pd

from cadence.config import COUNTRY_WEIGHTS, PLATFORM_WEIGHTS, SimulatorSettings

PAYER_SHARE = 0.2  # only a fifth of players ever pay, as in most free-to-play games
_POPULATION_STREAM = 0
_SESSION_STREAM = 3  # first sessions: a stream of their own, so ids, countries and payers stay as they were


@dataclass(frozen=True)
class Population:
    user_id: np.ndarray  # str, ordered by install time
    country: np.ndarray
    platform: np.ndarray
    installed_at: np.ndarray  # datetime64[s], ascending
    is_payer: np.ndarray  # bool
    first_session_at: np.ndarray  # datetime64[s], installed_at + a short delay (not sorted)

    def __len__(self) -> int:
        return len(self.user_id)

    def installed_before(self, moment: datetime) -> int:
        """How many users have installed before ``moment`` (they are the first N of the population)."""
        return int(np.searchsorted(self.installed_at, np.datetime64(_naive_utc(moment), "s"), side="right"))

    def started_before(self, moment: datetime, users: np.ndarray) -> np.ndarray:
        """Which of ``users`` had their first session before ``moment`` (only they can spin or pay then)."""
        return self.first_session_at[users] < np.datetime64(_naive_utc(moment), "s")

    def first_sessions_between(self, start: datetime, end: datetime, max_delay: timedelta) -> np.ndarray:
        """The users whose first session falls in [start, end), in population order."""
        lo = self.installed_before(start - max_delay - timedelta(seconds=1))  # whoever can start at ``start``
        hi = self.installed_before(end)
        sessions = self.first_session_at[lo:hi]
        bounds = [np.datetime64(_naive_utc(moment), "s") for moment in (start, end)]
        return lo + np.flatnonzero((sessions >= bounds[0]) & (sessions < bounds[1]))

    def frame(self) -> pd.DataFrame:
        return pd.DataFrame(
            {
                "user_id": self.user_id,
                "country": self.country,
                "platform": self.platform,
                "installed_at": pd.to_datetime(self.installed_at).tz_localize(UTC),
                "is_payer": self.is_payer,
                "first_session_at": pd.to_datetime(self.first_session_at).tz_localize(UTC),
            }
        )


def _naive_utc(moment: datetime) -> datetime:
    return moment.astimezone(UTC).replace(tzinfo=None) if moment.tzinfo else moment


@functools.cache
def build_population(settings: SimulatorSettings) -> Population:
    rng = np.random.default_rng([settings.seed, _POPULATION_STREAM])
    n = settings.scaled_users
    start = np.datetime64(settings.population_start.isoformat(), "s")
    offsets = np.sort(rng.uniform(0, settings.install_span_days * 86_400, n)).astype("int64")
    countries = list(COUNTRY_WEIGHTS)
    platforms = list(PLATFORM_WEIGHTS)
    installed_at = start + offsets.astype("timedelta64[s]")
    return Population(
        user_id=np.array([f"u{i:06d}" for i in range(n)], dtype=object),
        country=np.array(countries, dtype=object)[
            rng.choice(len(countries), n, p=list(COUNTRY_WEIGHTS.values()))
        ],
        platform=np.array(platforms, dtype=object)[
            rng.choice(len(platforms), n, p=list(PLATFORM_WEIGHTS.values()))
        ],
        installed_at=installed_at,
        is_payer=rng.random(n) < PAYER_SHARE,
        first_session_at=installed_at + first_session_delays(settings, n).astype("timedelta64[s]"),
    )


def first_session_delays(settings: SimulatorSettings, n: int) -> np.ndarray:
    """Install-to-first-session delays in seconds: exponential, at least 1 s, capped at the configured max."""
    rng = np.random.default_rng([settings.seed, _SESSION_STREAM])
    mean = settings.first_session_delay.total_seconds()
    cap = settings.first_session_max_delay.total_seconds()
    return np.clip(rng.exponential(mean, n), 1, cap).astype("int64")


def generate_hours(
    generate_hour, columns: list[str], order: list[str], start: datetime, end: datetime,
    population: Population, settings: SimulatorSettings,
) -> pd.DataFrame:  # fmt: skip
    """Every version generated for the event hours in [start, end), in change-time order."""
    frames = [generate_hour(hour, population, settings) for hour in hours_between(start, end)]
    frames = [frame for frame in frames if len(frame)]
    if not frames:
        return pd.DataFrame(columns=[*columns, "op"])
    versions = pd.concat(frames, ignore_index=True)
    return versions.sort_values(order, kind="stable", ignore_index=True)


def versions(n: int, duplicated: np.ndarray, updated: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """The versions of an hour's ``n`` rows, in the order they are generated: the inserts, the duplicate
    deliveries of ``duplicated``, then the updates of ``updated``. Returns the row index of each version and
    its op ("insert" or "update")."""
    rows = np.concatenate([np.arange(n), duplicated, updated])
    op = np.array(["insert"] * (len(rows) - len(updated)) + ["update"] * len(updated), dtype=object)
    return rows, op


def hours_between(start: datetime, end: datetime) -> list[datetime]:
    """The UTC hour starts covering [start, end)."""
    first = start.astimezone(UTC).replace(minute=0, second=0, microsecond=0)
    hours = []
    while first < end:
        hours.append(first)
        first += timedelta(hours=1)
    return hours

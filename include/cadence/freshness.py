"""How fresh each bronze source is, and the conf one cadence sends the other when it is stale.

Freshness is read from the lake itself: the newest bronze file of a source names the end of the window it
covers. It is measured against the *run's window end*, not the wall clock, so the same run gives the same
answer when replayed and a backfill of old data does not look stale. All times are timezone-aware UTC.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

from cadence import lake
from cadence.config import Settings
from cadence.lake import WINDOW_FORMAT

TRIGGERED_BY = "triggered_by"


@dataclass(frozen=True)
class Freshness:
    source: str
    latest_window_end: datetime | None  # None: the source never landed
    reference: datetime
    limit: timedelta

    @property
    def lag(self) -> timedelta | None:
        return None if self.latest_window_end is None else self.reference - self.latest_window_end

    @property
    def is_stale(self) -> bool:
        return self.latest_window_end is None or self.lag > self.limit

    def describe(self) -> str:
        if self.latest_window_end is None:
            return f"bronze {self.source} has never landed"
        state = "stale" if self.is_stale else "fresh"
        return (
            f"bronze {self.source} is {state}: newest window ends "
            f"{self.latest_window_end:%Y-%m-%d %H:%M} UTC, {self.lag} before "
            f"{self.reference:%Y-%m-%d %H:%M} UTC (limit {self.limit})"
        )


def latest_window_end(settings: Settings, source: str) -> datetime | None:
    """End of the newest bronze window of ``source``, from the file names of its newest partition."""
    folder = lake.root(settings) / "bronze" / source
    if not folder.exists():
        return None
    for partition in sorted((p for p in folder.iterdir() if p.name.startswith("dt=")), reverse=True):
        ends = [
            datetime.strptime(path.stem.rsplit("_", 1)[1], WINDOW_FORMAT).replace(tzinfo=UTC)
            for path in partition.iterdir()
            if path.suffix == ".parquet" and not path.name.startswith(".")
        ]
        if ends:
            return max(ends)
    return None


def check(settings: Settings, source: str, reference: datetime, limit: timedelta) -> Freshness:
    return Freshness(source, latest_window_end(settings, source), reference, limit)


def _iso(moment: datetime) -> str:
    return moment.astimezone(UTC).isoformat()


def catch_up_conf(
    triggered_by: str, freshness: Freshness, start_if_never: datetime, max_range: timedelta, *, hourly: bool
) -> dict | None:
    """Conf for a run that closes the gap of a stale source (None when there is no gap to close).

    ``hourly`` aligns the range to whole hours for the hourly cadence.
    """
    end = freshness.reference
    start = freshness.latest_window_end or start_if_never
    if hourly:
        end = end.replace(minute=0, second=0, microsecond=0)
        start = start.replace(minute=0, second=0, microsecond=0)
    start = max(start, end - max_range)
    if start >= end:
        return None
    return {
        TRIGGERED_BY: triggered_by,
        "trigger_reason": freshness.describe(),
        "is_full_refresh": False,
        "backfill_start": _iso(start),
        "backfill_end": _iso(end),
    }


def carried_conf(triggered_by: str, params: dict, reason: str) -> dict:
    """Conf that carries this run's own full refresh / backfill range over to the other cadence."""
    return {
        TRIGGERED_BY: triggered_by,
        "trigger_reason": reason,
        "is_full_refresh": bool(params.get("is_full_refresh")),
        "backfill_start": params.get("backfill_start"),
        "backfill_end": params.get("backfill_end"),
    }

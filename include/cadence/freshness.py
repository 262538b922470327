"""How fresh each bronze source is, and the conf one cadence sends the other when it is stale.

Freshness is about data, as in dbt's source freshness: a source is fresh when bronze holds a row that
changed within the limit before the reference. Landing empty windows does not keep it fresh, so a source
whose feed went quiet goes stale just like one whose DAG stopped landing. The reference is the *run's
window end*, not the wall clock, so a replay gives the same answer and a backfill is judged on its own
period. All times are timezone-aware UTC.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.parquet as pq

from cadence import lake
from cadence.config import Settings

TRIGGERED_BY = "triggered_by"


@dataclass(frozen=True)
class Freshness:
    source: str
    reference: datetime
    limit: timedelta
    latest_change: datetime | None  # newest change time in (reference - limit, reference]; None: no row
    latest_window_end: datetime | None  # end of the newest landed window; None: never landed

    @property
    def is_stale(self) -> bool:
        return self.latest_change is None

    @property
    def lag(self) -> timedelta | None:
        return None if self.latest_change is None else self.reference - self.latest_change

    def describe(self) -> str:
        if self.latest_window_end is None:
            return f"bronze {self.source} has never landed"
        if self.latest_change is None:
            return (
                f"bronze {self.source} is stale: no row changed in the {self.limit} before "
                f"{self.reference:%Y-%m-%d %H:%M} UTC (newest landed window ends "
                f"{self.latest_window_end:%Y-%m-%d %H:%M} UTC)"
            )
        return (
            f"bronze {self.source} is fresh: newest row changed {self.latest_change:%Y-%m-%d %H:%M:%S} UTC, "
            f"{self.lag} before {self.reference:%Y-%m-%d %H:%M} UTC (limit {self.limit})"
        )


def latest_change(settings: Settings, source: str, since: datetime, until: datetime) -> datetime | None:
    """Newest change time in (since, until] among the rows of bronze ``source`` (None: no row)."""
    from cadence.sources import get_spec

    column_name = get_spec(source, settings).change_column
    newest = None
    folder = lake.root(settings) / "bronze" / source
    # a bronze window lasts at most a day
    for path, _ in lake.files_overlapping(folder, ".parquet", since, until, timedelta(days=1)):
        with path.open("rb") as handle:
            column = pq.read_table(handle, columns=[column_name]).column(0)
        after, up_to = (pa.scalar(moment, type=column.type) for moment in (since, until))
        in_span = pc.filter(column, pc.and_(pc.greater(column, after), pc.less_equal(column, up_to)))
        value = pc.max(in_span).as_py()
        if value is not None and (newest is None or value > newest):
            newest = value
    return newest


def latest_window_end(settings: Settings, source: str) -> datetime | None:
    """End of the newest bronze window of ``source``, from the file names of its newest partition."""
    folder = lake.root(settings) / "bronze" / source
    if not folder.exists():
        return None
    for partition in sorted((p for p in folder.iterdir() if p.name.startswith("dt=")), reverse=True):
        ends = [lake.window_of(path).end for path in lake.landed_files(partition, ".parquet")]
        if ends:
            return max(ends)
    return None


def check(settings: Settings, source: str, reference: datetime, limit: timedelta) -> Freshness:
    return Freshness(
        source,
        reference,
        limit,
        latest_change(settings, source, reference - limit, reference),
        latest_window_end(settings, source),
    )


def _iso(moment: datetime) -> str:
    return moment.astimezone(UTC).isoformat()


def catch_up_conf(
    triggered_by: str, freshness: Freshness, start_if_never: datetime, max_range: timedelta, *, hourly: bool
) -> dict | None:
    """Conf for a run that closes the gap of a stale source (None when there is no gap to close).

    The range starts where landing stopped, or a limit before the reference when windows kept landing
    (a quiet feed: re-extract the span that has no rows), or at ``start_if_never`` when the source never
    landed; it is at most ``max_range`` long. ``hourly`` aligns it to whole hours for the hourly cadence.
    """
    end = freshness.reference
    start = start_if_never
    if freshness.latest_window_end is not None:
        start = min(freshness.latest_window_end, end - freshness.limit)
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

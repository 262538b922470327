"""The lake: bronze, quarantine and run-log files behind Airflow's ``ObjectStoragePath``.

The same code writes to ``file://`` on a laptop and ``gs://`` in production. Every file has a deterministic
path derived from its source and window, and is written to a temporary name first and renamed into place,
so a rerun replaces a file whole and a failed task never leaves a half-written one behind.
"""

from __future__ import annotations

import io
import json
import uuid
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import TYPE_CHECKING

from cadence.config import Settings

if TYPE_CHECKING:  # pyarrow is imported where Parquet is read or written: parsing a DAG file needs neither
    import pyarrow as pa

WINDOW_FORMAT = "%Y%m%dT%H%M"


@dataclass(frozen=True)
class Window:
    """A half-open UTC interval [start, end) that a run is responsible for."""

    start: datetime
    end: datetime

    def __post_init__(self) -> None:
        if self.start.tzinfo is None or self.end.tzinfo is None:
            raise ValueError(f"window bounds must be timezone-aware UTC, got {self.start} and {self.end}")
        if self.end <= self.start:
            raise ValueError(f"window end {self.end.isoformat()} is not after start {self.start.isoformat()}")

    @property
    def label(self) -> str:
        return f"{self.start:{WINDOW_FORMAT}}_{self.end:{WINDOW_FORMAT}}"

    def split(self, size) -> list[Window]:
        """Consecutive windows of ``size`` covering this one (the last may be shorter)."""
        windows, cursor = [], self.start
        while cursor < self.end:
            windows.append(Window(cursor, min(cursor + size, self.end)))
            cursor += size
        return windows


def window_of(path) -> Window:
    """The window a lake file covers, read back from its name (the inverse of ``Window.label``)."""
    start, end = path.stem.rsplit("_", 2)[1:]
    return Window(*(datetime.strptime(v, WINDOW_FORMAT).replace(tzinfo=UTC) for v in (start, end)))


def landed_files(partition, suffix: str) -> list:
    """The files of one ``dt=`` partition, without the temporaries of writes still in flight."""
    return [path for path in partition.iterdir() if path.suffix == suffix and not path.name.startswith(".")]


def files_overlapping(folder, suffix: str, since: datetime, until: datetime, longest: timedelta):
    """The files below ``folder`` whose window overlaps [since, until), each with its window.

    A file lives in the ``dt=`` partition of its window's start day, and no window there lasts longer than
    ``longest``, so only the partitions from ``since - longest`` to ``until`` are listed."""
    day = (since - longest).date()
    while day <= until.date():
        partition = folder / f"dt={day:%Y-%m-%d}"
        if partition.exists():
            for path in landed_files(partition, suffix):
                window = window_of(path)
                if window.end > since and window.start < until:
                    yield path, window
        day += timedelta(days=1)


def root(settings: Settings):
    from airflow.sdk import ObjectStoragePath  # lazy: importing the SDK costs seconds

    return ObjectStoragePath(settings.lake_url, conn_id=settings.lake_conn_id)


def _partitioned(settings: Settings, zone: str, source: str, window: Window, suffix: str, variant: str = ""):
    name = f"{source}_{variant + '_' if variant else ''}{window.label}{suffix}"
    return root(settings) / zone / source / f"dt={window.start:%Y-%m-%d}" / name


def bronze_path(settings: Settings, source: str, window: Window, variant: str = ""):
    """``bronze/<source>/dt=<day>/<source>[_<variant>]_<window>.parquet``; a variant (``workbook``) names
    files of another producer, which the same bronze source reads but a cadence window never overwrites."""
    return _partitioned(settings, "bronze", source, window, ".parquet", variant)


def quarantine_path(settings: Settings, source: str, window: Window, variant: str = ""):
    return _partitioned(settings, "quarantine", source, window, ".parquet", variant)


def run_log_path(settings: Settings, job: str, window: Window):
    return _partitioned(settings, "ops/run_log", job, window, ".json")


def write_atomic(path, payload: bytes) -> None:
    """Write ``payload`` to ``path`` via a temporary sibling, so readers never see a partial file."""
    path.parent.mkdir(parents=True, exist_ok=True)
    temporary = path.with_name(f".{path.name}.{uuid.uuid4().hex}.tmp")
    try:
        with temporary.open("wb") as handle:
            handle.write(payload)
        temporary.rename(path)
    finally:
        if temporary.exists():
            temporary.unlink()


def write_parquet(path, table: pa.Table) -> None:
    import pyarrow.parquet as pq

    buffer = io.BytesIO()
    pq.write_table(table, buffer, compression="zstd")
    write_atomic(path, buffer.getvalue())


def read_parquet(path) -> pa.Table:
    import pyarrow.parquet as pq

    with path.open("rb") as handle:
        return pq.read_table(handle)


def write_json(path, record: dict) -> None:
    write_atomic(path, (json.dumps(record, sort_keys=True, default=str) + "\n").encode())


def remove(path) -> None:
    if path.exists():
        path.unlink()


def write_quarantine(path, rejected: pa.Table | None) -> bool:
    """Write the rejected rows of a window to ``path``, or, when there are none, remove the file an earlier
    run left there: a rerun that now finds nothing wrong leaves no stale quarantine. True if written."""
    if rejected is not None and rejected.num_rows:
        write_parquet(path, rejected)
        return True
    remove(path)
    return False

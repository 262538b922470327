"""One run-log record per job and window, the same shape for every job (ingest, gold, KPIs, MMP, workbook).

Written to ``ops/run_log/<job>/dt=<day>/<job>_<window>.json`` (a rerun of a window overwrites its record),
read by pipeline-health monitoring (``ops_lake.run_log``). Jobs that extract rows carry the row counts,
which must add up; the others leave them NULL. Job-specific facts go in ``details``, written beside the
common fields.
"""

from __future__ import annotations

import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import asdict, dataclass, field
from datetime import datetime

from cadence import lake
from cadence.config import Settings
from cadence.lake import Window


@dataclass
class RunRecord:
    job: str
    window_start: datetime
    window_end: datetime
    status: str = "running"  # running | success | failed
    run_id: str | None = None
    started_at: datetime | None = None
    duration_s: float | None = None
    error: str | None = None
    extract_start: datetime | None = None
    rows_extracted: int | None = None  # NULL for jobs that do not extract
    rows_valid: int | None = None
    rows_quarantined: int | None = None
    rows_landed: int | None = None
    rule_failures: dict | None = None
    details: dict = field(default_factory=dict)

    @classmethod
    def landing(
        cls, job: str, window: Window, *, extract_start: datetime | None = None, **fields
    ) -> RunRecord:
        """A record of a job that lands rows: the counts start at zero and must add up when it succeeds."""
        counts = dict.fromkeys(("rows_extracted", "rows_valid", "rows_quarantined", "rows_landed"), 0)
        return cls(
            job,
            window.start,
            window.end,
            extract_start=extract_start or window.start,
            duration_s=0.0,
            **{**counts, **fields},
        )

    @property
    def window(self) -> Window:
        return Window(self.window_start, self.window_end)

    def failed(self, error: BaseException) -> None:
        self.status, self.error = "failed", f"{type(error).__name__}: {error}"

    def check_counts(self) -> None:
        """Every extracted row is valid or quarantined, and every valid row landed."""
        if (
            self.rows_extracted != self.rows_valid + self.rows_quarantined
            or self.rows_landed != self.rows_valid
        ):
            raise AssertionError(f"row counts do not add up for {self.job} {self.window_start}: {self}")

    def as_json(self) -> dict:
        record = asdict(self)
        details = record.pop("details")
        for key in ("window_start", "window_end", "extract_start", "started_at"):
            record[key] = record[key].isoformat() if record[key] else None
        return {**record, **details}

    @contextmanager
    def recorded(self, settings: Settings) -> Iterator[RunRecord]:
        """Do the job inside: the record ends ``success``, or ``failed`` with the error (re-raised), and is
        written with the job's duration either way, so a failed window is never missing from the log."""
        clock = time.monotonic()
        try:
            yield self
            self.status = "success"
        except Exception as error:
            self.failed(error)
            raise
        finally:
            self.duration_s = round(time.monotonic() - clock, 3)
            self.write(settings)

    def write(self, settings: Settings) -> dict:
        """Write (or overwrite) this window's record in the lake; returns what was written."""
        record = self.as_json()
        lake.write_json(lake.run_log_path(settings, self.job, self.window), record)
        return record


@contextmanager
def recorded_together(settings: Settings, records: list[RunRecord]) -> Iterator[list[RunRecord]]:
    """:meth:`RunRecord.recorded` for several records done in one piece of work (a validation batch): the
    work inside marks each record ``success``; those it did not end ``failed`` with the error (re-raised).
    Each record gets an equal share of the work's duration added, and every one is written."""
    clock = time.monotonic()
    try:
        yield records
    except Exception as error:
        for record in records:
            if record.status != "success":
                record.failed(error)
        raise
    finally:
        share = (time.monotonic() - clock) / len(records)
        for record in records:
            record.duration_s = round((record.duration_s or 0.0) + share, 3)
            record.write(settings)


def summarize(records: list[RunRecord]) -> dict:
    """The counts of a run's records, summed (the land tasks' XCom)."""
    keys = ("rows_extracted", "rows_valid", "rows_quarantined", "rows_landed")
    return {"windows": len(records), **{key: sum(getattr(r, key) or 0 for r in records) for key in keys}}

"""Read → validate → land one workbook for one range: bronze, quarantine, run log and Data Docs.

The range is a window like a cadence's (half-open, UTC, whole hours): given by the caller, or the workbook's
own whole UTC days. Files land under a name of their own, ``bronze/<source>/dt=<start>/<source>_workbook_
<start>_<end>.parquet``, read by the same bronze sources as the cadences' files (same folder and schema)
but never overwriting one: a rerun of the same range replaces exactly its own files (idempotent; a
corrected workbook gets a newer version, see :func:`versioned`), and a cadence window never collides with
it. Where the workbook and a cadence hold the same key (a transaction, an hour x user x country), silver
keeps one row, the version with the latest ``updated_at``: the workbook's rows carry the end of the range,
so a cadence change after the range (a late correction, a refund) wins and an older cadence version does
not.

Every check runs before the first write, so a refused workbook changes nothing. The run log gets one
record per sheet (``workbook_spins_hourly``, ``workbook_purchases``) whose counts add up: rows read = rows
outside the range + rows valid + rows quarantined, and rows landed = rows valid - rows merged (partial
spins rows summed into one).
"""

from __future__ import annotations

import logging
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import PurePosixPath

import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc

from cadence import lake, sources
from cadence.config import Settings
from cadence.lake import Window
from cadence.planning import parse_moment, window_vars
from cadence.runlog import RunRecord
from cadence.workbook import WorkbookError, checks, mapping, reader

log = logging.getLogger(__name__)
VARIANT = "workbook"  # lake files of an import are named <source>_workbook_<window>: never a cadence's
SOURCES = {"spins_hourly": reader.SPINS, "purchases": reader.PURCHASES}


# --- where things are ---------------------------------------------------------------------------------------


def resolve(location: str, settings: Settings):
    """The workbook as an ``ObjectStoragePath``: a path relative to the lake root, or an absolute location.

    ``uploads/moc.xlsx`` is in the lake; ``/data/moc.xlsx``, ``file:///data/moc.xlsx``, ``gs://bucket/moc.xlsx``
    are uploaded files anywhere the workers can read.
    """
    from airflow.sdk import ObjectStoragePath

    text = str(location).strip()
    if not text:
        raise WorkbookError("no workbook given: pass the path of the .xlsx file")
    if "://" in text:
        conn_id = None if text.startswith("file://") else settings.lake_conn_id
        return ObjectStoragePath(text, conn_id=conn_id)
    if text.startswith("/"):
        return ObjectStoragePath(PurePosixPath(text).as_uri())
    if ".." in PurePosixPath(text).parts:
        raise WorkbookError(f"workbook path {text!r} must stay inside the lake (no '..')")
    return lake.root(settings) / text


def outputs(workbook) -> dict:
    """Where an import writes its results: next to the workbook, named after it."""
    return {
        "csv": workbook.parent / f"{workbook.stem}_gold.csv",
        "xlsx": workbook.parent / f"{workbook.stem}_gold.xlsx",
        "data_docs": workbook.parent / f"{workbook.stem}_data_docs",
    }


# --- the range ----------------------------------------------------------------------------------------------


def plan_window(
    dates: list[pd.Series], start=None, end=None, *, max_range: timedelta, name: str = "the workbook"
) -> Window:
    """The import range: [start, end) when given (whole hours), else the whole UTC days the dates cover."""
    if bool(start) != bool(end):
        raise WorkbookError(f"a range needs both a start and an end; {'end' if start else 'start'} is empty")
    if start:
        window_start = parse_moment("range start", start, WorkbookError)
        window_end = parse_moment("range end", end, WorkbookError)
        for label, moment in (("range start", window_start), ("range end", window_end)):
            if moment != moment.replace(minute=0, second=0, microsecond=0):
                raise WorkbookError(f"{label} {moment.isoformat()} is not on the hour")
        if window_end <= window_start:
            raise WorkbookError(
                f"range end {window_end.isoformat()} is not after range start {window_start.isoformat()}"
            )
    else:
        known = pd.concat([d.dropna() for d in dates])
        if known.empty:
            raise WorkbookError(f"no row of {name} has a readable date: there is nothing to import")
        window_start = known.min().floor("D").to_pydatetime()
        window_end = (known.max().floor("D") + pd.Timedelta(days=1)).to_pydatetime()
    if window_end - window_start > max_range:
        raise WorkbookError(
            f"the range {window_start:%Y-%m-%d %H:%M} to {window_end:%Y-%m-%d %H:%M} UTC is longer than "
            f"{max_range.days} days; pass a shorter range, check the dates, or raise "
            "CADENCE_WORKBOOK__MAX_RANGE"
        )
    return Window(window_start, window_end)


def _in_window(frame: pd.DataFrame, column: str, window: Window) -> pd.Series:
    """Rows that belong to the import: dated inside the window, or undated (they are quarantined)."""
    moment = frame[column]
    start, end = pd.Timestamp(window.start), pd.Timestamp(window.end)
    return moment.isna() | ((moment >= start) & (moment < end))


# --- the import -----------------------------------------------------------------------------------------


@dataclass
class SheetReport:
    """What happened to one sheet's rows; written to the run log."""

    job: str
    sheet: str
    rows_read: int = 0
    rows_outside_range: int = 0
    rows_extracted: int = 0  # rows in the range: the run log's usual name
    rows_valid: int = 0
    rows_quarantined: int = 0
    rows_merged: int = 0  # valid rows folded into another (partial spins rows of one key)
    rows_landed: int = 0
    rule_failures: dict = field(default_factory=dict)
    warnings: dict = field(default_factory=dict)

    def check_counts(self) -> None:
        if (
            self.rows_read != self.rows_outside_range + self.rows_extracted
            or self.rows_extracted != self.rows_valid + self.rows_quarantined
            or self.rows_landed != self.rows_valid - self.rows_merged
        ):
            raise AssertionError(f"row counts of sheet {self.sheet!r} do not add up: {self}")


@dataclass
class ImportResult:
    workbook: str
    engine: str
    window: Window
    sheets: dict[str, SheetReport]
    headers: dict[str, str]  # Spins Hourly headers as the analyst wrote them, for the filled-in export
    files: dict[str, str]  # what was written: bronze, quarantine, run log, Data Docs index
    timings: dict[str, float]  # seconds per phase: read, validate, land, docs

    def dbt_vars(self) -> dict[str, str]:
        return window_vars(self.window)

    def summary(self) -> dict:
        """JSON-friendly (an XCom): the dbt window, the counts, and where the outputs go."""
        return {
            **self.dbt_vars(),
            "workbook": self.workbook,
            "engine": self.engine,
            "sheets": {name: vars(report) for name, report in self.sheets.items()},
            "headers": self.headers,
            "files": self.files,
            "timings": self.timings,
        }


class _Clock:
    """Wall seconds per phase, and CPU seconds as ``<phase>_cpu`` (steadier on a busy machine)."""

    def __init__(self) -> None:
        self.seconds: dict[str, float] = {}

    @contextmanager
    def __call__(self, phase: str) -> Iterator[None]:
        wall, cpu = time.perf_counter(), time.process_time()
        try:
            yield
        finally:
            for key, spent in (
                (phase, time.perf_counter() - wall),
                (f"{phase}_cpu", time.process_time() - cpu),
            ):
                self.seconds[key] = round(self.seconds.get(key, 0.0) + spent, 4)


def _read_bytes(path) -> bytes:
    try:
        if not path.exists():
            raise WorkbookError(f"workbook {path} does not exist")
        if path.is_dir():
            raise WorkbookError(f"workbook {path} is a folder, not a file")
        with path.open("rb") as handle:
            return handle.read()
    except WorkbookError:
        raise
    except OSError as error:
        raise WorkbookError(f"workbook {path} cannot be read: {error}") from None


def import_workbook(
    settings: Settings,
    location: str,
    start=None,
    end=None,
    *,
    run_id: str | None = None,
    data_docs: bool = True,
) -> ImportResult:
    """Import one workbook into bronze for its range; the caller then builds silver and gold (dbt)."""
    clock, started_at = _Clock(), datetime.now(UTC)
    with clock("read"):
        path = resolve(location, settings)
        raw = reader.read_workbook(_read_bytes(path), str(path), settings.workbook.max_rows)

    with clock("validate"):
        frames = {
            "spins_hourly": mapping.spins_frame(raw.spins),
            "purchases": mapping.purchases_frame(raw.purchases),
        }
        dated = {"spins_hourly": "app_hour", "purchases": "purchased_at"}
        dates = [frames[source][column] for source, column in dated.items()]
        window = plan_window(dates, start, end, max_range=settings.workbook.max_range, name=str(path))
        inside = {source: _in_window(frames[source], column, window) for source, column in dated.items()}
        if not any((inside[s] & frames[s][c].notna()).any() for s, c in dated.items()):
            raise WorkbookError(
                f"{path} has no rows from {window.start:%Y-%m-%d %H:%M} to {window.end:%Y-%m-%d %H:%M} UTC"
            )
        reports = {
            source: SheetReport(
                job=f"workbook_{source}",
                sheet=SOURCES[source].name,
                rows_read=len(frames[source]),
                rows_outside_range=int((~inside[source]).sum()),
                rows_extracted=int(inside[source].sum()),
            )
            for source in frames
        }
        validator = checks.Validator(f"workbook {path.name} {window.label}")
    try:
        with clock("validate"):
            spins_in = frames["spins_hourly"][inside["spins_hourly"]]
            spins = validator.split(spins_in, "workbook_spins_hourly", checks.spins_rules(settings))
            fractions = spins_in[[mapping.ROW, "total_spins_fraction"]]  # a narrow frame: cheaper for GX
            warnings = validator.warnings(fractions, "workbook_spins_hourly_warnings", checks.SPINS_WARNINGS)
            summed = mapping.sum_spins(spins.valid)
            purchases_in = frames["purchases"][inside["purchases"]]
            purchases_in = purchases_in.assign(country=mapping.attribute_countries(purchases_in, summed))
            purchases = validator.split(purchases_in, "workbook_purchases", checks.purchases_rules(settings))

        with clock("land"):
            specs = {name: sources.get_spec(name, settings) for name in frames}
            bronze = {
                "spins_hourly": mapping.spins_bronze(summed, specs["spins_hourly"], window),
                "purchases": mapping.purchases_bronze(purchases.valid, specs["purchases"], window),
            }
            splits = {"spins_hourly": spins, "purchases": purchases}
            sheets = {"spins_hourly": raw.spins, "purchases": raw.purchases}
            for source, report in reports.items():
                split = splits[source]
                report.rows_valid, report.rows_quarantined = len(split.valid), len(split.rejected)
                report.rows_landed = bronze[source].num_rows
                report.rows_merged = report.rows_valid - report.rows_landed
                report.rule_failures = split.failures
                report.check_counts()
            reports["spins_hourly"].warnings = warnings
            files = _land(settings, window, bronze, splits, sheets, reports, run_id, started_at, str(path))

        if data_docs:
            with clock("docs"):
                docs = outputs(path)["data_docs"]
                if docs.exists():
                    docs.rmdir(recursive=True)
                index = validator.write_docs(lambda name, payload: lake.write_atomic(docs / name, payload))
                files["data_docs"] = str(docs / index)
    finally:
        validator.close()

    result = ImportResult(str(path), raw.engine, window, reports, raw.spins.headers, files, clock.seconds)
    log.info("imported %s for %s: %s", path, window.label, {k: vars(v) for k, v in reports.items()})
    return result


def versioned(target, table: pa.Table) -> pa.Table:
    """``table`` with the ``updated_at`` its rows carry, given the file an earlier import left at ``target``.

    Rows land with ``updated_at`` = the range end. A re-import of the same range with the same content gets
    the earlier file's version back (identical bytes: idempotent). With different content (a corrected
    workbook) it gets a version one microsecond newer than the earlier file's, so silver, which keeps the
    latest ``updated_at`` of a key, takes the corrected rows instead of tying with the earlier import's.
    """
    if not target.exists():
        return table
    previous = lake.read_parquet(target)
    before = pc.max(previous["updated_at"]).as_py()
    if before is None:
        return table
    stamps = ["created_at", "updated_at"]
    same = previous.drop_columns(stamps).equals(table.drop_columns(stamps))
    version = before if same else before + timedelta(microseconds=1)
    column = table.schema.get_field_index("updated_at")
    stamp = pa.repeat(pa.scalar(version, type=table.schema.field(column).type), table.num_rows)
    return table.set_column(column, table.schema.field(column), stamp)


def _land(settings, window, bronze, splits, sheets, reports, run_id, started_at, workbook) -> dict[str, str]:
    """Write bronze, quarantine (or remove a stale one) and one run-log record per sheet."""
    files: dict[str, str] = {}
    for source, table in bronze.items():
        target = lake.bronze_path(settings, source, window, VARIANT)
        lake.write_parquet(target, versioned(target, table))
        files[f"bronze_{source}"] = str(target)
        quarantine = lake.quarantine_path(settings, source, window, VARIANT)
        split = splits[source]
        rejected = (
            mapping.quarantine_table(sheets[source], split.rejected, split.reasons, window)
            if len(split.rejected)
            else None
        )
        if lake.write_quarantine(quarantine, rejected):
            files[f"quarantine_{source}"] = str(quarantine)
    for source, report in reports.items():
        record = RunRecord(
            report.job,
            window.start,
            window.end,
            status="success",
            run_id=run_id,
            started_at=started_at,
            duration_s=round((datetime.now(UTC) - started_at).total_seconds(), 3),
            rows_extracted=report.rows_extracted,
            rows_valid=report.rows_valid,
            rows_quarantined=report.rows_quarantined,
            rows_landed=report.rows_landed,
            rule_failures=report.rule_failures,
            details={
                "sheet": report.sheet,
                "rows_read": report.rows_read,
                "rows_outside_range": report.rows_outside_range,
                "rows_merged": report.rows_merged,
                "warnings": report.warnings,
                "workbook": workbook,
            },
        )
        record.write(settings)
        files[f"run_log_{source}"] = str(lake.run_log_path(settings, report.job, window))
    return files

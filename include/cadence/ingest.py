"""Extract → validate → land, in chunks, with one run-log record per chunk.

Every extracted row ends in bronze or in quarantine, and the record proves it
(``rows_extracted == rows_valid + rows_quarantined`` and ``rows_landed == rows_valid``). A failure writes a
``failed`` record for the window before re-raising, so pipeline-health monitoring sees it.
"""

from __future__ import annotations

import logging
import time
from dataclasses import replace
from datetime import UTC, datetime, timedelta

import pandas as pd

from cadence import docs, lake, quality, sources
from cadence.config import CadenceSettings, Settings
from cadence.lake import Window
from cadence.planning import RunContext
from cadence.runlog import RunRecord, recorded_together, summarize

log = logging.getLogger(__name__)


def _extract(settings: Settings, hook, spec: sources.SourceSpec, record: RunRecord) -> pd.DataFrame:
    """The rows of ``record``'s window (from its extract start); on failure its record is written failed."""
    from cadence.source_guard import require_source

    clock = time.monotonic()
    try:
        require_source(hook, settings.source_conn_id)  # SQLite would create a missing file empty
        return sources.extract(hook, spec, record.extract_start, record.window_end)
    except Exception as error:
        record.failed(error)
        raise
    finally:
        record.duration_s = round(time.monotonic() - clock, 3)
        if record.status == "failed":
            record.write(settings)


def _land(settings: Settings, spec: sources.SourceSpec, record: RunRecord, result: quality.ValidationResult):
    """Write one chunk's valid rows to bronze and its rejected rows to quarantine; fill in the counts."""
    window = record.window
    bronze = sources.to_bronze(result.valid, spec, window.start, window.end)
    lake.write_parquet(lake.bronze_path(settings, spec.name, window), bronze)
    rejected = result.quarantined
    lake.write_quarantine(
        lake.quarantine_path(settings, spec.name, window),
        sources.to_quarantine(rejected, spec, window.start, window.end) if len(rejected) else None,
    )
    record.rows_valid, record.rows_quarantined = len(result.valid), len(rejected)
    record.rows_landed = bronze.num_rows
    record.rule_failures = {k: v for k, v in result.rule_failures.items() if v}
    record.check_counts()
    record.status = "success"


def _land_batch(settings: Settings, spec: sources.SourceSpec, batch: list[tuple[RunRecord, pd.DataFrame]]):
    """Validate extracted chunks in one Great Expectations run (one Data Docs page), then land each chunk
    with its own record; every record is written, ``failed`` with the error if the batch failed."""
    if not batch:
        return
    records = [record for record, _ in batch]
    with recorded_together(settings, records):
        results = quality.validate_parts([raw for _, raw in batch], spec.name, spec.rules)
        span = Window(records[0].window_start, records[-1].window_end)
        docs.publish_validation(settings, spec.name, span, results[0].gx_result)
        for (record, raw), result in zip(batch, results, strict=True):
            record.rows_extracted = len(raw)
            _land(settings, spec, record, result)
    for record in records:
        log.info(
            "%s %s → %s: %d extracted, %d landed, %d quarantined %s",
            spec.name,
            record.window_start,
            record.window_end,
            record.rows_extracted,
            record.rows_landed,
            record.rows_quarantined,
            record.rule_failures or "",
        )


def ingest(
    settings: Settings,
    spec: sources.SourceSpec,
    window: Window,
    *,
    lookback: timedelta,
    chunk: timedelta,
    run_id: str | None = None,
    batch_rows: int | None = None,
) -> list[RunRecord]:
    """Land ``window`` in chunks of ``chunk``, one run-log record each; only the first chunk looks back.

    Rows whose change time is in [chunk start, chunk end) belong to a chunk. Chunks are validated together,
    up to ``batch_rows`` rows (``quality.batch_rows`` by default) per Great Expectations run, which
    bounds memory; when an extraction fails, the chunks extracted before it are landed first.
    """
    hook = sources.source_hook(settings)
    limit = batch_rows or settings.quality.batch_rows
    records: list[RunRecord] = []
    batch: list[tuple[RunRecord, pd.DataFrame]] = []
    for index, part in enumerate(window.split(chunk)):
        extract_start = part.start - (lookback if index == 0 else timedelta(0))
        record = RunRecord.landing(
            spec.name, part, extract_start=extract_start, run_id=run_id, started_at=datetime.now(UTC)
        )
        records.append(record)
        try:
            batch.append((record, _extract(settings, hook, spec, record)))
        except Exception:
            _land_batch(settings, spec, batch)
            raise
        if sum(len(raw) for _, raw in batch) >= limit:
            _land_batch(settings, spec, batch)
            batch = []
    _land_batch(settings, spec, batch)
    return records


def land_task(source: str, cadence: CadenceSettings, ti) -> dict | None:
    """The body of a source cadence's ``land`` task (a short circuit): None, which skips the rest of the
    run, while the first-run backfill runs (:func:`cadence.first_run.first_task_yields`), else
    :func:`land_for_run` for the task's run."""
    from cadence.first_run import first_task_yields

    run = RunContext.current()
    return None if first_task_yields(run.params, ti) else land_for_run(source, cadence, run)


def land_for_run(source: str, cadence: CadenceSettings, run: RunContext) -> dict:
    """A cadence's land task: plan the run, land its window(s); the dbt window and counts (its XCom)."""
    from cadence import catch_up, containment
    from cadence.config import get_settings

    settings = get_settings()
    plan = run.plan(cadence, settings)  # bad conf: RunConfError fails the task at once, never retried
    # Bad bronze files go aside first (their windows are then re-landed); a scheduled run catches up.
    contained = containment.contain(
        settings, source, plan.window, everything=plan.is_full_refresh, run_id=run.run_id
    )
    landing = plan.window if plan.is_backfill else catch_up.land_window(settings, source, plan.window)
    interval = plan.window.end - plan.window.start
    chunk = (
        cadence.backfill_chunk
        if plan.is_backfill
        else catch_up.chunk_size(landing, interval, cadence.backfill_chunk)
    )
    records = ingest(
        settings,
        sources.get_spec(source, settings),
        landing,
        lookback=plan.lookback,
        chunk=chunk,
        run_id=run.run_id,
    )
    catch_up.supersede(settings, source, landing, run.run_id)
    merging = landing if plan.is_backfill else catch_up.merge_window(settings, source, landing)
    return {
        **replace(plan, window=merging).dbt_vars(),
        "quarantined_files": len(contained),
        "is_backfill": plan.is_backfill,
        "is_full_refresh": plan.is_full_refresh,
        **summarize(records),
    }

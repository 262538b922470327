"""Extract → validate → land, one window at a time, with one run-log record per window.

Every extracted row ends in bronze or in quarantine, and the record proves it
(``rows_extracted == rows_valid + rows_quarantined`` and ``rows_landed == rows_valid``). A failure writes a
``failed`` record for the window before re-raising, so pipeline-health monitoring sees it.
"""

from __future__ import annotations

import logging
from dataclasses import replace
from datetime import UTC, datetime, timedelta

from cadence import docs, lake, quality, sources
from cadence.config import CadenceSettings, Settings
from cadence.lake import Window
from cadence.planning import RunContext
from cadence.runlog import RunRecord, summarize

log = logging.getLogger(__name__)


def ingest_window(
    settings: Settings,
    spec: sources.SourceSpec,
    window: Window,
    lookback: timedelta,
    run_id: str | None,
    hook=None,
) -> RunRecord:
    """Land one window: rows whose change time is in [window.start - lookback, window.end)."""
    from cadence.source_guard import require_source

    hook = hook or sources.source_hook(settings)
    record = RunRecord.landing(
        spec.name, window, extract_start=window.start - lookback, run_id=run_id, started_at=datetime.now(UTC)
    )
    with record.recorded(settings):
        require_source(hook, settings.source_conn_id)  # SQLite would create a missing file empty
        raw = sources.extract(hook, spec, record.extract_start, window.end)
        result = quality.validate(raw, spec.name, spec.rules)
        docs.publish_validation(settings, spec.name, window, result.gx_result)
        bronze = sources.to_bronze(result.valid, spec, window.start, window.end)
        lake.write_parquet(lake.bronze_path(settings, spec.name, window), bronze)
        rejected = result.quarantined
        lake.write_quarantine(
            lake.quarantine_path(settings, spec.name, window),
            sources.to_quarantine(rejected, spec, window.start, window.end) if len(rejected) else None,
        )
        record.rows_extracted = len(raw)
        record.rows_valid = len(result.valid)
        record.rows_quarantined = len(result.quarantined)
        record.rows_landed = bronze.num_rows
        record.rule_failures = {k: v for k, v in result.rule_failures.items() if v}
        record.check_counts()
    return record


def ingest(
    settings: Settings,
    spec: sources.SourceSpec,
    window: Window,
    *,
    lookback: timedelta,
    chunk: timedelta,
    run_id: str | None = None,
) -> list[RunRecord]:
    """Land ``window`` in chunks of ``chunk`` (bounded memory); only the first chunk looks back."""
    hook = sources.source_hook(settings)
    records = []
    for index, part in enumerate(window.split(chunk)):
        record = ingest_window(settings, spec, part, lookback if index == 0 else timedelta(0), run_id, hook)
        log.info(
            "%s %s → %s: %d extracted, %d landed, %d quarantined %s",
            spec.name,
            part.start,
            part.end,
            record.rows_extracted,
            record.rows_landed,
            record.rows_quarantined,
            record.rule_failures or "",
        )
        records.append(record)
    return records


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

"""The `mmp` DAG's landing step: generate each window's MMP events → validate → lake, with a run log.

A run works on whole intervals of the cadence's schedule: a scheduled run on its data interval, a backfill
on every interval its range touches (a range that cuts an interval is widened to whole ones). The generator
is seeded per window, so a backfill rewrites exactly the files the schedule wrote and a rerun replaces a file
with the same bytes. Every generated event ends in the lake (``mmp/events``, JSONL as partners deliver it,
in the generator's layout) or in quarantine (``quarantine/mmp_events``, with its broken rules), and one
run-log record per window (job ``mmp``) proves that the counts add up. A window always gets a file, even an
empty one: dbt reads the lake by glob, and an empty glob is an error.

Windows are validated ``backfill_chunk`` at a time: one Great Expectations run costs ~0.15 s whatever its
size, and a month-long hourly backfill has 744 windows.
"""

from __future__ import annotations

import dataclasses
import logging
from collections import Counter
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta

import pandas as pd
import pyarrow as pa

from cadence import lake
from cadence.config import Settings
from cadence.lake import Window
from cadence.planning import RunContext, plain_utc
from cadence.runlog import RunRecord, recorded_together, summarize

log = logging.getLogger(__name__)

JOB = "mmp"  # the run-log job name pipeline-health monitoring sees
SOURCE = "mmp_events"  # the quarantine folder, like a bronze source's
WINDOW_COLUMNS = ["_window_start", "_window_end"]


def schedule_windows(span: Window, schedule: str) -> list[Window]:
    """The intervals of the cron ``schedule`` covering ``span``, widened to whole intervals."""
    from croniter import croniter

    following = croniter(schedule, span.start).get_next(datetime)
    start = plain_utc(croniter(schedule, following).get_prev(datetime))  # the tick at or before span.start
    ticks, windows = croniter(schedule, start), []
    while start < span.end:
        end = plain_utc(ticks.get_next(datetime))
        windows.append(Window(start, end))
        start = end
    return windows


def _chunks(windows: list[Window], size: timedelta) -> Iterator[list[Window]]:
    chunk: list[Window] = []
    for window in windows:
        chunk.append(window)
        if window.end - chunk[0].start >= size:
            yield chunk
            chunk = []
    if chunk:
        yield chunk


def decoded(table: pa.Table) -> pa.Table:
    """The events with dictionary columns decoded, as validation and quarantine want them."""
    fields = [
        pa.field(f.name, f.type.value_type) if pa.types.is_dictionary(f.type) else f for f in table.schema
    ]
    return table.cast(pa.schema(fields))


def validation_frame(windows: list[Window], tables: list[pa.Table]) -> pd.DataFrame:
    """All events of ``windows`` in one frame, each with its window bounds and its place in its table."""
    frames = []
    for index, (window, table) in enumerate(zip(windows, tables, strict=True)):
        frame = decoded(table).to_pandas(types_mapper={pa.int64(): pd.Int64Dtype()}.get)
        frame["_window_start"] = pd.Timestamp(window.start)
        frame["_window_end"] = pd.Timestamp(window.end)
        frame["_window"] = index
        frame["_position"] = range(len(frame))
        frames.append(frame)
    return pd.concat(frames, ignore_index=True)


def quarantine_table(rows: pd.DataFrame, columns: list[str]) -> pa.Table:
    """Rejected events as text (they may not parse), with their reasons and window."""
    from cadence.quality import REASON

    text = {
        name: pa.array([None if pd.isna(v) else str(v) for v in rows[name]], pa.string())
        for name in [*columns, REASON]
    }
    bounds = {name: pa.array(rows[name], pa.timestamp("us", tz="UTC")) for name in WINDOW_COLUMNS}
    return pa.table(text | bounds)


def _land_window(settings: Settings, record: RunRecord, table: pa.Table, valid, rejected) -> None:
    from cadence.mmp.writer import window_path, write_events
    from cadence.quality import REASON, SEPARATOR

    window = record.window
    landed = table.take(pa.array(valid["_position"].to_numpy(dtype="int64")))
    write_events([landed], window_path(window.start, window.end, "jsonl", settings), "jsonl")
    lake.write_quarantine(
        lake.quarantine_path(settings, SOURCE, window),
        quarantine_table(rejected, table.schema.names) if len(rejected) else None,
    )
    record.rows_extracted = table.num_rows
    record.rows_valid = len(valid)
    record.rows_quarantined = len(rejected)
    record.rows_landed = landed.num_rows
    record.rule_failures = dict(Counter(r for reasons in rejected[REASON] for r in reasons.split(SEPARATOR)))
    record.check_counts()
    record.status = "success"


def land_chunk(settings: Settings, windows: list[Window], run_id: str | None) -> list[RunRecord]:
    """Generate, validate and land ``windows`` together; one run-log record each, written even on failure."""
    from cadence.docs import publish_validation
    from cadence.mmp.generator import generate_window
    from cadence.mmp.quality import event_rules
    from cadence.quality import validate

    started_at = datetime.now(UTC)
    records = [RunRecord.landing(JOB, w, run_id=run_id, started_at=started_at) for w in windows]
    with recorded_together(settings, records):  # each window gets its share of the chunk's time
        tables = [generate_window(w.start, w.end, settings) for w in windows]
        result = validate(validation_frame(windows, tables), SOURCE, event_rules(settings))
        publish_validation(settings, SOURCE, Window(windows[0].start, windows[-1].end), result.gx_result)
        for index, (record, table) in enumerate(zip(records, tables, strict=True)):
            valid = result.valid[result.valid["_window"] == index]
            rejected = result.quarantined[result.quarantined["_window"] == index]
            _land_window(settings, record, table, valid, rejected)
    return records


def land_windows(settings: Settings, windows: list[Window], run_id: str | None = None) -> list[RunRecord]:
    records = []
    for chunk in _chunks(windows, settings.mmp_cadence.backfill_chunk):
        landed = land_chunk(settings, chunk, run_id)
        log.info(
            "mmp %s → %s: %d windows, %d generated, %d landed, %d quarantined",
            chunk[0].start,
            chunk[-1].end,
            len(chunk),
            sum(r.rows_extracted for r in landed),
            sum(r.rows_landed for r in landed),
            sum(r.rows_quarantined for r in landed),
        )
        records += landed
    return records


def land_for_run(run: RunContext) -> dict:
    """The `land` task: plan the run, land its windows, return the dbt window (what was landed) and counts."""
    from cadence.config import get_settings

    settings = get_settings()
    cadence = settings.mmp_cadence
    plan = run.plan(cadence, settings)
    windows = schedule_windows(plan.window, cadence.schedule)
    records = land_windows(settings, windows, run.run_id)
    landed = dataclasses.replace(plan, window=Window(windows[0].start, windows[-1].end))
    return {
        **landed.dbt_vars(),
        "is_backfill": plan.is_backfill,
        "is_full_refresh": plan.is_full_refresh,
        **summarize(records),
    }

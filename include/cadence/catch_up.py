"""Catch-up by construction: a scheduled run processes everything its job has not yet processed.

The run log already says which windows each job processed successfully. A scheduled ``land`` starts where
its source last landed successfully, re-landing every failed or missed window on the cadence's own grid, so
each re-landed window overwrites its ``failed`` record under the same name. The window handed to dbt starts
where silver last merged successfully, so silver merges every bronze batch not yet merged, whatever failed
before (the silver model is idempotent: merging a batch twice changes nothing). A success that covers the
window of a differently-named failed record (a backfill chunk over 5-minute windows) marks that record
``superseded`` and names the run, so pipeline health sees no failure left once everything is caught up.

Both look back at most ``catch_up.horizon``; an older gap is logged and needs a backfill.
"""

from __future__ import annotations

import json
import logging
import math
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

from cadence import lake
from cadence.config import Settings
from cadence.lake import Window
from cadence.runlog import RunRecord

log = logging.getLogger(__name__)

DAY = timedelta(days=1)
SUCCESS, FAILED, SUPERSEDED = "success", "failed", "superseded"


def silver_job(source: str) -> str:
    """The run-log job of a source's silver merge."""
    return f"{source}_silver"


def merging_jobs(source: str) -> tuple[str, ...]:
    """The run-log jobs that process the window a source's DAG hands to dbt (spins also builds gold)."""
    return (silver_job(source), "gold") if source == "spins_hourly" else (silver_job(source),)


@dataclass(frozen=True)
class Logged:
    """One run-log record: the window it is about, its status, and where it lives."""

    window: Window
    status: str
    path: Any


def _folder(settings: Settings, job: str):
    return lake.root(settings) / "ops/run_log" / job


def logged(settings: Settings, job: str, since: datetime, until: datetime) -> list[Logged]:
    """Run-log records of ``job`` whose window overlaps [since, until), oldest first.

    A record lives in the ``dt=`` partition of its window start, and no window handed out is longer
    than a day plus the horizon, so only those partitions are listed."""
    longest = DAY + settings.catch_up.horizon
    found = [
        Logged(window, json.loads(path.read_text())["status"], path)
        for path, window in lake.files_overlapping(_folder(settings, job), ".json", since, until, longest)
    ]
    return sorted(found, key=lambda record: (record.window.start, record.window.end))


def _ran_before(settings: Settings, job: str, moment: datetime) -> bool:
    """Whether ``job`` has any run-log partition from before ``moment``'s day (names only, no reads)."""
    folder = _folder(settings, job)
    if not folder.exists():
        return False
    return any(p.name.startswith("dt=") and p.name[3:] < f"{moment:%Y-%m-%d}" for p in folder.iterdir())


def resume_point(settings: Settings, job: str, start: datetime) -> datetime:
    """The earliest moment before ``start`` (at most the horizon back) that ``job`` has not processed
    successfully; ``start`` itself when there is none, or when the job never ran before."""
    since = start - settings.catch_up.horizon
    records = logged(settings, job, since, start)
    if records and records[0].window.start > since and not _ran_before(settings, job, since):
        cursor = records[0].window.start  # the job began within the horizon
    elif records or _ran_before(settings, job, since):
        cursor = since
    else:
        return start  # a job that never ran has nothing to catch up
    for record in records:
        if record.status == SUCCESS and record.window.start <= cursor:
            cursor = max(cursor, record.window.end)
    if cursor == since:
        log.warning(
            "%s has unprocessed time at the %s catch-up horizon (%s UTC): anything older needs a backfill",
            job,
            settings.catch_up.horizon,
            f"{since:%Y-%m-%d %H:%M}",
        )
    return min(cursor, start)


def land_window(settings: Settings, job: str, window: Window) -> Window:
    """The scheduled ``window`` widened back over every window ``job`` has not landed successfully, on the
    grid of the window's own length, so a re-landed window keeps the name of its failed record."""
    resume = resume_point(settings, job, window.start)
    if resume >= window.start:
        return window
    size = window.end - window.start
    steps = math.ceil((window.start - resume) / size)
    widened = Window(window.start - steps * size, window.end)
    log.info("%s catches up from %s UTC (%d missed window(s))", job, f"{widened.start:%Y-%m-%d %H:%M}", steps)
    return widened


def chunk_size(window: Window, interval: timedelta, backfill_chunk: timedelta) -> timedelta:
    """The windows a catch-up lands: the cadence's own (each replaces its failed record by name) while
    the gap is at most one backfill chunk; backfill-sized chunks for a longer one, so a day-long outage is
    one task of minutes, not hundreds of windows (the failed records it covers are then superseded)."""
    return interval if window.end - window.start <= backfill_chunk else backfill_chunk


def merge_window(settings: Settings, source: str, landed: Window) -> Window:
    """The window dbt processes: from where silver (and, for spins, gold) last succeeded, or where this run
    landed if earlier, widened to whole bronze batches, since dbt selects batches lying entirely inside it."""
    start = min([landed.start] + [resume_point(settings, job, landed.start) for job in merging_jobs(source)])
    folder = lake.root(settings) / "bronze" / source
    day = (start - DAY).date()
    while day <= start.date():  # a batch lasts at most a day and lives in its start's partition
        partition = folder / f"dt={day:%Y-%m-%d}"
        if partition.exists():
            for path in lake.landed_files(partition, ".parquet"):
                batch = lake.window_of(path)
                if batch.start < start < batch.end:
                    start = batch.start
        day += DAY
    if start < landed.start:
        log.info("%s silver merges from %s UTC, where it last merged", source, f"{start:%Y-%m-%d %H:%M}")
    return Window(start, landed.end)


def supersede(settings: Settings, job: str, window: Window, run_id: str | None) -> list[str]:
    """Mark ``failed`` records whose window lies inside ``window`` (just processed successfully under
    other names) as ``superseded`` by ``run_id``; returns their file names."""
    names = []
    for record in logged(settings, job, window.start, window.end):
        inside = window.start <= record.window.start and record.window.end <= window.end
        if record.status != FAILED or not inside or record.window == window:
            continue
        content = json.loads(record.path.read_text())
        content |= {
            "status": SUPERSEDED,
            "superseded_by": run_id,
            "superseded_at": datetime.now(UTC).isoformat(),
        }
        lake.write_json(record.path, content)
        names.append(record.path.name)
    if names:
        log.info("%s: %d failed record(s) superseded by %s: %s", job, len(names), run_id, ", ".join(names))
    return names


def write_record(
    settings: Settings, job: str, window: Window, status: str, run_id: str | None, **details
) -> dict:
    """The run-log record of a job without row counts (silver, gold); a success supersedes the failed
    records it covers."""
    record = RunRecord(
        job, window.start, window.end, status=status, run_id=run_id, started_at=datetime.now(UTC)
    )
    record.error = details.pop("error", None)
    record.details = details
    written = record.write(settings)
    if status == SUCCESS:
        supersede(settings, job, window, run_id)
    return written


def group_outcome(states: list[str]) -> str | None:
    """``success`` when every task of a task group succeeded, ``failed`` when one failed, None when the
    group did not run (an upstream task failed, or it was skipped)."""
    values = set(states)
    if values and values <= {"success"}:
        return SUCCESS
    return FAILED if "failed" in values else None


def group_states(group_id: str) -> list[str]:
    """The states of task group ``group_id`` in the running DAG run (from a task body, via the Task SDK)."""
    from airflow.sdk import get_current_context

    ti = get_current_context()["ti"]
    states = ti.get_task_states(dag_id=ti.dag_id, task_group_id=group_id, run_ids=[ti.run_id])
    return list(states.get(ti.run_id, {}).values())


def record_dbt_group(
    settings: Settings, source: str, group_id: str, landed: dict, states: list[str], run_id: str
) -> dict:
    """After a dbt task group, whatever its outcome: one run-log record for the window it processed
    (``landed``, the land task's return value). A failure is recorded, then re-raised (never retried: the
    group failed already), so a run whose group failed never ends green."""
    from airflow.sdk.exceptions import AirflowFailException

    outcome = group_outcome(states)
    if outcome is None or not landed:
        raise AirflowFailException(f"the {group_id} task group did not run: an upstream task failed")
    window = Window(
        *(datetime.fromisoformat(landed[key]).replace(tzinfo=UTC) for key in ("window_start", "window_end"))
    )
    job = silver_job(source) if group_id == "silver" else group_id
    if outcome == SUCCESS:
        return write_record(settings, job, window, SUCCESS, run_id)
    error = f"a task of the {group_id} task group failed: see its log"
    write_record(settings, job, window, FAILED, run_id, error=error)
    raise AirflowFailException(f"{job} {window.label}: {error} (recorded in the run log)")

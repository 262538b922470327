"""Contain unreadable bronze files: move each aside with its reason, alert, and let the rest go on.

dbt reads a source's bronze files through one glob, so a single truncated Parquet file would fail every
silver run, each retried in vain. Before dbt runs, the files it is about to read that may have changed (in
the run's window, or modified within the catch-up horizon; all of them for a full refresh) have their
Parquet footer read. An unreadable file is moved under ``quarantine/unreadable/`` (out of the glob) with a
``.reason.json`` beside it, the notifier alerts, and the land record of its window is rewritten as
``failed``, so the catch-up re-lands that window from the source (within the horizon) and pipeline health
shows the gap until it does.
"""

from __future__ import annotations

import json
import logging
import time
from datetime import UTC, datetime

import pyarrow.parquet as pq

from cadence import lake
from cadence.config import Settings
from cadence.lake import Window

log = logging.getLogger(__name__)

ZONE = "quarantine/unreadable"


def unreadable_reason(path) -> str | None:
    """Why the Parquet file at ``path`` cannot be read (its footer), or None when it can."""
    try:
        with path.open("rb") as handle:
            pq.read_metadata(handle)
    except Exception as error:  # any failure to read the footer makes the file unusable
        return f"{type(error).__name__}: {error}"
    return None


def _modified(path) -> float | None:
    try:
        return path.stat().st_mtime
    except (AttributeError, KeyError):  # a store that does not report it: check the file
        return None


def _candidates(settings: Settings, source: str, window: Window, everything: bool):
    folder = lake.root(settings) / "bronze" / source
    if not folder.exists():
        return
    recent = time.time() - settings.catch_up.horizon.total_seconds()
    for partition in sorted(p for p in folder.iterdir() if p.name.startswith("dt=")):
        for path in lake.landed_files(partition, ".parquet"):
            batch = lake.window_of(path)
            in_window = batch.end > window.start and batch.start < window.end
            modified = _modified(path)
            if everything or in_window or modified is None or modified >= recent:
                yield path, batch


def quarantine_file(settings: Settings, source: str, path, window: Window, reason: str, run_id: str | None):
    """Move ``path`` aside with its reason, and mark the land record of its window failed."""
    target = lake.root(settings) / ZONE / "bronze" / source / path.parent.name / path.name
    target.parent.mkdir(parents=True, exist_ok=True)
    path.rename(target)
    moved_at = datetime.now(UTC).isoformat()
    details = {"source": source, "file": str(path), "reason": reason, "moved_at": moved_at, "run_id": run_id}
    lake.write_json(target.with_name(f"{target.name}.reason.json"), details)
    record_path = lake.run_log_path(settings, source, window)
    record = json.loads(record_path.read_text()) if record_path.exists() else {"job": source}
    record |= {
        "window_start": window.start.isoformat(),
        "window_end": window.end.isoformat(),
        "status": "failed",
        "error": f"bronze file unreadable ({reason}); moved to {target}",
    }
    lake.write_json(record_path, record)
    return target


def contain(
    settings: Settings,
    source: str,
    window: Window,
    *,
    everything: bool = False,
    run_id: str | None = None,
) -> list[dict]:
    """Quarantine the unreadable bronze files of ``source`` dbt is about to read; alert when any was.

    Returns one ``{"file", "moved_to", "reason"}`` per file moved."""
    moved = []
    for path, batch in _candidates(settings, source, window, everything):
        reason = unreadable_reason(path)
        if reason is None:
            continue
        target = quarantine_file(settings, source, path, batch, reason, run_id)
        log.error("bronze file %s is unreadable (%s): quarantined to %s", path, reason, target)
        moved.append({"file": str(path), "moved_to": str(target), "reason": reason})
    if moved:
        _alert(settings, source, moved)
    return moved


def _alert(settings: Settings, source: str, moved: list[dict]) -> list[str]:
    from cadence.monitoring.notifier import CadenceNotifier

    monitoring = settings.monitoring
    lines = [f"{m['file']}: {m['reason']} -> {m['moved_to']}" for m in moved]
    return CadenceNotifier(
        title=f"{len(moved)} unreadable bronze {source} file(s) quarantined; their windows are re-landed",
        message="\n".join(lines),
        severity="error",
        slack_conn_id=monitoring.slack_conn_id,
        smtp_conn_id=monitoring.smtp_conn_id,
        email_to=monitoring.email_to,
    ).notify({})

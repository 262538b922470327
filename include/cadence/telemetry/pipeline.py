"""The `telemetry` DAG's landing step: exactly the files not yet processed → bronze / quarantine (a ledger).

The ledger (``ops/telemetry_ledger/ledger.parquet`` in the lake, one row per landed file name) records size,
checksum, status and row counts. A run lists the landing area and takes every file whose name is new or
whose checksum changed:

- an identical re-upload (same name, same bytes) is not even read again;
- the same bytes under another name (a client retry) are recorded as ``duplicate`` and skipped;
- a changed file (a corrected re-upload) is processed again and *replaces* its bronze rows: its old rows
  are filtered out of the part that held them (the ledger names it);
- a file that cannot be read (truncated gzip) is copied whole to ``quarantine/telemetry_files`` with its
  reason (status ``quarantined``) and never blocks the others;
- every readable line ends in bronze (``telemetry_visits`` / ``telemetry_events`` / ``telemetry_event_items``)
  or in ``quarantine/telemetry_lines`` with its file, line number and reason: not JSON, does not fit the
  schema, or breaks a Great Expectations rule (``cadence.telemetry.quality``).

Bronze and quarantine are written as one Parquet *part* per table and upload day per run (per chunk of
``CHUNK_BYTES`` of JSON in a large backlog), ``<table>/dt=<upload day>/part_<run time>_<chunk>.parquet``, not
one file per upload: four small writes per ~260-event upload cost more than parsing it. A part no ledger row
names (left by a run that failed before writing its ledger) is removed by the next run, which lands the same
files again.

Every row carries ingestion metadata (``_file``, ``_line``, ``_checksum``, ``_ingested_at``). dbt then
processes what was ingested since the last run that got through dbt: files stay ``modeled = false`` until
the run's last task marks them, so a failed dbt build is picked up by the next run. Each run writes its
run-log record (:class:`cadence.runlog.RunRecord`, job ``telemetry``) like every other job: lines read, loaded
and quarantined, visit rows landed, rule failures, file counts.
"""

from __future__ import annotations

import logging
from collections import Counter
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc

from cadence import lake
from cadence.config import Settings
from cadence.lake import Window
from cadence.runlog import RunRecord
from cadence.telemetry import flatten
from cadence.telemetry.landing import STAMP, checksum, landing_dir

log = logging.getLogger(__name__)

JOB = "telemetry"
TABLES = {"visits": "telemetry_visits", "events": "telemetry_events", "items": "telemetry_event_items"}
FOLDERS = {
    **{k: f"bronze/{table}" for k, table in TABLES.items()},
    "quarantine": "quarantine/telemetry_lines",
}
CHUNK_BYTES = 128 << 20  # uncompressed JSON flattened at once: bounds the memory of a large backlog
LEDGER_SCHEMA = pa.schema(
    [
        ("file", pa.string()),
        ("size", pa.int64()),
        ("checksum", pa.string()),
        ("status", pa.string()),  # loaded | replaced | duplicate | quarantined
        ("duplicate_of", pa.string()),
        ("lines", pa.int64()),
        ("lines_loaded", pa.int64()),
        ("lines_quarantined", pa.int64()),
        ("visits", pa.int64()),
        ("events", pa.int64()),
        ("items", pa.int64()),
        ("drift_fields", pa.string()),
        ("reason", pa.string()),
        ("part", pa.string()),  # the bronze/quarantine part holding the file's rows (NULL: a per-file legacy)
        ("ingested_at", pa.timestamp("us", tz="UTC")),
        ("run_id", pa.string()),
        ("modeled", pa.bool_()),
    ]
)
QUARANTINE_SCHEMA = pa.schema(
    [
        ("_file", pa.string()),
        ("_line", pa.int64()),
        ("_reject_reason", pa.string()),
        ("raw_line", pa.string()),
        ("_checksum", pa.string()),
        ("_ingested_at", pa.timestamp("us", tz="UTC")),
    ]
)


def ledger_path(settings: Settings):
    return lake.root(settings) / "ops" / "telemetry_ledger" / "ledger.parquet"


def read_ledger(settings: Settings) -> pd.DataFrame:
    path = ledger_path(settings)
    table = lake.read_parquet(path) if path.exists() else LEDGER_SCHEMA.empty_table()
    return table.to_pandas().reindex(columns=LEDGER_SCHEMA.names)  # a ledger from before `part` existed


def _partition(name: str) -> str:
    """``dt=`` of a landing file: the UTC day in its name (``telemetry_<YYYYmmddTHHMMSS>...``)."""
    try:
        return f"dt={datetime.strptime(name.split('_')[1][:15], STAMP):%Y-%m-%d}"
    except (IndexError, ValueError):
        return "dt=unknown"


def part_file(settings: Settings, kind: str, partition: str, part: str):
    """``bronze/<table>/<partition>/<part>.parquet`` (or ``quarantine/telemetry_lines/...`` for kind
    ``quarantine``): the rows of one run's (chunk's) files of one upload day."""
    return lake.root(settings) / FOLDERS[kind] / partition / f"{part}.parquet"


def bronze_file(settings: Settings, kind: str, name: str):
    """Where earlier versions wrote one file's rows (one Parquet per upload): still replaced correctly."""
    stem = name.removesuffix(".gz").removesuffix(".json")
    return lake.root(settings) / "bronze" / TABLES[kind] / _partition(name) / f"{stem}.parquet"


def quarantine_lines_file(settings: Settings, name: str):
    stem = name.removesuffix(".gz").removesuffix(".json")
    return lake.root(settings) / "quarantine" / "telemetry_lines" / _partition(name) / f"{stem}.parquet"


def landed(settings: Settings) -> list[tuple[str, str]]:
    """(name, path in the lake's filesystem) of every landing file, by name. Listed and read through the
    filesystem itself: an ObjectStoragePath per file costs ~1 ms, a day of client uploads ~1k files."""
    folder = landing_dir(settings)
    if not folder.exists():
        return []
    folder.fs.invalidate_cache(folder.path)
    paths = (p.rstrip("/") for p in folder.fs.ls(folder.path, detail=False))
    files = ((p.rsplit("/", 1)[-1], p) for p in paths)
    return sorted((n, p) for n, p in files if n.endswith(".json.gz") and not n.startswith("."))


@dataclass
class Arrival:
    name: str
    payload: bytes
    checksum: str
    replaces: bool  # the name was processed before with other bytes


def pending(settings: Settings, ledger: pd.DataFrame) -> tuple[list[Arrival], list[dict]]:
    """Files to process, and ledger rows for exact copies of already-loaded bytes under another name."""
    known = dict(zip(ledger["file"], ledger["checksum"], strict=True))
    loaded = {
        c: f
        for f, c, s in zip(ledger["file"], ledger["checksum"], ledger["status"], strict=True)
        if s in ("loaded", "replaced")
    }
    arrivals, duplicates = [], []
    files = landed(settings)
    payloads = landing_dir(settings).fs.cat([p for _, p in files]) if files else {}
    for name, path in files:
        payload = payloads[path]
        digest = checksum(payload)
        if known.get(name) == digest:
            continue  # the same file again: nothing to do
        if name not in known and digest in loaded:
            duplicates.append(
                {
                    "file": name,
                    "size": len(payload),
                    "checksum": digest,
                    "status": "duplicate",
                    "duplicate_of": loaded[digest],
                }
            )
            continue
        arrivals.append(Arrival(name, payload, digest, name in known))
        if name not in known:
            loaded.setdefault(digest, name)
    return arrivals, duplicates


def _quarantine_table(
    rows: list[tuple[str, int | None, str, str]], checksums: dict, now: datetime
) -> pa.Table:
    """Quarantine rows (file, line or None for a whole file, reason, raw text), ordered by file and line."""
    rows = sorted(rows, key=lambda r: (r[0], r[1] or 0))
    return pa.table(
        {
            "_file": [r[0] for r in rows],
            "_line": pa.array([r[1] for r in rows], pa.int64()),
            "_reject_reason": [r[2] for r in rows],
            "raw_line": [r[3] for r in rows],
            "_checksum": [checksums[r[0]] for r in rows],
            "_ingested_at": pa.array([now] * len(rows), pa.timestamp("us", tz="UTC")),
        },
        schema=QUARANTINE_SCHEMA,
    )


def _run_window(ledger: pd.DataFrame, now: datetime) -> Window:
    """The run-log window of a run: since the previous land (the first run: from the start of its minute)."""
    previous = pd.Timestamp(ledger["ingested_at"].max()) if len(ledger) else pd.NaT
    start = previous.to_pydatetime() if not pd.isna(previous) else now.replace(second=0, microsecond=0)
    return Window(start if start < now else now - timedelta(minutes=1), now)


def ingest(settings: Settings, run_id: str | None = None, now: datetime | None = None) -> dict:
    """Process every pending file; returns the counts and the span dbt must (re)process. Writes the run's
    run-log record (also when it fails)."""
    now = now or datetime.now(UTC)
    ledger = read_ledger(settings)
    record = RunRecord.landing(JOB, _run_window(ledger, now), run_id=run_id, started_at=now)
    with record.recorded(settings):
        arrivals, duplicates = pending(settings, ledger)
        _remove_orphans(settings, ledger, arrivals)
        records = [{**d, "ingested_at": now, "run_id": run_id, "modeled": True} for d in duplicates]
        stamp = f"part_{now:%Y%m%dT%H%M%S%f}"
        landed_visits = 0
        for number, chunk in enumerate(_chunks(arrivals)):
            rows, visits = _land_chunk(settings, chunk, f"{stamp}_{number}", now, run_id)
            records += rows
            landed_visits += visits
        _drop_replaced(settings, ledger, [a.name for a in arrivals if a.replaces])
        ledger = _merge(ledger, records)
        lake.write_parquet(
            ledger_path(settings), pa.Table.from_pandas(ledger, schema=LEDGER_SCHEMA, preserve_index=False)
        )
        landed = summary(ledger, records, now)
        _count(record, records, landed_visits)
    return landed


def _count(record: RunRecord, records: list[dict], landed_visits: int) -> None:
    """The run-log counts: lines of the readable files read, loaded, quarantined; visits (lines) landed."""
    read = [r for r in records if r["status"] in ("loaded", "replaced")]
    record.rows_extracted = sum(r["lines"] for r in read)
    record.rows_valid = sum(r["lines_loaded"] for r in read)
    record.rows_quarantined = sum(r["lines_quarantined"] for r in read)
    record.rows_landed = landed_visits
    record.rule_failures = dict(sum((r.pop("_failures") for r in read), Counter()))
    statuses = Counter(r["status"] for r in records)
    record.details = {
        "files": len(records),
        **{f"files_{s}": statuses.get(s, 0) for s in ("loaded", "replaced", "duplicate", "quarantined")},
        "events": sum(r["events"] for r in read),
        "items": sum(r["items"] for r in read),
        "drift_fields": sorted({f for r in read if r["drift_fields"] for f in r["drift_fields"].split(",")}),
    }
    record.check_counts()


def _chunks(arrivals: list[Arrival]):
    """The arrivals with their JSON lines (or the reason they cannot be read), ~CHUNK_BYTES at a time."""
    chunk, size = [], 0
    for arrival in arrivals:
        try:
            data = flatten.gunzip(arrival.payload)
            chunk.append((arrival, data, None))
            size += len(data)
        except flatten.CorruptFile as error:
            chunk.append((arrival, None, str(error)))
        if size >= CHUNK_BYTES:
            yield chunk
            chunk, size = [], 0
    if chunk:
        yield chunk


def _land_chunk(settings: Settings, chunk: list, part: str, now: datetime, run_id: str | None):
    """Flatten, validate and write the files of one chunk as one part per table and upload day; returns
    their ledger rows and the number of visit rows written."""
    from cadence.telemetry.quality import rejected_lines

    readable = [(arrival, data) for arrival, data, error in chunk if error is None]
    names = [a.name for a, _ in readable]
    # one Great Expectations run per table for all files of the chunk (a run costs the same for 1 or 1M rows)
    batch = flatten.flatten_files(
        [(data, {"_file": a.name, "_checksum": a.checksum, "_ingested_at": now}) for a, data in readable],
        check=lambda views, files: rejected_lines(settings, views, files),
    )
    corrupt = [(arrival, error) for arrival, _, error in chunk if error is not None]
    quarantine = batch.rejected + [(a.name, None, error, "") for a, error in corrupt]
    checksums = {arrival.name: arrival.checksum for arrival, _, _ in chunk}
    quarantined = _quarantine_table(quarantine, checksums, now)
    tables = {"visits": batch.visits, "events": batch.events, "items": batch.items}

    landed_visits = 0
    by_partition: dict[str, list[str]] = {}
    for arrival, _, _ in chunk:
        by_partition.setdefault(_partition(arrival.name), []).append(arrival.name)
    for partition, files in by_partition.items():
        positions = [i for i, name in enumerate(names) if _partition(name) == partition]
        if positions:
            for kind, table in tables.items():
                if len(by_partition) > 1:
                    table = table.filter(
                        pc.is_in(table.column("_file_index"), pa.array(positions, pa.int64()))
                    )
                lake.write_parquet(
                    part_file(settings, kind, partition, part), table.drop_columns("_file_index")
                )
                landed_visits += table.num_rows if kind == "visits" else 0
        if len(by_partition) > 1:
            rows = quarantined.filter(pc.is_in(quarantined.column("_file"), pa.array(files, pa.string())))
        else:
            rows = quarantined
        if rows.num_rows:
            lake.write_parquet(part_file(settings, "quarantine", partition, part), rows)
    for arrival, _ in corrupt:
        target = lake.root(settings) / "quarantine" / "telemetry_files" / _partition(arrival.name)
        lake.write_atomic(target / arrival.name, arrival.payload)

    counts = {
        kind: np.bincount(table.column("_file_index").to_numpy(), minlength=len(names))
        for kind, table in tables.items()
    }
    rejected = Counter(f for f, *_ in quarantine)
    failures = {name: Counter() for name in checksums}
    for f, _, reason, _ in quarantine:
        failures[f].update(_reason_kinds(reason))
    base = {"ingested_at": now, "run_id": run_id, "part": part}
    records = [
        {
            **base,
            "file": a.name,
            "size": len(a.payload),
            "checksum": a.checksum,
            "status": "quarantined",
            "reason": error,
            "lines": 0,
            "lines_loaded": 0,
            "lines_quarantined": 0,
            "modeled": True,
        }
        for a, error in corrupt
    ]
    for position, (arrival, _) in enumerate(readable):
        name = arrival.name
        loaded = int(counts["visits"][position])
        if loaded + rejected[name] != batch.lines[name]:
            raise AssertionError(
                f"{name}: {batch.lines[name]} lines but {loaded} loaded and {rejected[name]} quarantined"
            )
        records.append(
            {
                **base,
                "file": name,
                "size": len(arrival.payload),
                "checksum": arrival.checksum,
                "status": "replaced" if arrival.replaces else "loaded",
                "lines": batch.lines[name],
                "lines_loaded": loaded,
                "lines_quarantined": rejected[name],
                "visits": loaded,
                "events": int(counts["events"][position]),
                "items": int(counts["items"][position]),
                "drift_fields": ",".join(batch.drift[name]) or None,
                "modeled": False,
                "_failures": failures[name],
            }
        )
    return records, landed_visits


def _reason_kinds(reason: str) -> list[str]:
    """A quarantine reason as rule-failure keys: each broken rule, or the kind of parse failure."""
    if reason.startswith(("invalid JSON", "does not fit the schema")):
        return [reason.split(":")[0]]
    return reason.split("; ")


def _drop_replaced(settings: Settings, ledger: pd.DataFrame, names: list[str]) -> None:
    """Remove the earlier rows of files landed again (corrected, or now corrupt) from the parts holding
    them."""
    if not names:
        return
    old = ledger[ledger["file"].isin(names)]
    by_part: dict[tuple[str, str], set[str]] = {}
    for name, part in zip(old["file"], old["part"], strict=True):
        if pd.isna(part):  # written before parts: one file per upload and table
            for kind in TABLES:
                lake.remove(bronze_file(settings, kind, name))
            lake.remove(quarantine_lines_file(settings, name))
            continue
        by_part.setdefault((_partition(name), part), set()).add(name)
    for (partition, part), files in by_part.items():
        for kind in FOLDERS:
            path = part_file(settings, kind, partition, part)
            if not path.exists():
                continue
            table = lake.read_parquet(path)
            kept = table.filter(
                pc.invert(pc.is_in(table.column("_file"), pa.array(sorted(files), pa.string())))
            )
            if kept.num_rows == table.num_rows:
                continue
            if kept.num_rows or kind != "quarantine":
                lake.write_parquet(path, kept)
            else:
                lake.remove(path)


def _remove_orphans(settings: Settings, ledger: pd.DataFrame, arrivals: list[Arrival]) -> None:
    """Parts no ledger row names, in the days of the pending files: left by a run that failed before its
    ledger was written (its files are pending again, and are landed again now)."""
    named = set(ledger["part"].dropna())
    root = lake.root(settings)
    for partition in sorted({_partition(a.name) for a in arrivals}):
        for folder in FOLDERS.values():
            directory = root / folder / partition
            if not directory.exists():
                continue
            for path in lake.landed_files(directory, ".parquet"):
                if path.name.startswith("part_") and path.name.removesuffix(".parquet") not in named:
                    log.warning("telemetry: removing %s, written by a run that did not finish", path)
                    lake.remove(path)


def _merge(ledger: pd.DataFrame, records: list[dict]) -> pd.DataFrame:
    if not records:
        return ledger
    new = pd.DataFrame.from_records(records).reindex(columns=LEDGER_SCHEMA.names)
    kept = ledger[~ledger["file"].isin(new["file"])]
    frames = [frame for frame in (kept, new) if len(frame)]
    return pd.concat(frames, ignore_index=True).sort_values("file", ignore_index=True)


def summary(ledger: pd.DataFrame, records: list[dict], now: datetime) -> dict:
    """What the run did, and the span of ingestion times dbt must process (from the oldest unmodeled file)."""
    unmodeled = ledger.loc[~ledger["modeled"].fillna(False).astype(bool), "ingested_at"]
    start = pd.Timestamp(unmodeled.min()).to_pydatetime() if len(unmodeled) else now
    statuses = Counter(r["status"] for r in records)
    return {
        "window_start": f"{start:%Y-%m-%d %H:%M:%S.%f}",
        "window_end": f"{now:%Y-%m-%d %H:%M:%S.%f}",
        "ingested_at": now.isoformat(),
        "files": len(records),
        **{
            f"files_{status}": statuses.get(status, 0)
            for status in ("loaded", "replaced", "duplicate", "quarantined")
        },
        "lines": int(sum(r.get("lines") or 0 for r in records)),
        "lines_quarantined": int(sum(r.get("lines_quarantined") or 0 for r in records)),
        "events": int(sum(r.get("events") or 0 for r in records)),
    }


def mark_modeled(settings: Settings, until: str) -> int:
    """After dbt: every file ingested up to ``until`` (the run's window_end) is modeled."""
    ledger = read_ledger(settings)
    if not len(ledger):
        return 0
    limit = pd.Timestamp(until)
    limit = limit.tz_localize("UTC") if limit.tzinfo is None else limit.tz_convert("UTC")
    done = ~ledger["modeled"].fillna(False).astype(bool) & (ledger["ingested_at"] <= limit)
    ledger.loc[done, "modeled"] = True
    lake.write_parquet(
        ledger_path(settings), pa.Table.from_pandas(ledger, schema=LEDGER_SCHEMA, preserve_index=False)
    )
    return int(done.sum())


def dbt_vars(settings: Settings) -> dict:
    """The config the telemetry models read as dbt vars (session gap, traffic rule)."""
    config = settings.telemetry
    return {
        "telemetry_session_gap_seconds": int(config.session_gap.total_seconds()),
        "telemetry_baseline_minutes": config.baseline_minutes,
        "telemetry_alert_absolute": config.alert_absolute,
        "telemetry_alert_factor": config.alert_factor,
        "telemetry_alert_min_events": config.alert_min_events,
        "telemetry_device_alert_events": config.device_alert_events,
        "telemetry_top_talker_events": min(config.device_alert_events, config.alert_min_events) // 3,
        "telemetry_alert_severity": config.alert_severity,
    }


def land_for_run(context: dict) -> dict:
    """The `land` task: ingest what is new; return the counts, the ingestion span and the dbt vars."""
    from cadence.config import get_settings

    settings = get_settings()
    landed = ingest(settings, context.get("run_id"))
    log.info("telemetry: %s", {k: v for k, v in landed.items() if k.startswith(("files", "lines", "events"))})
    if context["params"].get("is_full_refresh"):
        landed = {**landed, "window_start": None, "window_end": None}
    return {**landed, **dbt_vars(settings), "is_full_refresh": bool(context["params"].get("is_full_refresh"))}

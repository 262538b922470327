"""The `telemetry` DAG's landing step: exactly the files not yet processed → bronze / quarantine (a ledger).

The ledger (``ops/telemetry_ledger/ledger.parquet`` in the lake, one row per landed file name) records size,
checksum, status and row counts. A run lists the landing area and takes every file whose name is new or
whose checksum changed:

- an identical re-upload (same name, same bytes) is not even read again;
- the same bytes under another name (a client retry) are recorded as ``duplicate`` and skipped;
- a changed file (a corrected re-upload) is processed again and *replaces* its bronze rows (bronze paths
  are derived from the file name);
- a file that cannot be read (truncated gzip) is copied whole to ``quarantine/telemetry_files`` with its
  reason (status ``quarantined``) and never blocks the others;
- every readable line ends in bronze (``telemetry_visits`` / ``telemetry_events`` / ``telemetry_event_items``)
  or in ``quarantine/telemetry_lines`` with its file, line number and reason: not JSON, does not fit the
  schema, or breaks a Great Expectations rule (``cadence.telemetry.quality``).

Every row carries ingestion metadata (``_file``, ``_line``, ``_checksum``, ``_ingested_at``). dbt then
processes what was ingested since the last run that got through dbt: files stay ``modeled = false`` until
the run's last task marks them, so a failed dbt build is picked up by the next run.
"""

from __future__ import annotations

import logging
from collections import Counter
from dataclasses import dataclass
from datetime import UTC, datetime

import pandas as pd
import pyarrow as pa

from cadence import lake
from cadence.config import Settings
from cadence.telemetry import flatten
from cadence.telemetry.simulator import STAMP, checksum, landing_dir

log = logging.getLogger(__name__)

JOB = "telemetry"
TABLES = {"visits": "telemetry_visits", "events": "telemetry_events", "items": "telemetry_event_items"}
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
    return table.to_pandas()


def _partition(name: str) -> str:
    """``dt=`` of a landing file: the UTC day in its name (``telemetry_<YYYYmmddTHHMMSS>...``)."""
    try:
        return f"dt={datetime.strptime(name.split('_')[1][:15], STAMP):%Y-%m-%d}"
    except (IndexError, ValueError):
        return "dt=unknown"


def bronze_file(settings: Settings, kind: str, name: str):
    stem = name.removesuffix(".gz").removesuffix(".json")
    return lake.root(settings) / "bronze" / TABLES[kind] / _partition(name) / f"{stem}.parquet"


def quarantine_lines_file(settings: Settings, name: str):
    stem = name.removesuffix(".gz").removesuffix(".json")
    return lake.root(settings) / "quarantine" / "telemetry_lines" / _partition(name) / f"{stem}.parquet"


def landed(settings: Settings) -> list:
    folder = landing_dir(settings)
    if not folder.exists():
        return []
    return sorted(
        (p for p in folder.iterdir() if p.name.endswith(".json.gz") and not p.name.startswith(".")),
        key=lambda p: p.name,
    )


@dataclass
class Arrival:
    path: object
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
    for path in landed(settings):
        payload = path.read_bytes()
        digest = checksum(payload)
        if known.get(path.name) == digest:
            continue  # the same file again: nothing to do
        if path.name not in known and digest in loaded:
            duplicates.append(
                {
                    "file": path.name,
                    "size": len(payload),
                    "checksum": digest,
                    "status": "duplicate",
                    "duplicate_of": loaded[digest],
                }
            )
            continue
        arrivals.append(Arrival(path, payload, digest, path.name in known))
        if path.name not in known:
            loaded.setdefault(digest, path.name)
    return arrivals, duplicates


def _quarantine_rows(
    name: str, digest: str, now: datetime, rows: list[tuple[int | None, str, str]]
) -> pa.Table:
    return pa.table(
        {
            "_file": [name] * len(rows),
            "_line": pa.array([r[0] for r in rows], pa.int64()),
            "_reject_reason": [r[1] for r in rows],
            "raw_line": [r[2] for r in rows],
            "_checksum": [digest] * len(rows),
            "_ingested_at": pa.array([now] * len(rows), pa.timestamp("us", tz="UTC")),
        },
        schema=QUARANTINE_SCHEMA,
    )


def ingest(settings: Settings, run_id: str | None = None, now: datetime | None = None) -> dict:
    """Process every pending file; returns the counts and the span dbt must (re)process."""
    from cadence.telemetry.quality import rejected_lines

    now = now or datetime.now(UTC)
    ledger = read_ledger(settings)
    arrivals, duplicates = pending(settings, ledger)
    records: list[dict] = [{**d, "ingested_at": now, "run_id": run_id, "modeled": True} for d in duplicates]
    flats: list[tuple[Arrival, flatten.Flat]] = []
    for arrival in arrivals:
        name = arrival.path.name
        base = {
            "file": name,
            "size": len(arrival.payload),
            "checksum": arrival.checksum,
            "ingested_at": now,
            "run_id": run_id,
        }
        try:
            lines = flatten.split_lines(flatten.gunzip(arrival.payload))
        except flatten.CorruptFile as error:
            target = lake.root(settings) / "quarantine" / "telemetry_files" / _partition(name) / name
            lake.write_atomic(target, arrival.payload)
            lake.write_parquet(
                quarantine_lines_file(settings, name),
                _quarantine_rows(name, arrival.checksum, now, [(None, str(error), "")]),
            )
            for kind in TABLES:
                lake.remove(bronze_file(settings, kind, name))  # a corrupt re-upload leaves no stale rows
            records.append(
                {
                    **base,
                    "status": "quarantined",
                    "reason": str(error),
                    "lines": 0,
                    "lines_loaded": 0,
                    "lines_quarantined": 0,
                    "modeled": True,
                }
            )
            continue
        meta = {"_file": name, "_checksum": arrival.checksum, "_ingested_at": now}
        flats.append((arrival, flatten.flatten(lines, meta)))

    # one Great Expectations run per table for all files of the run (a GX run costs the same for 1 or 1M rows)
    rule_breaks = rejected_lines(settings, [f for _, f in flats])
    for arrival, flat in flats:
        name = arrival.path.name
        broken = rule_breaks.get(name, {})
        rejected = flat.rejected + [(line, reason, "") for line, reason in broken.items()]
        keep = {
            kind: _without_lines(table, broken)
            for kind, table in (("visits", flat.visits), ("events", flat.events), ("items", flat.items))
        }
        for kind, table in keep.items():
            lake.write_parquet(bronze_file(settings, kind, name), table)
        path = quarantine_lines_file(settings, name)
        if rejected:
            lake.write_parquet(
                path, _quarantine_rows(name, arrival.checksum, now, _with_text(rejected, flat, arrival))
            )
        else:
            lake.remove(path)
        records.append(
            {
                "file": name,
                "size": len(arrival.payload),
                "checksum": arrival.checksum,
                "status": "replaced" if arrival.replaces else "loaded",
                "lines": flat.lines,
                "lines_loaded": keep["visits"].num_rows,
                "lines_quarantined": len(rejected),
                "visits": keep["visits"].num_rows,
                "events": keep["events"].num_rows,
                "items": keep["items"].num_rows,
                "drift_fields": ",".join(flat.drift) or None,
                "ingested_at": now,
                "run_id": run_id,
                "modeled": False,
            }
        )
        if keep["visits"].num_rows + len(rejected) != flat.lines:
            raise AssertionError(
                f"{name}: {flat.lines} lines but {keep['visits'].num_rows} loaded "
                f"and {len(rejected)} quarantined"
            )
    ledger = _merge(ledger, records)
    lake.write_parquet(
        ledger_path(settings), pa.Table.from_pandas(ledger, schema=LEDGER_SCHEMA, preserve_index=False)
    )
    return summary(ledger, records, now)


def _without_lines(table: pa.Table, lines: dict[int, str]) -> pa.Table:
    if not lines:
        return table
    import pyarrow.compute as pc

    return table.filter(pc.invert(pc.is_in(table.column("_line"), pa.array(list(lines), pa.int64()))))


def _with_text(rejected, flat, arrival) -> list[tuple[int, str, str]]:
    """Rule-breaking lines carry their raw text too (parse failures already do)."""
    if all(text for _, _, text in rejected):
        return sorted(rejected, key=lambda r: r[0])
    lines = flatten.split_lines(flatten.gunzip(arrival.payload))
    return sorted(
        ((n, reason, text or lines[n - 1].decode("utf-8", "replace")) for n, reason, text in rejected),
        key=lambda r: r[0],
    )


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

"""Benchmark of the telemetry cadence: gzipped JSON to bronze (events/s), and sessionization (time, peak RSS).

    .venv/bin/python bench/bench_telemetry.py                      # ingest ~1M events; sessionize 10M
    .venv/bin/python bench/bench_telemetry.py --sessionize 1000000 # a lighter sessionization

Ingest: the simulator writes a day of uploads once; the files are then landed again under other names with
other gzip headers (so the ledger takes each as new) until about ``--ingest`` events wait in the landing
area, twice: as the clients upload them (~260 events a file) and concatenated into one file per day (~27k
events, a collector's batch); the timing covers :func:`cadence.telemetry.pipeline.ingest` as the land task
runs it (list, read, checksum, gunzip, one Arrow JSON parse of all files, flatten, one Great Expectations
run per table, one Parquet part per table, ledger, run-log record), after a warm-up as in a task process:
a run with nothing to land (imports the Airflow SDK and its plugins) and the import of Great Expectations
(~7 s). The time column also gives the process's CPU seconds: on a loaded machine the wall time is longer.

Sessionize: ``--sessionize`` synthetic events (100k users over 7 days, Poisson-ish gaps) are written as one
bronze Parquet file per table, and ``dbt build`` of stg_telemetry_visits, stg_telemetry_events and
fct_sessions (a full build: every user sessionized) runs in a subprocess; its wall time and peak RSS
(dbt + DuckDB) are reported.

Goal: >= 200k events/s from gzipped JSON to bronze on this 2-core machine.
"""

from __future__ import annotations

import argparse
import gzip
import json
import os
import resource
import shutil
import subprocess
import sys
import tempfile
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "include"))


def bench_ingest(target_events: int, work: Path, batch: bool) -> dict:
    os.environ["CADENCE_DATA_DIR"] = str(work / ("ingest_batched" if batch else "ingest"))
    from cadence.config import get_settings
    from cadence.telemetry import pipeline, simulator

    settings = get_settings()
    start = datetime(2026, 3, 2, tzinfo=UTC)
    print("generating a day of uploads…", file=sys.stderr, flush=True)
    uploads = [u for u in simulator.uploads(start, start + timedelta(days=1), settings) if u.kind == "upload"]
    contents = [gzip.decompress(u.payload) for u in uploads]
    if batch:  # a collector's batch: the day's uploads in one file
        contents = [b"".join(contents)]
    per_copy = sum(
        len(json.loads(line).get("events", [])) for c in contents for line in c.splitlines() if _is_json(line)
    )
    copies = max(1, round(target_events / per_copy))
    folder = Path(settings.lake_local_path) / "landing" / "telemetry"
    folder.mkdir(parents=True, exist_ok=True)
    # warm-up, as the land task's process is warm: the Airflow SDK (ObjectStoragePath) and its plugins are
    # imported by a run with nothing to land, Great Expectations (~7 s) by an import
    pipeline.ingest(settings, "warm-up")
    import great_expectations  # noqa: F401

    for copy in range(copies):
        for number, data in enumerate(contents):
            payload = gzip.compress(data, compresslevel=6, mtime=copy + 1)
            (folder / f"telemetry_{copy:04d}_{number:04d}.json.gz").write_bytes(payload)

    subprocess.run(["sync"], check=False)
    cpu, started = _cpu_s(), time.perf_counter()
    landed = pipeline.ingest(settings, "bench")
    elapsed, cpu = time.perf_counter() - started, _cpu_s() - cpu
    return {
        "files": landed["files"],
        "lines": landed["lines"],
        "events": landed["events"],
        "seconds": elapsed,
        "cpu_s": cpu,
        "events_per_s": landed["events"] / elapsed,
        "rss_mb": _rss_mb(),
    }


def _cpu_s() -> float:
    """CPU seconds of this process (all threads): with the wall time, how much the machine's load took."""
    usage = resource.getrusage(resource.RUSAGE_SELF)
    return usage.ru_utime + usage.ru_stime


def _is_json(line: bytes) -> bool:
    try:
        json.loads(line)
        return True
    except ValueError:
        return False


def _rss_mb() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def synthetic_bronze(events: int, lake: Path) -> None:
    """``events`` events of 100k users over 7 days, as bronze Parquet (one file per table)."""
    import numpy as np
    import pyarrow as pa
    import pyarrow.compute
    import pyarrow.parquet as pq

    rng = np.random.default_rng(1)
    user = np.sort(rng.integers(100_000, size=events))
    # within a user: mostly seconds apart, one gap in ten is hours long (a new session)
    gaps = np.where(
        rng.random(events) < 0.1, rng.exponential(5 * 3_600_000, events), rng.exponential(30_000, events)
    )
    elapsed = np.cumsum(gaps.astype(np.int64))
    first = np.searchsorted(user, user)  # index of each user's first event
    times = np.datetime64("2026-03-02T00:00:00", "ms") + (elapsed - elapsed[first])
    ids = np.arange(events)
    user_ids = pa.compute.binary_join_element_wise("u", pa.array(user.astype(str)), "")
    visit_ids = pa.compute.binary_join_element_wise("v", pa.array((ids // 20).astype(str)), "")
    ts = pa.array(times, pa.timestamp("ms", tz="UTC"))
    ingested = pa.repeat(pa.scalar(datetime(2026, 3, 9, tzinfo=UTC), pa.timestamp("us", tz="UTC")), events)
    event_table = pa.table(
        {
            "event_id": pa.array(ids.astype(str)),
            "visit_id": visit_ids,
            "user_id": user_ids,
            "device_id": user_ids,
            "event_type": pa.array(np.array(["screen_view", "level_start"])[ids % 2]),
            "client_ts": ts,
            "event_time": ts,
            "screen": pa.array(np.array(["home", "map", "level"])[ids % 3]),
            "level": pa.array(ids % 50),
            "level_result": pa.nulls(events, pa.string()),
            "transaction_id": pa.nulls(events, pa.string()),
            "received_at": ts,
            "_line": pa.array(ids % 100),
            "_file": pa.array(np.full(events, "f")),
            "_checksum": pa.array(np.full(events, "c")),
            "_ingested_at": ingested,
        }
    )
    first = pa.compute.equal(pa.array(ids % 20), 0)
    visits = event_table.filter(first)
    visit_table = pa.table(
        {
            "visit_id": visits["visit_id"],
            "user_id": visits["user_id"],
            "device_id": visits["device_id"],
            "platform": pa.array(np.full(visits.num_rows, "ios")),
            "device_model": pa.array(np.full(visits.num_rows, "x")),
            "os_version": pa.array(np.full(visits.num_rows, "1")),
            "app_version": pa.array(np.full(visits.num_rows, "1.0.0")),
            "country": pa.array(np.full(visits.num_rows, "US")),
            "region": pa.array(np.full(visits.num_rows, "US-1")),
            "client_started_at": visits["event_time"],
            "started_at": visits["event_time"],
            "sent_at": visits["event_time"],
            "received_at": visits["event_time"],
            "event_count": pa.array(np.full(visits.num_rows, 20)),
            "_line": visits["_line"],
            "_file": visits["_file"],
            "_checksum": visits["_checksum"],
            "_ingested_at": visits["_ingested_at"],
        }
    )
    items = pa.table(
        {
            "event_id": pa.array([], pa.string()),
            "item_index": pa.array([], pa.int64()),
            "sku": pa.array([], pa.string()),
            "category": pa.array([], pa.string()),
            "quantity": pa.array([], pa.int64()),
            "price_usd": pa.array([], pa.float64()),
            "received_at": pa.array([], pa.timestamp("ms", tz="UTC")),
            "_line": pa.array([], pa.int64()),
            "_file": pa.array([], pa.string()),
            "_checksum": pa.array([], pa.string()),
            "_ingested_at": pa.array([], pa.timestamp("us", tz="UTC")),
        }
    )
    for name, table in (
        ("telemetry_events", event_table),
        ("telemetry_visits", visit_table),
        ("telemetry_event_items", items),
    ):
        folder = lake / "bronze" / name / "dt=2026-03-09"
        folder.mkdir(parents=True, exist_ok=True)
        pq.write_table(table, folder / "bench.parquet", compression="zstd")


def bench_sessionize(events: int, work: Path) -> dict:
    lake = work / "sessions" / "lake"
    print(f"writing {events:,} synthetic events…", file=sys.stderr, flush=True)
    synthetic_bronze(events, lake)
    environment = {
        **os.environ,
        "DBT_LAKE_ROOT": str(lake),
        "DBT_DUCKDB_PATH": str(work / "sessions" / "w.duckdb"),
    }
    dbt = Path(sys.executable).parent / "dbt"
    command = [
        str(dbt),
        "run",
        "--select",
        "stg_telemetry_visits",
        "stg_telemetry_events",
        "fct_sessions",
        "--project-dir",
        str(ROOT / "dbt"),
        "--profiles-dir",
        str(ROOT / "dbt"),
        "--target-path",
        str(work / "target"),
    ]
    print("sessionizing…", file=sys.stderr, flush=True)
    before = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss
    started = time.perf_counter()
    result = subprocess.run(command, env=environment, capture_output=True, text=True)
    elapsed = time.perf_counter() - started
    if result.returncode:
        raise SystemExit(result.stdout[-3000:])
    import duckdb

    with duckdb.connect(str(work / "sessions" / "w.duckdb"), read_only=True) as connection:
        sessions = connection.sql("select count(*) from telemetry.fct_sessions").fetchall()[0][0]
    peak = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss
    return {
        "events": events,
        "sessions": sessions,
        "seconds": elapsed,
        "peak_rss_mb": max(peak, before) / 1024,
    }


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--ingest", type=int, default=1_000_000, help="events to ingest (approximate)")
    parser.add_argument("--sessionize", type=int, default=10_000_000, help="events to sessionize")
    args = parser.parse_args()
    work = Path(tempfile.mkdtemp(prefix="cadence-bench-telemetry-"))
    print(
        "| case | size | time (s) | throughput | peak RSS (MB) |\n| --- | --- | --- | --- | --- |", flush=True
    )
    try:
        for batch in (True, False) if args.ingest else ():
            ingest = bench_ingest(args.ingest, work, batch)
            kind = "day-sized files" if batch else "client-sized files"
            print(
                f"| gzipped JSON → bronze (land task, {kind}) | {ingest['files']} files, "
                f"{ingest['lines']:,} lines, {ingest['events']:,} events | {ingest['seconds']:.2f} "
                f"(CPU {ingest['cpu_s']:.2f}) | "
                f"{ingest['events_per_s']:,.0f} events/s, "
                f"{ingest['events'] / ingest['cpu_s']:,.0f} per CPU-s "
                f"(goal ≥ 200,000 events/s) | {ingest['rss_mb']:.0f} |",
                flush=True,
            )
        if args.sessionize:
            sessions = bench_sessionize(args.sessionize, work)
            print(
                f"| sessionization (dbt fct_sessions, full build) | {sessions['events']:,} events → "
                f"{sessions['sessions']:,} sessions | {sessions['seconds']:.1f} | "
                f"{sessions['events'] / sessions['seconds']:,.0f} events/s | {sessions['peak_rss_mb']:.0f} |"
            )
    finally:
        shutil.rmtree(work, ignore_errors=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())

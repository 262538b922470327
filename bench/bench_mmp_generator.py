"""Benchmark of the MMP generator: events per second and peak memory, in memory and to lake JSONL.

    .venv/bin/python bench/bench_mmp_generator.py                          # 1M and 10M events, both modes
    .venv/bin/python bench/bench_mmp_generator.py --events 1000000 --modes memory

Every case runs in a fresh subprocess, so its peak RSS is its own and cases compare fairly; each case runs
``--repeat`` times and the median run is reported (disk write-back makes JSONL timings noisy). Timing starts
after a warm-up of one block that pays the one-time costs (imports, the user population, lookup tables,
Airflow's filesystem registration on the first ``ObjectStoragePath`` use, about 2 s) and after ``sync``,
and covers generating every chunk (memory) or generating, formatting and writing the whole file including
the atomic rename (jsonl). The lake is a temporary folder, removed at the end.

Reference (per-event Python loop): ~90k events/s in memory, ~70k events/s to JSONL.
Goal: >= 4.5M events/s in memory, >= 1M events/s to JSONL, peak memory flat in N.
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import shutil
import subprocess
import sys
import tempfile
import time
from datetime import UTC, datetime, timedelta

START = datetime(2026, 3, 1, tzinfo=UTC)
END = START + timedelta(days=1)
MODES = ("memory", "jsonl")


def _rss_mb() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024  # KiB on Linux


def run_case(events: int, mode: str, lake_dir: str) -> dict[str, float]:
    """One measurement, in this process."""
    from cadence.config import load_settings
    from cadence.mmp.generator import BLOCK, WindowPlan
    from cadence.mmp.writer import window_path, write_events

    settings = load_settings(data_dir=lake_dir)
    path = window_path(START, END, "jsonl", settings)
    warm_up = WindowPlan(START, END, settings, events=BLOCK).chunks()  # builds caches and lookup tables
    if mode == "jsonl":
        write_events(warm_up, path)
        path.unlink()
        os.sync()  # start from a clean page cache, not behind the write-back of an earlier case
    else:
        sum(chunk.num_rows for chunk in warm_up)
    before = _rss_mb()

    started = time.perf_counter()
    plan = WindowPlan(START, END, settings, events=events)
    if mode == "memory":
        produced = sum(chunk.num_rows for chunk in plan.chunks())
        size = 0
    else:
        produced = events
        size = write_events(plan.chunks(), path)
    seconds = time.perf_counter() - started
    if mode == "jsonl":
        path.unlink()  # not timed; keeps the next case's disk as clean as this one's
    assert produced == events
    return {"seconds": seconds, "peak_mb": _rss_mb(), "before_mb": before, "bytes": size}


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--events", type=int, nargs="+", default=[1_000_000, 10_000_000])
    parser.add_argument("--modes", nargs="+", choices=MODES, default=list(MODES))
    parser.add_argument("--repeat", type=int, default=3, help="runs per case; the median is reported")
    parser.add_argument("--case", nargs=3, metavar=("EVENTS", "MODE", "LAKE"), help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.case:
        print(json.dumps(run_case(int(args.case[0]), args.case[1], args.case[2])))
        return 0

    lake_dir = tempfile.mkdtemp(prefix="cadence-bench-mmp-")
    rows = [
        "| events | mode | seconds | events/s | peak RSS MB | RSS before run MB | file MB |",
        "| ---: | --- | ---: | ---: | ---: | ---: | ---: |",
    ]
    try:
        for events in args.events:
            for mode in args.modes:
                runs = []
                for _ in range(args.repeat):
                    result = subprocess.run(
                        [sys.executable, __file__, "--case", str(events), mode, lake_dir],
                        check=True,
                        capture_output=True,
                        text=True,
                    )
                    runs.append(json.loads(result.stdout.strip().splitlines()[-1]))
                case = sorted(runs, key=lambda run: run["seconds"])[len(runs) // 2]
                file_mb = f"{case['bytes'] / 1e6:,.0f}" if case["bytes"] else "-"
                rows.append(
                    f"| {events:,} | {mode} | {case['seconds']:.2f} | {events / case['seconds']:,.0f} "
                    f"| {case['peak_mb']:,.0f} | {case['before_mb']:,.0f} | {file_mb} |"
                )
                print(rows[-1], file=sys.stderr)
    finally:
        shutil.rmtree(lake_dir, ignore_errors=True)
    print("\n".join(rows))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())

"""Scale ladder: the pipeline's steps at 1x, 10x and 100x the simulator's default volume.

    .venv/bin/python bench/bench_scale.py                          # 1x and 10x, every step
    .venv/bin/python bench/bench_scale.py --volumes 1 10 100 --days 7 --skip-full-refresh-above 10

For each volume (CADENCE_SIMULATOR__VOLUME) a fresh data folder is seeded with ``--days`` of both streams,
then each step runs in its own process (wall time and that process's peak RSS, from wait4):

backfill        land ``--days`` minus the last hour of both streams through cadence.ingest (extract →
                Great Expectations → bronze, 6-hour chunks, as a backfill run does) and one windowed
                ``dbt build`` of silver and gold (purchases, spins, gold tags) for the range.
purchases       the next 5-minute purchases window: land it and build silver purchases (window in
                DBT_WINDOW_* as Cosmos passes it).
spins+gold      the last hourly spins window: land it, build silver spins and gold (write-audit-publish).
full refresh    ``dbt build --full-refresh`` of silver and gold from everything in the lake.

The steps run the same ingest code and the same dbt models and tests the DAG tasks run, in one process
each, without the Airflow task around them (`bench_pipeline.py` measures that overhead and the real
scheduler). Only the markdown table goes to stdout. Everything lives in a temporary folder, removed at
the end.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import subprocess
import sys
import tempfile
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
UNTIL = datetime(2026, 3, 10, tzinfo=UTC)


def _environment(data: Path, volume: float) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("CADENCE_")}
    env.update(
        CADENCE_DATA_DIR=str(data),
        CADENCE_SIMULATOR__VOLUME=str(volume),
        AIRFLOW_CONN_CADENCE_SOURCE=json.dumps({"conn_type": "sqlite", "host": str(data / "source.sqlite")}),
        AIRFLOW_CONN_CADENCE_WAREHOUSE=json.dumps(
            {"conn_type": "duckdb", "host": str(data / "warehouse.duckdb")}
        ),
        AIRFLOW_HOME=str(data / "airflow"),
        PYTHONPATH=f"{ROOT / 'include'}{os.pathsep}{os.environ.get('PYTHONPATH', '')}",
    )
    return env


def _measure(env: dict[str, str], *args: str) -> tuple[float, float]:
    """Run this script's worker with ``args``; wall seconds and peak RSS (MB) of that process."""
    started = time.monotonic()
    # the worker's logs go to stderr with the progress: only the table goes to stdout
    process = subprocess.Popen([sys.executable, __file__, "--worker", *args], env=env, stdout=sys.stderr)
    _, status, usage = os.wait4(process.pid, 0)
    elapsed = time.monotonic() - started
    if os.waitstatus_to_exitcode(status):
        raise RuntimeError(f"step {args} failed")
    return elapsed, usage.ru_maxrss / 1024


# ---------------------------------------------------------------- worker side (one step per process)


def _land(names: tuple[str, ...], start: datetime, end: datetime, chunk: timedelta) -> None:
    from cadence import ingest, sources
    from cadence.config import get_settings
    from cadence.lake import Window

    settings = get_settings()
    for name in names:
        ingest.ingest(settings, sources.get_spec(name, settings), Window(start, end),
                      lookback=timedelta(0), chunk=chunk)  # fmt: skip


def _dbt(select: list[str], window: tuple[datetime, datetime] | None, *flags: str) -> None:
    from cadence.config import get_settings
    from dbt.cli.main import dbtRunner

    settings = get_settings()
    project = str(settings.dbt_project_dir)
    os.environ.update(DBT_DUCKDB_PATH=str(settings.duckdb_path), DBT_LAKE_ROOT=settings.lake_local_path)
    if window:
        os.environ.update(DBT_WINDOW_START=f"{window[0]:%Y-%m-%d %H:%M:%S}",
                          DBT_WINDOW_END=f"{window[1]:%Y-%m-%d %H:%M:%S}")  # fmt: skip
    result = dbtRunner().invoke(
        ["build", "--project-dir", project, "--profiles-dir", project, "--target-path",
         str(settings.data_dir / "dbt-target"), "--quiet", "--exclude", "resource_type:unit_test",
         "--select", *select, *flags]
    )  # fmt: skip
    if not result.success:
        raise SystemExit(f"dbt build failed: {result.exception}")


def worker(step: str, days: float) -> None:
    hour = timedelta(hours=1)
    if step == "seed":
        from cadence.simulator import cli

        cli.seed(["purchases", "spins_hourly"], days, UNTIL)
    elif step == "backfill":
        start, end = UNTIL - timedelta(days=days), UNTIL - hour
        _land(("purchases", "spins_hourly"), start, end, timedelta(hours=6))
        _dbt(["tag:purchases", "tag:spins", "tag:gold"], (start, end))
    elif step == "purchases":
        start = UNTIL - hour
        _land(("purchases",), start, start + timedelta(minutes=5), timedelta(minutes=5))
        _dbt(["tag:purchases"], (start, start + timedelta(minutes=5)))
    elif step == "spins":
        _land(("spins_hourly",), UNTIL - hour, UNTIL, hour)
        _dbt(["tag:spins", "tag:gold"], (UNTIL - hour, UNTIL))
    elif step == "refresh":
        _dbt(["tag:purchases", "tag:spins", "tag:gold"], None, "--full-refresh")


# ---------------------------------------------------------------- driver


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--volumes", type=float, nargs="+", default=[1, 10])
    parser.add_argument("--days", type=float, default=7)
    parser.add_argument("--skip-full-refresh-above", type=float, default=10)
    parser.add_argument("--worker", nargs=1)
    args, _ = parser.parse_known_args()
    if args.worker:
        return worker(args.worker[0], args.days)
    rows = []
    for volume in args.volumes:
        data = Path(tempfile.mkdtemp(prefix=f"cadence-scale-{volume:g}x-"))
        try:
            env = _environment(data, volume)
            steps = ["seed", "backfill", "purchases", "spins"]
            if volume <= args.skip_full_refresh_above:
                steps.append("refresh")
            row = {"volume": f"{volume:g}x"}
            for step in steps:
                print(f"{volume:g}x {step} …", file=sys.stderr, flush=True)
                row[step] = _measure(env, step, "--days", str(args.days))
            rows.append(row)
        finally:
            shutil.rmtree(data, ignore_errors=True)
    names = {"seed": f"seed {args.days:g} d", "backfill": f"{args.days:g}-day backfill",
             "purchases": "purchases window", "spins": "spins window + gold",
             "refresh": f"full refresh ({args.days:g} d of lake)"}  # fmt: skip
    print("| volume | " + " | ".join(names.values()) + " |")
    print("|---" * (len(names) + 1) + "|")
    for row in rows:
        cells = [f"{row[k][0]:.1f} s / {row[k][1]:.0f} MB" if k in row else "not run" for k in names]
        print(f"| {row['volume']} | " + " | ".join(cells) + " |")
    print("\nwall time / peak RSS of the step's process")


if __name__ == "__main__":
    main()

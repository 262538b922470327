"""dbt parse time per dbt task when each run brings a new window: in --vars (before) or in env vars (now).

    .venv/bin/python bench/bench_dbt_parse.py [--repeat 3]

Cosmos keeps dbt's partial-parse file between tasks (its cache) and copies it into each task's project
copy. A window in --vars changes the vars hash every run, so dbt throws the file away and parses the whole
project; a window in DBT_WINDOW_START / DBT_WINDOW_END, read by the models only while executing, leaves the
parse unchanged. Each measurement is one `dbt parse` (in a fresh process, as a task is) after a first
parse that wrote the partial-parse file; the window moves by 5 minutes every time. Median of --repeat.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from datetime import datetime, timedelta
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
PROJECT = ROOT / "dbt"


def _parse(target: Path, window: datetime, how: str) -> float:
    env = {k: v for k, v in os.environ.items() if not k.startswith("DBT_WINDOW")}
    env.update(DBT_DUCKDB_PATH=str(target / "warehouse.duckdb"), DBT_LAKE_ROOT=str(target / "lake"))
    start, end = f"{window:%Y-%m-%d %H:%M:%S}", f"{window + timedelta(minutes=5):%Y-%m-%d %H:%M:%S}"
    args = [
        "parse",
        "--project-dir",
        str(PROJECT),
        "--profiles-dir",
        str(PROJECT),
        "--target-path",
        str(target),
    ]
    if how == "vars":
        args += ["--vars", json.dumps({"window_start": start, "window_end": end})]
    else:
        env.update(DBT_WINDOW_START=start, DBT_WINDOW_END=end)
    code = (
        "from dbt.cli.main import dbtRunner; import time; t = time.monotonic(); "
        f"r = dbtRunner().invoke({args!r}); print(time.monotonic() - t); assert r.success"
    )
    out = subprocess.run([sys.executable, "-c", code], env=env, capture_output=True, text=True, check=True)
    return float(out.stdout.strip().splitlines()[-1])


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeat", type=int, default=3)
    args = parser.parse_args()
    print("| window passed in | first parse (s) | parse per later task, median (s) |")
    print("|---|---|---|")
    for how in ("vars", "env"):
        target = Path(tempfile.mkdtemp(prefix=f"cadence-parse-{how}-"))
        try:
            moment = datetime(2026, 3, 10, 12, 0)
            first = _parse(target, moment, how)
            later = [_parse(target, moment + timedelta(minutes=5 * (i + 1)), how) for i in range(args.repeat)]
            label = "--vars (before)" if how == "vars" else "DBT_WINDOW_* env (now)"
            print(f"| {label} | {first:.2f} | {statistics.median(later):.2f} |", flush=True)
        finally:
            shutil.rmtree(target, ignore_errors=True)
    print("\n`dbt parse` inside the process (process start-up and imports excluded)")


if __name__ == "__main__":
    started = time.monotonic()
    main()

"""Rows/s of one window extracted from each kind of SQL source (SQLite, PostgreSQL, MariaDB).

The simulator writes the same history into a fresh database of each kind (this machine's Postgres on
5432 and MariaDB on 3306, unique names, dropped afterwards); then ``sources.extract`` (the land task's
extract, through the connection's common.sql hook, column check included) reads one window of each
stream, best of ``--repeat``. Prints a markdown table; asserts nothing.

    .venv/bin/python bench/bench_sql_sources.py --days 1 --window-hours 6
"""

from __future__ import annotations

import argparse
import os
import sys
import tempfile
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--days", type=float, default=1.0, help="history seeded into each source")
    parser.add_argument("--window-hours", type=float, default=6.0, help="the extracted window")
    parser.add_argument("--repeat", type=int, default=3)
    args = parser.parse_args(argv)

    from tests.support.source_dbs import SourceConnection, mariadb_database, postgres_database

    until = datetime(2026, 3, 10, 12, tzinfo=UTC)
    window = (until - timedelta(hours=args.window_hours), until)
    rows = []
    with tempfile.TemporaryDirectory(prefix="bench-sql-") as scratch:
        os.environ.update({"AIRFLOW_HOME": scratch, "CADENCE_DATA_DIR": scratch, "DO_NOT_TRACK": "1"})
        from cadence import sources
        from cadence.config import get_settings
        from cadence.simulator import cli
        from cadence.sources import source_hook

        with postgres_database("bench") as postgres, mariadb_database("bench") as mariadb:
            connections = {
                "SQLite": SourceConnection("sqlite", host=str(Path(scratch) / "source.sqlite")),
                "PostgreSQL": postgres,
                "MariaDB": mariadb,
            }
            for kind, connection in connections.items():
                os.environ["AIRFLOW_CONN_CADENCE_SOURCE"] = connection.as_json()
                print(f"seeding {kind} …", file=sys.stderr, flush=True)
                cli.seed(["purchases", "spins_hourly"], args.days, until)
                settings = get_settings()
                for stream in ("purchases", "spins_hourly"):
                    spec = sources.get_spec(stream, settings)
                    best, count = float("inf"), 0
                    for _ in range(args.repeat):
                        hook = source_hook(settings)  # a fresh hook: connection and reflection included
                        started = time.perf_counter()
                        count = len(sources.extract(hook, spec, *window))
                        best = min(best, time.perf_counter() - started)
                    rows.append((kind, stream, count, best, count / best))
    print(f"One {args.window_hours:g}-hour window ({window[0]:%Y-%m-%d %H:%M} → {window[1]:%H:%M} UTC) of "
          f"{args.days:g} simulated day(s); best of {args.repeat}, fresh hook each time.\n")  # fmt: skip
    print("| source | stream | rows | seconds | rows/s |\n| --- | --- | ---: | ---: | ---: |")
    for kind, stream, count, seconds, rate in rows:
        print(f"| {kind} | {stream} | {count} | {seconds:.3f} | {rate:,.0f} |")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())

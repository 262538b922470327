"""``cadence-mmp``: generate the synthetic MMP events of a window into the lake and summarise them.

cadence-mmp                                   # yesterday (UTC), sized by the population
cadence-mmp --start 2026-03-01 --end 2026-03-02 --events 10000000 --seed 7
cadence-mmp --start 2026-03-01T06:00 --end 2026-03-01T07:00 --format parquet
"""

from __future__ import annotations

import argparse
import sys
import time
from datetime import UTC, datetime, timedelta

from tqdm import tqdm

from cadence.config import cli_settings
from cadence.mmp.generator import WindowPlan
from cadence.mmp.summary import Summary
from cadence.mmp.writer import FORMATS, window_path, write_events
from cadence.planning import cli_moment


def _positive(value: str) -> int:
    number = int(value)
    if number < 0:
        raise argparse.ArgumentTypeError(f"must not be negative, got {number}")
    return number


def _parse_args(argv: list[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(prog="cadence-mmp", description=__doc__.splitlines()[0])
    parser.add_argument("--start", type=cli_moment, help="window start, UTC (default: yesterday 00:00)")
    parser.add_argument("--end", type=cli_moment, help="window end, UTC (default: start + 1 day)")
    parser.add_argument(
        "--events", type=_positive, help="exact number of events (default: sized by the user population)"
    )
    parser.add_argument("--seed", type=int, help="random seed (default: config mmp.seed)")
    parser.add_argument("--format", choices=FORMATS, default="jsonl", help="file format (default: jsonl)")
    parser.add_argument(
        "--chunk-size", type=_positive, help="events held in memory at once (default: config)"
    )
    args = parser.parse_args(argv)
    if args.start is None:
        args.start = datetime.now(UTC).replace(hour=0, minute=0, second=0, microsecond=0) - timedelta(days=1)
    if args.end is None:
        args.end = args.start + timedelta(days=1)
    if args.end <= args.start:
        parser.error("--end must be after --start")
    return args


def main(argv: list[str] | None = None) -> int:
    args = _parse_args(argv)
    settings = cli_settings()
    if settings is None:
        return 2
    plan = WindowPlan(args.start, args.end, settings, seed=args.seed, events=args.events)
    path = window_path(args.start, args.end, args.format, settings)
    summary = Summary()
    started = time.perf_counter()
    with tqdm(total=plan.total_events, unit="ev", unit_scale=True, desc="mmp events", file=sys.stderr) as bar:

        def progress(chunk) -> None:
            summary.add(chunk)
            bar.update(chunk.num_rows)

        size = write_events(plan.chunks(args.chunk_size), path, args.format, on_chunk=progress)
    seconds = time.perf_counter() - started
    mode = f"{args.events:,} events requested" if args.events is not None else "sized by the user population"
    title = (
        f"MMP events {args.start:%Y-%m-%d %H:%M} to {args.end:%Y-%m-%d %H:%M} UTC (seed {plan.seed}, {mode})"
    )
    rate = summary.events / seconds if seconds else 0.0
    print(summary.render(title, f"{path} ({size / 1e6:,.1f} MB) in {seconds:.1f} s, {rate:,.0f} events/s"))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())

"""``cadence-simulate``: seed the source database with history, or keep it receiving fresh rows.

cadence-simulate seed --days 3      # start the simulation 3 days ago and apply everything up to now
cadence-simulate seed --since 2026-03-01  # or from a given moment
cadence-simulate tick               # apply what changed since the last tick
cadence-simulate run --every 60     # tick every 60 s until interrupted (the local live feed)
cadence-simulate pause spins_hourly # the spins feed goes quiet (a running `run` loop honours it)
cadence-simulate resume spins_hourly
cadence-simulate status             # what each stream has delivered, and which are paused
"""

from __future__ import annotations

import argparse
import os
import sys
import time
from datetime import UTC, datetime, timedelta

from tqdm import tqdm

from cadence import sources
from cadence.config import cli_settings, get_settings
from cadence.planning import cli_moment
from cadence.simulator import source


def _parse_args(argv: list[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(prog="cadence-simulate", description=__doc__.splitlines()[0])
    commands = parser.add_subparsers(dest="command", required=True)
    seed = commands.add_parser("seed", help="start the simulation N days back and apply up to --until")
    start = seed.add_mutually_exclusive_group()
    start.add_argument("--days", type=float, default=None, help="history to create (default: config)")
    start.add_argument("--since", type=cli_moment, default=None, help="start of history (instead of --days)")
    seed.add_argument("--until", type=cli_moment, default=None, help="end of history (default: now)")
    tick = commands.add_parser("tick", help="apply changes since the last tick, up to --until")
    tick.add_argument("--until", type=cli_moment, default=None)
    run = commands.add_parser("run", help="tick forever")
    run.add_argument("--every", type=float, default=60.0, help="seconds between ticks")
    for command in (seed, tick, run):
        command.add_argument(
            "--streams", nargs="+", default=sorted(source.STREAMS), choices=sorted(source.STREAMS)
        )
    for name, help_text in (("pause", "stop delivering these streams"), ("resume", "deliver them again")):
        command = commands.add_parser(name, help=help_text)
        command.add_argument("targets", nargs="+", choices=sorted(source.STREAMS), metavar="STREAM")
    commands.add_parser("status", help="how far each stream has been delivered, and which are paused")
    return parser.parse_args(argv)


def seed(
    streams: list[str], days: float, until: datetime, since: datetime | None = None
) -> dict[str, source.TickSummary]:
    """Create history ending at ``until``, a day at a time with a progress bar: from ``since`` when given,
    else from ``days`` before ``until`` on the hour."""
    settings = get_settings()
    hook = sources.source_hook(settings)
    started_at = since or (until - timedelta(days=days)).replace(minute=0, second=0, microsecond=0)
    totals: dict[str, list[int]] = {}
    for stream in streams:
        source.start(hook, stream, started_at)
        steps = []
        step = started_at + timedelta(days=1)
        while step < until:
            steps.append(step)
            step += timedelta(days=1)
        steps.append(until)
        counts = totals.setdefault(stream, [0, 0])
        for step in tqdm(steps, desc=f"seeding {stream}", unit="day", file=sys.stderr):
            summary = source.tick(hook, settings, stream, step)
            counts[0] += summary.inserted
            counts[1] += summary.updated
    return {
        stream: source.TickSummary(stream, started_at, until, inserted, updated)
        for stream, (inserted, updated) in totals.items()
    }


def _tick_telemetry(settings, until: datetime, history: timedelta) -> None:
    """Game-client telemetry files for the `telemetry` DAG's landing area (cadence.telemetry.feed)."""
    from cadence.telemetry import feed

    print(f"telemetry: {feed.tick(settings, until, history)} files landed")


def _print_summary(summaries: dict[str, source.TickSummary]) -> None:
    for s in summaries.values():
        if s.paused:
            print(f"{s.stream}: paused, nothing delivered up to {s.applied_until:%Y-%m-%d %H:%M} UTC")
            continue
        print(
            f"{s.stream}: {s.inserted} rows inserted, {s.updated} rows updated, "
            f"changes applied from {s.applied_from:%Y-%m-%d %H:%M} to {s.applied_until:%Y-%m-%d %H:%M} UTC"
        )


def _print_status(hook) -> None:
    paused = source.paused_streams(hook)
    for stream in sorted(source.STREAMS):
        state = source.state(hook, stream)
        if state is None:
            print(f"{stream}: not started (run `cadence-simulate seed`)")
            continue
        delivery = f"paused since {paused[stream]:%Y-%m-%d %H:%M} UTC" if stream in paused else "delivering"
        print(f"{stream}: {delivery}; applied up to {state[1]:%Y-%m-%d %H:%M} UTC")


def main(argv: list[str] | None = None) -> int:
    args = _parse_args(argv)
    settings = cli_settings()
    if settings is None:
        return 2
    if args.command == "seed":
        until = args.until or datetime.now(UTC)
        days = settings.simulator.seed_days if args.days is None else args.days
        history = until - args.since if args.since else timedelta(days=days)
        _print_summary(seed(args.streams, days, until, args.since))
        _tick_telemetry(settings, until, history)
        return 0

    hook = sources.source_hook(settings)
    if args.command in ("pause", "resume", "status"):
        for stream in getattr(args, "targets", []):
            if args.command == "pause":
                source.pause(hook, stream, datetime.now(UTC))
            else:
                source.resume(hook, stream)
        _print_status(hook)
        return 0
    while True:
        until = getattr(args, "until", None) or datetime.now(UTC)
        for stream in args.streams:  # a stream added since the simulation began starts with recent history
            source.start(hook, stream, until - timedelta(days=settings.simulator.seed_days))
        _print_summary({s: source.tick(hook, settings, s, until) for s in args.streams})
        _tick_telemetry(settings, until, timedelta(hours=1))
        if args.command == "tick":
            return 0
        time.sleep(args.every)


def console() -> int:
    """The ``cadence-simulate`` command: Airflow's hooks log every statement at INFO, too much here."""
    os.environ.setdefault("AIRFLOW__LOGGING__LOGGING_LEVEL", "WARNING")
    return main()


if __name__ == "__main__":
    raise SystemExit(console())

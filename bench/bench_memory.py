"""Memory of the local stack per process (PSS), idle and with pipelines running.

    .venv/bin/python bench/run.py memory
    .venv/bin/python bench/bench_memory.py --parallelism 4 --seconds 120

Starts the `make up` stack (tests/support/stack.py: api-server, scheduler + LocalExecutor workers,
dag-processor, triggerer, simulator) in a temporary home, measures every process's PSS from
/proc/<pid>/smaps_rollup (shared pages split between the processes sharing them, so the sum is the real
footprint), summed per service with all its descendants (task processes count under the scheduler), first
idle, then while a purchases backfill and an mmp backfill run. Prints idle and peak per service and in
total. Goal ≤ 1 GiB with the pipelines running.
"""

from __future__ import annotations

import argparse
import contextlib
import os
import subprocess
import sys
import tempfile
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

import psutil
from cadence import local

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))  # the real-stack harness, shared with tests
from tests.support.stack import AirflowStack, free_port

PORTS = range(8141, 8151)
MIB = 1024 * 1024


def pss(pid: int) -> int:
    """Proportional set size of one process, in bytes (0 when it is gone or unreadable)."""
    try:
        for line in Path(f"/proc/{pid}/smaps_rollup").read_text().splitlines():
            if line.startswith("Pss:"):
                return int(line.split()[1]) * 1024
    except OSError:
        pass
    return 0


def per_process(stack: AirflowStack) -> list[tuple[str, str, int]]:
    """(service, what the process is, PSS) of every process of the stack, descendants under their service."""
    rows = []
    for name, process in stack._processes.items():
        with contextlib.suppress(psutil.Error):
            root = psutil.Process(process.pid)
            for member in [root, *root.children(recursive=True)]:
                rows.append((name, _role(member), pss(member.pid)))
    return rows


def _role(process: psutil.Process) -> str:
    """A short name for a process: its title (Airflow sets ``airflow worker -- LocalExecutor`` and the like)
    or its command line."""
    with contextlib.suppress(psutil.Error):
        return " ".join(process.cmdline())[:70] or process.name()
    return "?"


def sample(stack: AirflowStack, seconds: float, peak: dict[str, int], until=None) -> dict[str, int]:
    """Sample every 2 s; ``peak`` keeps each service's highest PSS, the highest total and (``"at_peak"``)
    the per-process rows of the moment the total was highest."""
    deadline = time.monotonic() + seconds
    last = {}
    while time.monotonic() < deadline:
        rows = per_process(stack)
        last = {}
        for name, _, value in rows:
            last[name] = last.get(name, 0) + value
        for name, value in last.items():
            peak[name] = max(peak.get(name, 0), value)
        if sum(last.values()) > peak.get("total", 0):
            peak["total"], peak["at_peak"] = sum(last.values()), rows
        if until and until():
            break
        time.sleep(2)
    return last


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    default = int(local.MEMORY_SETTINGS["AIRFLOW__CORE__PARALLELISM"])
    parser.add_argument("--parallelism", type=int, default=default, help="LocalExecutor workers")
    parser.add_argument("--seconds", type=float, default=120, help="longest time to sample the busy stack")
    args = parser.parse_args(argv)
    services = (*("api-server", "scheduler", "dag-processor", "triggerer"), "simulator")
    with (
        tempfile.TemporaryDirectory(prefix="cadence-bench-memory-") as root,
        AirflowStack(root, port=free_port(PORTS), services=services, parallelism=args.parallelism) as stack,
    ):
        env = {**os.environ, **stack.environment}
        seed = ["cadence-simulate", "seed", "--days", "0.25"]
        subprocess.run(seed, env=env, check=True, capture_output=True)
        for dag_id in ("purchases", "mmp", "spins", "daily_kpis"):
            stack.wait_for_dag(dag_id)
        idle_peak: dict[str, int] = {}
        idle = sample(stack, 20, idle_peak)
        now = datetime.now(UTC).replace(minute=0, second=0, microsecond=0)
        start = now - timedelta(hours=4)
        conf = {"backfill_start": f"{start:%Y-%m-%dT%H:%M:%SZ}", "backfill_end": f"{now:%Y-%m-%dT%H:%M:%SZ}"}
        runs = {dag_id: stack.trigger(dag_id, conf=conf) for dag_id in ("purchases", "mmp")}

        def finished() -> bool:
            return all(stack.run(d, r)["state"] in ("success", "failed") for d, r in runs.items())

        busy_peak: dict[str, int] = {}
        sample(stack, args.seconds, busy_peak, until=finished)
        states = {d: stack.run(d, r)["state"] for d, r in runs.items()}
    names = [*services, "total"]
    idle["total"] = sum(idle.values())
    print(
        f"Local stack PSS (MiB), parallelism {args.parallelism}; busy = purchases + mmp 4-hour backfills "
        f"(and the spins run purchases triggers): {states}\n"
    )
    print("| process | idle | peak busy |")
    print("|---|---:|---:|")
    for name in names:
        print(f"| {name} | {idle.get(name, 0) / MIB:.0f} | {busy_peak.get(name, 0) / MIB:.0f} |")
    peak = busy_peak["total"] / MIB
    print(f"\nGoal: total ≤ 1024 MiB with the pipelines running (peak busy total {peak:.0f}).")
    print("\nWhere it goes at the busiest moment (each process, PSS in MiB):\n")
    print("| service | process | PSS |")
    print("|---|---|---:|")
    for name, role, value in sorted(busy_peak["at_peak"], key=lambda row: (row[0], -row[2])):
        print(f"| {name} | `{role}` | {value / MIB:.0f} |")
    return 0


if __name__ == "__main__":
    sys.exit(main())

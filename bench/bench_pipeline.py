"""Benchmark of the purchases pipeline: DAG parse time, one window through dag.test(), one window under the
real scheduler, and where the time of a scheduled run goes.

    .venv/bin/python bench/bench_pipeline.py               # everything (≈ 3.5 minutes on 2 cores)
    .venv/bin/python bench/bench_pipeline.py --skip scheduler --parse-repeat 9

parse      every file in dags/ through ``DagBag`` in a fresh process, after one first ``DagBag`` load that
           absorbs the one-time provider discovery; median of ``--parse-repeat``. Goal ≤ 0.3 s. Also the
           cold parse of each file (its first parse in a fresh process after ``import airflow``).
dagtest    one 5-minute purchases window (1 day of seeded history) through ``dag.test()`` in a fresh
           process and temporary Airflow home, like tests/conftest.py: the first run in the process and a
           second, warm run of the same window.
imports    import times of what a task process loads (airflow.sdk, great_expectations, dbt), as installed
           and with a private compiled-bytecode cache (PYTHONPYCACHEPREFIX), to show what .pyc files save.
scheduler  a real stack (cadence.stack: api-server, scheduler with LocalExecutor, dag-processor,
           triggerer) in a temporary home, `spins` paused; ``--runs`` manual runs of one fully seeded
           5-minute window each, one after the other; run start_date → end_date as the API reports it,
           median. Goal ≤ 30 s. Then the phases of the median run's tasks, from the API's task instances
           and the milestones in the task logs.

Only the markdown tables go to stdout; progress goes to stderr. Everything lives in a temporary folder,
removed at the end, and every process started is stopped.
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
from datetime import UTC, datetime, timedelta
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
DAGS = ROOT / "dags"
SIM_NOW = datetime(2026, 3, 10, 12, 0, tzinfo=UTC)  # the seeded history of (b) ends here
PARSE_GOAL_S, SCHEDULER_GOAL_S = 0.3, 30.0
PARTS = ("parse", "dagtest", "imports", "scheduler")


def log(message: str) -> None:
    print(f"[bench_pipeline] {message}", file=sys.stderr, flush=True)


def child_environment(work: Path) -> dict[str, str]:
    """A fresh Airflow home and data folder, configured like tests/conftest.py (defaults for Cadence)."""
    data = work / "data"
    data.mkdir(parents=True, exist_ok=True)
    environment = {k: v for k, v in os.environ.items() if not k.startswith("CADENCE_")}
    environment.update(
        {
            "AIRFLOW_HOME": str(work / "airflow"),
            "AIRFLOW__CORE__DAGS_FOLDER": str(DAGS),
            "AIRFLOW__CORE__LOAD_EXAMPLES": "False",
            "AIRFLOW__COSMOS__ENABLE_TELEMETRY": "False",
            "AIRFLOW__COSMOS__CACHE_DIR": str(work / "cosmos"),
            "DO_NOT_TRACK": "1",
            "SCARF_NO_ANALYTICS": "true",
            "CADENCE_DATA_DIR": str(data),
            "AIRFLOW_CONN_CADENCE_SOURCE": json.dumps(
                {"conn_type": "sqlite", "host": str(data / "source.sqlite")}
            ),
            "AIRFLOW_CONN_CADENCE_WAREHOUSE": json.dumps(
                {"conn_type": "duckdb", "host": str(data / "warehouse.duckdb")}
            ),
        }
    )
    return environment


def bytecode_environment(work: Path) -> dict[str, str]:
    """The child environment with a private, writable bytecode cache (primed by a first run)."""
    environment = child_environment(work)
    environment.pop("PYTHONDONTWRITEBYTECODE", None)
    environment["PYTHONPYCACHEPREFIX"] = str(work / "pycache")
    return environment


def run_child(part: str, work: Path, *extra: str, environment: dict[str, str] | None = None) -> dict:
    """Run one in-process measurement in a fresh interpreter; it prints one JSON line last."""
    result = subprocess.run(
        [sys.executable, __file__, "--child", part, *extra],
        env=environment or child_environment(work),
        cwd=ROOT,
        capture_output=True,
        text=True,
    )
    if result.returncode:
        sys.stderr.write(result.stderr[-5000:])
        raise RuntimeError(f"the {part} measurement failed (exit {result.returncode})")
    return json.loads(result.stdout.strip().splitlines()[-1])


# ---------------------------------------------------------------------------------------- children


def child_parse(repeat: int) -> dict:
    from airflow.dag_processing.dagbag import DagBag

    started = time.perf_counter()
    first = DagBag(dag_folder=str(DAGS))
    first_load = time.perf_counter() - started
    assert not first.import_errors, first.import_errors
    files = {}
    for path in sorted(p for p in DAGS.glob("*.py") if not p.name.startswith("_")):
        times = []
        for _ in range(repeat):
            started = time.perf_counter()
            bag = DagBag(dag_folder=str(path))
            times.append(time.perf_counter() - started)
            assert not bag.import_errors, bag.import_errors
        files[path.name] = times
    return {"first_load": first_load, "files": files}


def child_seed(until: str) -> dict:
    from cadence.simulator import cli

    summary = cli.seed(["purchases"], 1, datetime.fromisoformat(until))
    return {"inserted": summary["purchases"].inserted}


def child_cold_parse(name: str) -> dict:
    """One parse in a process that has imported Airflow but parsed nothing yet (a task process, or a
    dag-processor child: Cosmos opens the manifest through ObjectStoragePath → provider discovery)."""
    from airflow.dag_processing.dagbag import DagBag

    started = time.perf_counter()
    bag = DagBag(dag_folder=str(DAGS / name))
    assert not bag.import_errors, bag.import_errors
    return {"seconds": time.perf_counter() - started}


def child_imports() -> dict:
    """Import times of what a task process loads after it starts (airflow.sdk first, as in a worker)."""
    import importlib

    seconds = {}
    for module in ("airflow.sdk", "great_expectations", "dbt.cli.main"):
        started = time.perf_counter()
        importlib.import_module(module)
        seconds[module] = time.perf_counter() - started
    return seconds


def child_dagtest() -> dict:
    import gc

    from airflow.dag_processing.dagbag import DagBag
    from airflow.models import DagRun
    from airflow.models.pool import Pool
    from airflow.utils import db
    from airflow.utils.session import create_session
    from cadence.config import get_settings
    from cadence.simulator import cli
    from sqlalchemy import delete

    db.initdb()
    with create_session() as session:
        Pool.create_or_update_pool(
            get_settings().duckdb_pool, slots=1, description="", session=session, include_deferred=False
        )
    cli.seed(["purchases"], 1, SIM_NOW)

    seconds, states = [], []
    for _ in range(2):
        with create_session() as session:  # dag.test() would otherwise skip the finished run
            session.execute(delete(DagRun).where(DagRun.dag_id == "purchases"))
        dag = DagBag(dag_folder=str(DAGS / "purchases.py")).get_dag("purchases")
        environment = dict(os.environ)
        started = time.perf_counter()
        dag_run = dag.test(logical_date=SIM_NOW)
        seconds.append(time.perf_counter() - started)
        states.append(getattr(dag_run.state, "value", dag_run.state))
        from dbt.adapters.duckdb.connections import DuckDBConnectionManager

        DuckDBConnectionManager.close_all_connections()  # dbt keeps the DuckDB file open otherwise
        gc.collect()
        os.environ.clear()
        os.environ.update(environment)
    return {"seconds": seconds, "states": states}


# ---------------------------------------------------------------------------------------- scheduler

# Milestones in a task's log: (text in the event, what the time since the previous milestone was spent on).
MILESTONES = [
    ("Worker startup parse complete", "start-up: task process, imports, DAG file parse"),
    ("Trying to run dbtRunner", "Cosmos set-up, dbt import, profile"),
    ("Found ", "dbt parse of the project"),
    ("Finished running", "dbt build (model + tests)"),
    (" extracted, ", "imports (pandas, GE…) + extract, validate, land"),
    ("::group::Post Execute", "rest of execute"),
]


def _moment(value: str) -> datetime:
    return datetime.fromisoformat(value.replace("Z", "+00:00"))


def task_phases(stack, dag_id: str, run: dict) -> list[tuple[str, str, float]]:
    """(task, phase, seconds) of one run: scheduler gaps and the milestones of each task's log."""
    tis = sorted(
        (ti for ti in stack.task_instances(dag_id, run["dag_run_id"]) if ti["start_date"]),
        key=lambda ti: ti["start_date"],
    )
    logs = {}
    for path in stack.task_log_paths(dag_id, run["dag_run_id"]):
        task_id = next(p.split("=", 1)[1] for p in path.parts if p.startswith("task_id="))
        logs[task_id] = path  # the last attempt wins (sorted paths)
    rows = []
    previous_end = _moment(run["start_date"])
    for ti in tis:
        task, start, end = ti["task_id"], _moment(ti["start_date"]), _moment(ti["end_date"])
        if ti["state"] != "success":
            rows.append((task, f"{ti['state']}", end - start))
            continue
        queued = _moment(ti["queued_when"]) if ti.get("queued_when") else start
        rows.append((task, "scheduling: run start / previous task end → queued", queued - previous_end))
        rows.append((task, "executor: queued → running (worker fork, ti_run)", start - queued))
        events = []
        if task in logs:
            for line in logs[task].read_text(errors="replace").splitlines():
                try:
                    event = json.loads(line)
                    events.append((_moment(event["timestamp"]), str(event.get("event", "")), event))
                except (ValueError, KeyError):
                    continue
        cursor, at = 0, start
        refused = any("Unable to do partial parsing" in text for _, text, _ in events)
        for pattern, label in MILESTONES:
            found = next((i for i in range(cursor, len(events)) if pattern in events[i][1]), None)
            if found is None:
                continue
            moment, _, event = events[found]
            if pattern == "Found " and refused:
                label += " (full parse: partial parse refused)"
            parse_ms = event.get("dag_file_parse_ms")
            if pattern == "Worker startup parse complete" and isinstance(parse_ms, int | float):
                parse = timedelta(milliseconds=parse_ms)
                rows.append((task, "start-up: task process, imports", moment - at - parse))
                rows.append((task, "start-up: DAG file parse in the task (Cosmos manifest)", parse))
            else:
                rows.append((task, label, moment - at))
            cursor, at = found + 1, moment
        rows.append((task, "post-execute, XCom, state report" if events else "task (no log found)", end - at))
        previous_end = end
    rows.append(("(run)", "last task end → run end", _moment(run["end_date"]) - previous_end))
    return [(task, phase, delta.total_seconds()) for task, phase, delta in rows]


def measure_scheduler(work: Path, runs: int) -> dict:
    os.environ["AIRFLOW_HOME"] = str(work / "bench-process-airflow")  # this process imports Airflow too
    from cadence.stack import AirflowStack, free_port

    stack = AirflowStack(work / "stack", port=free_port())
    now = datetime.now(UTC)
    last_boundary = now.replace(minute=now.minute - now.minute % 5, second=0, microsecond=0)
    log("seeding one day of source history up to now …")
    environment = {**os.environ, **stack.environment}
    run_child("seed", work, "--until", now.isoformat(), environment=environment)
    started = time.monotonic()
    with stack:
        startup = time.monotonic() - started
        stack.pause("spins")  # a run triggered by purchases queues instead of competing for CPU and DuckDB
        log(f"stack healthy on {stack.url} after {startup:.1f} s; triggering {runs} runs, one at a time …")
        results = []
        for index in range(runs):
            # Distinct, fully seeded 5-minute windows (logical dates are unique per DAG).
            logical_date = last_boundary - timedelta(minutes=5 * index)
            run_id = stack.trigger("purchases", logical_date=logical_date)
            state = stack.wait("purchases", run_id, timeout=300)
            run = stack.run("purchases", run_id)
            if state != "success":
                raise RuntimeError(f"run {run_id} ended {state}")
            seconds = (_moment(run["end_date"]) - _moment(run["start_date"])).total_seconds()
            log(f"run {index + 1}: {seconds:.1f} s (start → end)")
            results.append((seconds, run))
        median_seconds, median_run = sorted(results, key=lambda r: r[0])[len(results) // 2]
        phases = task_phases(stack, "purchases", median_run)
        latency = (_moment(median_run["start_date"]) - _moment(median_run["queued_at"])).total_seconds()
    return {
        "startup": startup,
        "seconds": [r[0] for r in results],
        "median": median_seconds,
        "trigger_latency": latency,
        "phases": phases,
        "run_id": median_run["dag_run_id"],
    }


# ---------------------------------------------------------------------------------------- report


def status(measured: float, goal: float) -> str:
    return "✅ met" if measured <= goal else "❌ missed"


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--parse-repeat", type=int, default=5, help="DagBag loads per DAG file (median)")
    parser.add_argument("--runs", type=int, default=3, help="scheduled runs to trigger (median)")
    parser.add_argument("--skip", nargs="*", choices=PARTS, default=[], help="parts to leave out")
    parser.add_argument(
        "--child", choices=["parse", "cold_parse", "seed", "imports", "dagtest"], help=argparse.SUPPRESS
    )
    parser.add_argument("--until", help=argparse.SUPPRESS)
    parser.add_argument("--file", help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.child:
        result = {
            "parse": lambda: child_parse(args.parse_repeat),
            "cold_parse": lambda: child_cold_parse(args.file),
            "seed": lambda: child_seed(args.until),
            "imports": child_imports,
            "dagtest": child_dagtest,
        }[args.child]()
        print(json.dumps(result))
        return 0

    work = Path(tempfile.mkdtemp(prefix="cadence-bench-pipeline-"))
    load_at_start = os.getloadavg()[0]
    rows = ["| measure | goal | measured | status |", "| --- | ---: | ---: | --- |"]
    phase_rows: list[str] = []
    try:
        if "parse" not in args.skip:
            log("parsing the DAG files …")
            parsed = run_child("parse", work / "parse", "--parse-repeat", str(args.parse_repeat))
            rows.append(
                f"| first `DagBag` load of dags/ in a process (provider discovery, imports) | - "
                f"| {parsed['first_load']:.2f} s | info |"
            )
            for name, times in parsed["files"].items():
                median = statistics.median(times)
                rows.append(
                    f"| parse `dags/{name}` (`DagBag`, warm, median of {len(times)}) | ≤ {PARSE_GOAL_S} s "
                    f"| {median:.3f} s (min {min(times):.3f}) | {status(median, PARSE_GOAL_S)} |"
                )
            for name in parsed["files"]:
                cold = run_child("cold_parse", work / "parse", "--file", name)["seconds"]
                rows.append(
                    f"| parse `dags/{name}` cold: first parse in a fresh process after `import airflow` "
                    f"(imports, provider discovery, manifest) | - | {cold:.2f} s | info |"
                )
        if "dagtest" not in args.skip:
            log("one purchases window through dag.test() …")
            tested = run_child("dagtest", work / "dagtest")
            if set(tested["states"]) != {"success"}:
                raise RuntimeError(f"dag.test() runs ended {tested['states']}")
            first, warm = tested["seconds"]
            rows.append(
                f"| `dag.test()` one purchases window, first run in process | - | {first:.1f} s | info |"
            )
            rows.append(f"| `dag.test()` same window, second (warm) run | - | {warm:.1f} s | info |")
        if "imports" not in args.skip:
            log("import times, as installed and with a bytecode cache …")
            as_installed = run_child("imports", work / "imports")
            with_cache = bytecode_environment(work / "imports")
            run_child("imports", work / "imports", environment=with_cache)  # compiles into the cache
            cached = run_child("imports", work / "imports", environment=with_cache)
            no_pyc = os.environ.get("PYTHONDONTWRITEBYTECODE") and not any(
                (Path(sys.prefix) / "lib").glob("python3*/site-packages/airflow/__pycache__/*.pyc")
            )
            note = " (no .pyc in .venv, PYTHONDONTWRITEBYTECODE set)" if no_pyc else ""
            for label, timings in [(f"as installed{note}", as_installed), ("with compiled bytecode", cached)]:
                each = " / ".join(f"{timings[m]:.1f}" for m in timings)
                rows.append(
                    f"| imports in a fresh process {' / '.join(f'`{m}`' for m in timings)}, {label} | - "
                    f"| {each} s | info |"
                )
        if "scheduler" not in args.skip:
            log("starting a real Airflow stack …")
            scheduled = measure_scheduler(work, args.runs)
            each = ", ".join(f"{s:.1f}" for s in scheduled["seconds"])
            rows.append(
                f"| scheduler (LocalExecutor): one purchases window, run start → end, median of "
                f"{len(scheduled['seconds'])} ({each} s) | ≤ {SCHEDULER_GOAL_S:.0f} s "
                f"| {scheduled['median']:.1f} s | {status(scheduled['median'], SCHEDULER_GOAL_S)} |"
            )
            rows.append(
                f"| scheduler: trigger (queued) → run start, median run | - "
                f"| {scheduled['trigger_latency']:.1f} s | info |"
            )
            rows.append(
                f"| stack start → healthy (prepare + 4 services) | - | {scheduled['startup']:.1f} s | info |"
            )
            phase_rows = [
                f"Where the time of the median scheduled run goes (`{scheduled['run_id']}`):",
                "",
                "| task | phase | seconds |",
                "| --- | --- | ---: |",
                *(f"| {task} | {phase} | {seconds:.2f} |" for task, phase, seconds in scheduled["phases"]),
            ]
    finally:
        shutil.rmtree(work, ignore_errors=True)
    print("\n".join(rows))
    print(
        f"\n_{os.cpu_count()} cores; 1-minute load average {load_at_start:.1f} at the start, "
        f"{os.getloadavg()[0]:.1f} at the end (everything else on the machine included)._"
    )
    if phase_rows:
        print()
        print("\n".join(phase_rows))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())

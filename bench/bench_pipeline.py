"""Benchmark of the pipeline: DAG parse time, one window through dag.test(), one 5-minute purchases window
and one hourly spins window under the real scheduler, where the time of a scheduled run goes, and how flat
the cost of an incremental window stays as history grows.

    .venv/bin/python bench/bench_pipeline.py               # everything (≈ 10 minutes on 2 cores)
    .venv/bin/python bench/bench_pipeline.py --skip scheduler flatness --parse-repeat 9

parse      every file in dags/ through ``DagBag`` in a fresh process, after one first ``DagBag`` load that
           absorbs the one-time provider discovery; median of ``--parse-repeat``. Goal ≤ 0.3 s. Also the
           cold parse of each file (its first parse in a fresh process after ``import airflow``).
dagtest    one 5-minute purchases window (1 day of seeded history) through ``dag.test()`` in a fresh
           process and temporary Airflow home, like tests/conftest.py: the first run in the process and a
           second, warm run of the same window.
imports    import times of what a task process loads (airflow.sdk, great_expectations, dbt), as installed
           and with a private compiled-bytecode cache (PYTHONPYCACHEPREFIX), to show what .pyc files save.
scheduler  a real stack (tests/support/stack.py: api-server, scheduler with LocalExecutor, dag-processor,
           triggerer) in a temporary home, one day of both streams seeded up to now. First `spins` paused
           and ``--runs`` manual purchases runs of one fully seeded 5-minute window each, one after the
           other; run start_date → end_date as the API reports it, median. Goal ≤ 30 s. Then purchases
           land the last four hours (one Params backfill), the spins runs purchases queued meanwhile are
           dropped, `spins` is unpaused and ``--runs`` manual spins runs of one hourly window each (the
           last whole hours, oldest first) run one after the other: extract → bronze → silver → purchases
           freshness (fresh: no catch-up) → gold → run log. Median start → end; goal ≤ 45 s. Then the
           phases of the median purchases run's tasks (from the task logs) and the per-task times of the
           median spins run.
flatness   incremental cost against history: in two fresh processes and data folders, 30 days and 1 day
           of both streams are seeded, landed straight through ``cadence.ingest`` (the real extract →
           validate → bronze code, in 6-hour windows) and modelled by one full ``dbt build`` of silver and
           gold; then the next 5-minute purchases window and the next hourly spins window run on top
           through ``dag.test()`` (manual runs at the end of the history: their data intervals, plus
           lookback), ``--flat-repeat`` times each after one uncounted warm-up pair (reruns are
           idempotent: the same work each time). Ratio = (median purchases + median spins) on 30 days /
           the same on 1 day. Goal ≤ 1.25. ``dag.test()`` runs every task in-process, so the ratio leaves
           out the per-task process start-up of the scheduler, which does not depend on history either.

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
sys.path.insert(0, str(ROOT))  # the real-stack harness, tests/support/stack.py, is shared with the tests
SIM_NOW = datetime(2026, 3, 10, 12, 0, tzinfo=UTC)  # the seeded history of (b) ends here
# Goals: DAG parse; a purchases window under the scheduler (#12: <= 8 s at 1x); a spins window; flatness.
PARSE_GOAL_S, SCHEDULER_GOAL_S, SPINS_GOAL_S, FLATNESS_GOAL = 0.3, 8.0, 45.0, 1.25
PARTS = ("parse", "dagtest", "imports", "scheduler", "flatness")
FLAT_DAYS = (30, 1)  # history under the measured windows: long, short
HISTORY_CHUNK = timedelta(hours=6)  # bronze windows the history is landed in


def log(message: str) -> None:
    print(f"[bench_pipeline] {message}", file=sys.stderr, flush=True)


def child_environment(work: Path) -> dict[str, str]:
    """A fresh Airflow home and data folder, configured like tests/conftest.py (defaults for Cadence)."""
    data = work / "data"
    data.mkdir(parents=True, exist_ok=True)
    from tests.support.environment import airflow_environment, data_environment

    environment = {k: v for k, v in os.environ.items() if not k.startswith("CADENCE_")}
    environment.update({**airflow_environment(work), **data_environment(data)})
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

    summary = cli.seed(["purchases", "spins_hourly"], 1, datetime.fromisoformat(until))
    return {stream: s.inserted for stream, s in summary.items()}


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


def _prepare_airflow_db() -> None:
    from airflow.utils import db
    from airflow.utils.session import create_session
    from cadence.config import get_settings
    from cadence.warehouse import ensure_pool

    db.initdb()
    with create_session() as session:
        ensure_pool(get_settings(), session)


def _dag_test(dag_id: str, logical_date: datetime, conf: dict | None = None) -> tuple[float, str]:
    """One ``dag.test()`` run of a freshly parsed DAG; (seconds, final state). Leaves no run behind."""
    from airflow.dag_processing.dagbag import DagBag
    from airflow.models import DagRun
    from airflow.utils.session import create_session
    from sqlalchemy import delete

    with create_session() as session:  # dag.test() would otherwise skip the finished run
        session.execute(delete(DagRun))
    dag = DagBag(dag_folder=str(DAGS / f"{dag_id}.py")).get_dag(dag_id)
    environment = dict(os.environ)
    started = time.perf_counter()
    try:
        dag_run = dag.test(logical_date=logical_date, run_conf=conf)
        return time.perf_counter() - started, str(getattr(dag_run.state, "value", dag_run.state))
    finally:
        from cadence.dbt_group import release_dbt_duckdb

        release_dbt_duckdb()
        os.environ.clear()  # Cosmos exports the dbt environment into the process
        os.environ.update(environment)


def child_dagtest() -> dict:
    from cadence.simulator import cli

    _prepare_airflow_db()
    cli.seed(["purchases"], 1, SIM_NOW)
    seconds, states = [], []
    for _ in range(2):
        elapsed, state = _dag_test("purchases", SIM_NOW)
        seconds.append(elapsed)
        states.append(state)
    return {"seconds": seconds, "states": states}


def _dbt_build_history(settings) -> None:
    """One full ``dbt build`` of silver and gold over every bronze batch (no window vars)."""
    from cadence.dbt_group import dbt_env, release_dbt_duckdb
    from dbt.cli.main import dbtRunner

    project = str(settings.dbt_project_dir)
    environment = dict(os.environ)
    os.environ.update({**dbt_env(settings), "DBT_DUCKDB_PATH": str(settings.duckdb_path)})
    try:
        result = dbtRunner().invoke(
            ["build", "--project-dir", project, "--profiles-dir", project, "--quiet", "--full-refresh",
             "--target-path", str(settings.data_dir / "dbt-target"), "--log-path", str(settings.data_dir),
             "--select", "tag:purchases", "tag:spins", "tag:gold"]
        )  # fmt: skip
    finally:
        release_dbt_duckdb()
        os.environ.clear()
        os.environ.update(environment)
    if not result.success:
        raise RuntimeError(f"dbt build of the history failed: {result.exception or result.result}")


def child_flatness(days: float, repeat: int) -> dict:
    """``days`` of history landed and modelled, then one purchases and one spins window on top of it."""
    import duckdb
    from cadence import ingest, sources
    from cadence.config import get_settings
    from cadence.lake import Window
    from cadence.simulator import cli

    _prepare_airflow_db()
    settings = get_settings()
    started = time.perf_counter()
    seeded = cli.seed(["purchases", "spins_hourly"], days, SIM_NOW)
    seed_s = time.perf_counter() - started
    # The measured windows: purchases [SIM_NOW - 5 min, SIM_NOW) and spins [SIM_NOW - 1 h, SIM_NOW) (the
    # data intervals of manual runs at SIM_NOW); the history ends where each begins.
    ends = {"purchases": SIM_NOW - timedelta(minutes=5), "spins_hourly": SIM_NOW - timedelta(hours=1)}
    started = time.perf_counter()
    for name, end in ends.items():
        begin = seeded[name].applied_from
        ingest.ingest(
            settings,
            sources.get_spec(name, settings),
            Window(begin, end),
            lookback=timedelta(0),
            chunk=HISTORY_CHUNK,
        )
    land_s = time.perf_counter() - started
    started = time.perf_counter()
    _dbt_build_history(settings)
    model_s = time.perf_counter() - started
    with duckdb.connect(str(settings.duckdb_path), read_only=True) as connection:
        rows = {
            table: connection.execute(f"select count(*) from {table}").fetchall()[0][0]
            for table in ("silver.purchases", "silver.spins_hourly", "gold.aggregated_final_table")
        }
    bronze_files = sum(1 for _ in (settings.data_dir / "lake" / "bronze").rglob("*.parquet"))
    seconds: dict[str, list[float]] = {"purchases": [], "spins": []}
    warm_up: dict[str, float] = {}
    for repetition in range(repeat + 1):  # the first pair warms up dag.test() in this process: not counted
        for dag_id in seconds:  # purchases first: spins then finds purchases fresh (no catch-up)
            elapsed, state = _dag_test(dag_id, SIM_NOW)
            if state != "success":
                raise RuntimeError(f"{dag_id} on {days} days of history ended {state}")
            if repetition:
                seconds[dag_id].append(elapsed)
            else:
                warm_up[dag_id] = elapsed
    return {
        "days": days,
        "seed_s": seed_s,
        "land_s": land_s,
        "model_s": model_s,
        "rows": rows,
        "bronze_files": bronze_files,
        "warm_up": warm_up,
        "seconds": seconds,
    }


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


def task_times(stack, dag_id: str, run: dict) -> list[tuple[str, str, float, float]]:
    """(task, state, start offset from the run start, duration) of one run's tasks, in start order."""
    run_start = _moment(run["start_date"])
    rows = []
    for ti in stack.task_instances(dag_id, run["dag_run_id"]):
        if ti["start_date"] and ti["end_date"]:
            start, end = _moment(ti["start_date"]), _moment(ti["end_date"])
            rows.append(
                (
                    ti["task_id"],
                    str(ti["state"]),
                    (start - run_start).total_seconds(),
                    (end - start).total_seconds(),
                )
            )
        else:
            rows.append((ti["task_id"], str(ti["state"]), float("inf"), 0.0))
    return sorted(rows, key=lambda row: row[2])


def _timed_runs(stack, dag_id: str, logical_dates: list[datetime]) -> list[tuple[float, dict]]:
    """Trigger one manual run per logical date, one after the other; (start → end seconds, run) each."""
    results = []
    for index, logical_date in enumerate(logical_dates):
        run_id = stack.trigger(dag_id, logical_date=logical_date)
        state = stack.wait(dag_id, run_id, timeout=600)
        run = stack.run(dag_id, run_id)
        if state != "success":
            raise RuntimeError(f"{dag_id} run {run_id} ended {state}")
        seconds = (_moment(run["end_date"]) - _moment(run["start_date"])).total_seconds()
        log(f"{dag_id} run {index + 1}: {seconds:.1f} s (start → end)")
        results.append((seconds, run))
    return results


def measure_scheduler(work: Path, runs: int) -> dict:
    os.environ["AIRFLOW_HOME"] = str(work / "bench-process-airflow")  # this process imports Airflow too
    from tests.support.stack import AirflowStack, free_port

    stack = AirflowStack(work / "stack", port=free_port())
    now = datetime.now(UTC)
    last_boundary = now.replace(minute=now.minute - now.minute % 5, second=0, microsecond=0)
    last_hour = now.replace(minute=0, second=0, microsecond=0)
    log("seeding one day of source history (purchases, spins) up to now …")
    environment = {**os.environ, **stack.environment}
    run_child("seed", work, "--until", now.isoformat(), environment=environment)
    started = time.monotonic()
    with stack:
        startup = time.monotonic() - started
        stack.pause("spins")  # a run triggered by purchases queues instead of competing for CPU and DuckDB
        log(f"stack healthy on {stack.url} after {startup:.1f} s; one warm-up and {runs} purchases runs …")
        # Distinct, fully seeded 5-minute windows (logical dates are unique per DAG), newest first. The
        # warm-up run is reported on its own: the LocalExecutor forks its workers (from the forkserver
        # that preloaded the task libraries) on demand, once per scheduler lifetime, during the first runs.
        windows = [last_boundary - timedelta(minutes=5 * i) for i in range(runs + 1)]
        (first_seconds, _), *results = _timed_runs(stack, "purchases", windows)
        median_seconds, median_run = sorted(results, key=lambda r: r[0])[len(results) // 2]
        phases = task_phases(stack, "purchases", median_run)
        latency = (_moment(median_run["start_date"]) - _moment(median_run["queued_at"])).total_seconds()

        # Spins: purchases must be fresh for its windows, else it would wait for a catch-up first.
        hours = [
            last_hour - timedelta(hours=runs - 1 - i) for i in range(runs)
        ]  # logical dates, oldest first
        conf = {
            "backfill_start": (hours[0] - timedelta(hours=1)).isoformat(),
            "backfill_end": last_boundary.isoformat(),
        }
        log(f"landing purchases {conf['backfill_start']} → {conf['backfill_end']} (Params backfill) …")
        landing = stack.trigger("purchases", conf=conf)
        if stack.wait("purchases", landing, timeout=600) != "success":
            raise RuntimeError(f"purchases backfill {landing} failed")
        for run in stack.runs("spins"):  # queued behind the pause: catch-ups and the carried backfill
            if run["state"] == "queued":
                stack.delete_run("spins", run["dag_run_id"])
        stack.unpause("spins")
        log(f"triggering {runs} spins runs, one hourly window each …")
        spins = _timed_runs(stack, "spins", hours)
        spins_seconds, spins_run = sorted(spins, key=lambda r: r[0])[len(spins) // 2]
        spins_tasks = task_times(stack, "spins", spins_run)
        catch_ups = [r for r in stack.runs("purchases") if (r["conf"] or {}).get("triggered_by") == "spins"]
        if catch_ups:
            raise RuntimeError(f"a spins run waited for a purchases catch-up: {catch_ups}")
    return {
        "startup": startup,
        "first_run": first_seconds,
        "seconds": [r[0] for r in results],
        "median": median_seconds,
        "trigger_latency": latency,
        "phases": phases,
        "run_id": median_run["dag_run_id"],
        "spins_seconds": [r[0] for r in spins],
        "spins_median": spins_seconds,
        "spins_run_id": spins_run["dag_run_id"],
        "spins_interval": (spins_run["data_interval_start"], spins_run["data_interval_end"]),
        "spins_tasks": spins_tasks,
    }


def measure_flatness(work: Path, repeat: int) -> dict[float, dict]:
    results = {}
    for days in FLAT_DAYS:
        log(f"flatness: {days} days of history: seed, land, model, then the windows {repeat} times …")
        results[days] = run_child(
            "flatness", work / f"flat-{days}", "--days", str(days), "--flat-repeat", str(repeat)
        )
        timing = results[days]
        log(
            f"flatness {days} d: seed {timing['seed_s']:.0f} s, land {timing['land_s']:.0f} s, "
            f"model {timing['model_s']:.0f} s; purchases {timing['seconds']['purchases']}, "
            f"spins {timing['seconds']['spins']}"
        )
    return results


# ---------------------------------------------------------------------------------------- report


def _days(days: float) -> str:
    return f"{days:g} day" + ("" if days == 1 else "s")


def status(measured: float, goal: float) -> str:
    return "✅ met" if measured <= goal else "❌ missed"


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--parse-repeat", type=int, default=5, help="DagBag loads per DAG file (median)")
    parser.add_argument("--runs", type=int, default=3, help="scheduler runs of each DAG to trigger (median)")
    parser.add_argument(
        "--flat-repeat", type=int, default=3, help="dag.test() runs of each window per history (median)"
    )
    parser.add_argument("--skip", nargs="*", choices=PARTS, default=[], help="parts to leave out")
    parser.add_argument(
        "--child",
        choices=["parse", "cold_parse", "seed", "imports", "dagtest", "flatness"],
        help=argparse.SUPPRESS,
    )
    parser.add_argument("--days", type=float, help=argparse.SUPPRESS)
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
            "flatness": lambda: child_flatness(args.days, args.flat_repeat),
        }[args.child]()
        print(json.dumps(result))
        return 0

    work = Path(tempfile.mkdtemp(prefix="cadence-bench-pipeline-"))
    load_at_start = os.getloadavg()[0]
    rows = ["| measure | goal | measured | status |", "| --- | ---: | ---: | --- |"]
    phase_rows: list[str] = []
    spins_rows: list[str] = []
    flat_rows: list[str] = []
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
            rows.append(
                f"| scheduler: the first purchases run after the start (not counted above: the executor "
                f"forks its workers) | - | {scheduled['first_run']:.1f} s | info |"
            )
            each = ", ".join(f"{s:.1f}" for s in scheduled["spins_seconds"])
            rows.append(
                f"| scheduler (LocalExecutor): one hourly spins window (extract → silver → gold → run log), "
                f"run start → end, median of {len(scheduled['spins_seconds'])} ({each} s) "
                f"| ≤ {SPINS_GOAL_S:.0f} s | {scheduled['spins_median']:.1f} s "
                f"| {status(scheduled['spins_median'], SPINS_GOAL_S)} |"
            )
            start, end = scheduled["spins_interval"]
            spins_rows = [
                f"Tasks of the median spins run (`{scheduled['spins_run_id']}`, window {start} → {end}), "
                "in start order; seconds:",
                "",
                "| task | state | starts at (from run start) | duration |",
                "| --- | --- | ---: | ---: |",
                *(
                    f"| {task} | {state} | {offset:.1f} | {duration:.1f} |"
                    if offset != float("inf")
                    else f"| {task} | {state} | - | - |"
                    for task, state, offset, duration in scheduled["spins_tasks"]
                ),
                f"| sum of the task durations (the rest of the run is scheduling) | | "
                f"| {sum(row[3] for row in scheduled['spins_tasks']):.1f} |",
            ]
            phase_rows = [
                f"Where the time of the median scheduled purchases run goes (`{scheduled['run_id']}`):",
                "",
                "| task | phase | seconds |",
                "| --- | --- | ---: |",
                *(f"| {task} | {phase} | {seconds:.2f} |" for task, phase, seconds in scheduled["phases"]),
            ]
        if "flatness" not in args.skip:
            flat = measure_flatness(work, args.flat_repeat)
            long_days, short_days = FLAT_DAYS
            totals = {}
            for days in FLAT_DAYS:
                timing = flat[days]
                purchases = statistics.median(timing["seconds"]["purchases"])
                spins = statistics.median(timing["seconds"]["spins"])
                totals[days] = purchases + spins
                rows.append(
                    f"| `dag.test()` one 5-minute purchases + one hourly spins window on {_days(days)} of "
                    f"history (median of {args.flat_repeat}: {purchases:.1f} + {spins:.1f} s) | - "
                    f"| {totals[days]:.1f} s | info |"
                )
            ratio = totals[long_days] / totals[short_days]
            rows.append(
                f"| incremental flatness: the same two windows on {_days(long_days)} / on "
                f"{_days(short_days)} of history | ≤ {FLATNESS_GOAL} | {ratio:.2f} "
                f"| {status(ratio, FLATNESS_GOAL)} |"
            )
            cells = {
                days: f"{flat[days]['seed_s']:.0f} / {flat[days]['land_s']:.0f} / {flat[days]['model_s']:.0f}"
                for days in FLAT_DAYS
            }
            flat_rows = [
                "History under the flatness windows (seeded, landed through `cadence.ingest` in "
                f"{HISTORY_CHUNK.total_seconds() / 3600:g}-hour windows, one full `dbt build`):",
                "",
                "| history | silver purchases | silver spins | gold hourly rows | bronze files "
                "| seed / land / model s | purchases runs s | spins runs s |",
                "| --- | ---: | ---: | ---: | ---: | --- | --- | --- |",
                *(
                    f"| {_days(days)} | {flat[days]['rows']['silver.purchases']} "
                    f"| {flat[days]['rows']['silver.spins_hourly']} "
                    f"| {flat[days]['rows']['gold.aggregated_final_table']} | {flat[days]['bronze_files']} "
                    f"| {cells[days]} "
                    f"| {', '.join(f'{x:.1f}' for x in flat[days]['seconds']['purchases'])} "
                    f"| {', '.join(f'{x:.1f}' for x in flat[days]['seconds']['spins'])} |"
                    for days in FLAT_DAYS
                ),
            ]
    finally:
        shutil.rmtree(work, ignore_errors=True)
    print("\n".join(rows))
    print(
        f"\n_{os.cpu_count()} cores; 1-minute load average {load_at_start:.1f} at the start, "
        f"{os.getloadavg()[0]:.1f} at the end (everything else on the machine included)._"
    )
    for extra in (spins_rows, phase_rows, flat_rows):
        if extra:
            print()
            print("\n".join(extra))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())

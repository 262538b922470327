"""The docker-compose topology, started natively: CeleryExecutor with one worker, Redis broker, Postgres
metadata DB and result backend, api-server, scheduler, dag-processor, triggerer, and a Postgres source
database seeded by the simulator (tests/support/celery_stack.py).

One stack serves the module (start-up is the expensive part). The scenarios, in order:

* ``topology_runs``: a purchases backfill through the trigger conf plus the scheduled purchases and spins
  runs, all green (the spins run the backfill carries over is checked, then dropped to save minutes);
  then every run is replayed with ``dag.test()`` on the embedded default (a SQLite copy of the same
  source rows, DuckDB) and silver, gold and the lake must be identical.
* the worker is SIGKILLed in the middle of a land task and then of a dbt task of one run, and restarted
  each time; the tasks run again and the lake and silver end identical to an uninterrupted run of the
  same window, with no half-written file.
* the broker (a private redis-server) is killed mid-run and restarted; scheduler and worker recover and
  the run ends green with the same result.

Wall time on this 2-core machine shared with five other sessions (load average ~20): see the report of
issue 10; on a quiet machine a dbt task under Celery takes 5-7 s, here up to 25 s.
"""

from __future__ import annotations

import json
import os
import sqlite3
from datetime import UTC, datetime, timedelta
from decimal import Decimal

import pandas as pd
import pyarrow.parquet as pq
import pytest

from tests.support.celery_stack import CeleryStack, RedisServer, running_task, utc_hour
from tests.support.source_dbs import read_frame

# the module shares one Celery stack; its setup plus a scenario can pass the default 600 s on 2 busy cores
pytestmark = [pytest.mark.stack, pytest.mark.scheduler(lane=1), pytest.mark.timeout(1800)]

RUN_TIMEOUT = 600  # seconds for the runs of one scenario on a busy 2-core machine (a dbt task: 5-25 s)
STACK_ENV = {
    # A killed worker's task is noticed after 20 s (default 5 min) and retried after 2 s.
    "AIRFLOW__SCHEDULER__TASK_INSTANCE_HEARTBEAT_TIMEOUT": "20",
    "AIRFLOW__SCHEDULER__TASK_INSTANCE_HEARTBEAT_TIMEOUT_DETECTION_INTERVAL": "5",
    # A task whose broker message died with Redis is re-queued after 30 s (default 10 min).
    "AIRFLOW__SCHEDULER__TASK_QUEUED_TIMEOUT": "30",
    "AIRFLOW__SCHEDULER__TASK_QUEUED_TIMEOUT_CHECK_INTERVAL": "10",
    "CADENCE_PURCHASES__RETRIES": "2",
    "CADENCE_PURCHASES__RETRY_DELAY": "PT2S",
    "CADENCE_SPINS__RETRIES": "2",
    "CADENCE_SPINS__RETRY_DELAY": "PT2S",
    # Every 15 minutes of the seed holds purchases, even at night (the default peak of 60 an hour leaves a
    # quiet hour's windows empty, and spins would find purchases stale and wait for a catch-up).
    "CADENCE_SIMULATOR__PURCHASES_PER_HOUR": "300",
}
TABLES = (
    "silver.purchases",
    "silver.spins_hourly",
    "gold.aggregated_final_table",
    "gold.aggregated_daily_table",
)


# ------------------------------------------------------------------------------------------ harness


@pytest.fixture(scope="module")
def stack(tmp_path_factory):
    from tests.support.celery_stack import H10_PORTS
    from tests.support.stack import free_port

    root = tmp_path_factory.mktemp("celery-stack")
    redis_port = free_port(range(H10_PORTS.stop - 1, H10_PORTS.start - 1, -1))
    with RedisServer(redis_port, root / "redis") as redis:
        stack = CeleryStack(root, port=free_port(H10_PORTS), redis=redis, scheduled_runs=True,
                            paused_at_creation=True, env=STACK_ENV)  # fmt: skip
        with stack:
            stack.seed_source(until=datetime.now(UTC), hours=4)
            for dag_id in ("purchases", "spins"):
                stack.wait_for_dag(dag_id)
            yield stack
        leftovers = stack.meta_db, stack.source.schema
    assert not _databases_named(leftovers), "the stack's databases were not dropped"


def _databases_named(names) -> list[str]:
    import subprocess

    query = ["psql", "-h", "127.0.0.1", "-U", "postgres", "-Atc", "select datname from pg_database"]
    out = subprocess.run(query, capture_output=True, text=True, check=True).stdout.split()
    return [name for name in names if name in out]


def all_runs(stack, dag_id: str) -> list[dict]:
    return stack.runs(dag_id)


def wait_all_green(stack, dag_id: str, at_least: int) -> list[dict]:
    """Wait until ``dag_id`` has at least ``at_least`` runs and none is queued/running; all must succeed."""

    def settled():
        runs = stack.runs(dag_id)
        done = len(runs) >= at_least and all(r["state"] in ("success", "failed") for r in runs)
        return runs if done else None

    runs = stack.wait_until(settled, RUN_TIMEOUT, poll=2, what=f"{at_least}+ {dag_id} runs finished")
    for run in runs:
        if run["state"] != "success":
            stack.report(dag_id, run["dag_run_id"])
        assert run["state"] == "success", (run["dag_run_id"], stack.task_states(dag_id, run["dag_run_id"]))
    return runs


def snapshot(data_dir, tables=TABLES) -> dict:
    """The lake's data files (as Arrow tables), the warehouse tables (sorted frames), and any temporary
    file a write left behind."""
    import duckdb

    lake = data_dir / "lake"
    half_written = [p.name for p in lake.rglob("*") if p.name.startswith(".") or p.suffix == ".tmp"]
    files = {str(p.relative_to(lake)): pq.read_table(p) for p in sorted(lake.rglob("*.parquet"))
             if not p.name.startswith(".")}  # fmt: skip
    with duckdb.connect(str(data_dir / "warehouse.duckdb"), read_only=True) as connection:
        tables = {t: connection.sql(f"select * from {t} order by all").df() for t in tables}
    return {"files": files, "tables": tables, "half_written": half_written}


def assert_same(actual: dict, expected: dict) -> None:
    assert actual["half_written"] == [], actual["half_written"]
    assert sorted(actual["files"]) == sorted(expected["files"])
    for path, table in expected["files"].items():
        assert actual["files"][path].equals(table), path
    for name, frame in expected["tables"].items():
        assert len(frame) > 0, name
        pd.testing.assert_frame_equal(actual["tables"][name], frame, check_exact=True, obj=name)


# ------------------------------------------------------------------------------ the topology at work


def test_the_worker_answers_the_compose_healthcheck(stack):
    answer = stack.ping_worker()
    assert answer.returncode == 0 and "pong" in answer.stdout, answer.stderr
    assert stack.redis.keys() > 0, "the broker DB holds the Celery bindings"
    executor = stack.environment["AIRFLOW__CORE__EXECUTOR"]
    assert executor == "CeleryExecutor" and stack.environment[
        "AIRFLOW__DATABASE__SQL_ALCHEMY_CONN"
    ].startswith("postgresql")


@pytest.fixture(scope="module")
def confs(stack) -> dict[str, dict]:
    """The scenarios' trigger confs, from the hour the source was seeded in (not the hour the module was
    collected in: started in a later hour, the scheduled spins run would cover an hour nothing landed)."""
    hour = utc_hour(stack.seeded_until)

    def hours_back(start: int, end: int) -> dict:
        return {"backfill_start": (hour - timedelta(hours=start)).isoformat(),
                "backfill_end": (hour - timedelta(hours=end)).isoformat()}  # fmt: skip

    return {"backfill": hours_back(2, 0), "fault": hours_back(3, 2)}


@pytest.fixture(scope="module")
def topology_runs(stack, confs):
    """A purchases backfill through the trigger conf, then the schedule of both DAGs, all under Celery.

    The spins run the backfill carries over is recorded, then dropped while `spins` is paused: the
    scheduled spins run is the one that runs (a second spins run costs minutes on 2 cores)."""
    backfill_id = stack.trigger("purchases", conf=confs["backfill"])
    stack.unpause("purchases")  # the scheduler now also creates the latest scheduled purchases run
    purchases = wait_all_green(stack, "purchases", at_least=2)
    stack.pause("purchases")
    carried = [r for r in stack.runs("spins") if r["state"] == "queued"]
    for run in carried:
        stack.delete_run("spins", run["dag_run_id"])
    stack.unpause("spins")  # creates the latest scheduled spins run
    spins = wait_all_green(stack, "spins", at_least=1)
    stack.pause("spins")
    return {
        "backfill_id": backfill_id,
        "carried": carried,
        "runs": purchases + spins,
        "snapshot": snapshot(stack.data_dir),
    }


def test_backfill_and_scheduled_runs_are_green(topology_runs, confs):
    runs = topology_runs["runs"]
    kinds = {(r["dag_id"], r["run_type"]) for r in runs}
    assert kinds == {("purchases", "scheduled"), ("purchases", "manual"), ("spins", "scheduled")}, kinds
    backfill = next(r for r in runs if r["dag_run_id"] == topology_runs["backfill_id"])
    start = confs["backfill"]["backfill_start"]
    assert backfill["conf"]["backfill_start"] == start
    carried = topology_runs["carried"]
    assert any(r["conf"].get("backfill_start") == start for r in carried), carried


def replay_on_embedded_default(stack, runs: list[dict], root) -> dict:
    """Every run of the stack, in the order it started, through dag.test() on SQLite + DuckDB."""
    from airflow.dag_processing.dagbag import DagBag
    from cadence.dbt_group import release_dbt_duckdb
    from cadence.simulator.source import schema_statements

    from tests.support.dags import forget_runs
    from tests.support.environment import DAGS

    data = root / "data"
    data.mkdir(parents=True)
    with sqlite3.connect(data / "source.sqlite") as copy:
        for statement in schema_statements("sqlite"):
            copy.execute(statement)
        for table in ("purchases", "spins_hourly"):
            frame = read_frame(stack.source, f"select * from {table}")
            frame = frame.astype(object).where(frame.notna(), None)
            marks = ", ".join("?" * len(frame.columns))
            rows = [tuple(float(v) if isinstance(v, Decimal) else v for v in row)
                    for row in frame.itertuples(index=False)]  # fmt: skip
            copy.executemany(f"insert into {table} ({', '.join(frame.columns)}) values ({marks})", rows)
    with pytest.MonkeyPatch.context() as patch:
        for name, value in STACK_ENV.items():
            if name.startswith("CADENCE_"):
                patch.setenv(name, value)
        patch.setenv("CADENCE_DATA_DIR", str(data))
        patch.setenv(
            "AIRFLOW_CONN_CADENCE_SOURCE",
            json.dumps({"conn_type": "sqlite", "host": str(data / "source.sqlite")}),
        )
        patch.setenv(
            "AIRFLOW_CONN_CADENCE_WAREHOUSE",
            json.dumps({"conn_type": "duckdb", "host": str(data / "warehouse.duckdb")}),
        )
        from airflow.utils import db

        db.initdb()
        for run in sorted(runs, key=lambda r: r["start_date"]):
            forget_runs()
            environment = dict(os.environ)
            bag = DagBag(dag_folder=str(DAGS / f"{run['dag_id']}.py"))
            assert not bag.import_errors, bag.import_errors
            moment = run["data_interval_end"] if run["run_type"] == "scheduled" else run["logical_date"]
            try:
                result = bag.get_dag(run["dag_id"]).test(
                    logical_date=datetime.fromisoformat(moment.replace("Z", "+00:00")),
                    run_conf=run["conf"] or None,
                )
            finally:
                release_dbt_duckdb()
                os.environ.clear()
                os.environ.update(environment)
            assert result.state == "success", (
                run["dag_run_id"],
                {t.task_id: t.state for t in result.get_task_instances()},
            )
    return snapshot(data)


def test_silver_gold_and_lake_equal_the_embedded_default(stack, topology_runs, tmp_path, airflow_db):
    expected = replay_on_embedded_default(stack, topology_runs["runs"], tmp_path)
    assert_same(topology_runs["snapshot"], expected)


# ------------------------------------------------------------------------------------------ faults


def purchases_run(stack, conf: dict, on_running=None) -> tuple[str, dict]:
    """One purchases backfill (``conf``) from an empty lake and warehouse; ``on_running(run_id)`` acts
    mid-run. Returns the run id and the resulting purchases lake files and silver table."""

    # A run still writing to the lake or the warehouse would leak into this one's result, and so would a
    # scheduled purchases run created just before the scheduler stopped making them (it is queued, and runs
    # once the lake is emptied). Queued spins runs are catch-ups that stay queued: spins is paused.
    busy = {"purchases": ("running", "queued"), "spins": ("running",)}

    def idle():
        return all(r["state"] not in states for dag_id, states in busy.items() for r in stack.runs(dag_id))

    stack.wait_until(idle, RUN_TIMEOUT, poll=2, what="no purchases or spins run left running")
    for run in stack.runs("spins"):  # catch-ups the empty lake provokes stay queued: spins is paused
        if run["state"] == "queued":
            stack.delete_run("spins", run["dag_run_id"])
    stack.empty_lake_and_warehouse()
    run_id = stack.trigger("purchases", conf=conf)
    if on_running:
        on_running(run_id)
    state = stack.wait("purchases", run_id, timeout=RUN_TIMEOUT)
    assert state == "success", stack.task_states("purchases", run_id)
    return run_id, snapshot(stack.data_dir, tables=("silver.purchases",))


@pytest.fixture(scope="module")
def uninterrupted(stack, confs):
    """The fault scenarios' reference run. From here on only triggered runs execute (no scheduled run may
    write to the lake between a scenario's reference and its faulty run)."""
    stack.restart_scheduler(AIRFLOW__SCHEDULER__USE_JOB_SCHEDULE="False")
    stack.unpause("purchases")
    return purchases_run(stack, confs["fault"])[1]


def tries(stack, run_id: str) -> dict[str, int]:
    return {ti["task_id"]: ti["try_number"] for ti in stack.task_instances("purchases", run_id)}


def test_worker_killed_mid_land_and_mid_dbt_reruns_the_tasks(stack, confs, uninterrupted):
    """SIGKILL the worker while `land` runs, restart it; again while the dbt silver task runs."""
    killed = []

    def kill_twice(run_id):
        for prefix in ("land", "silver."):
            killed.append(running_task(stack, "purchases", run_id, prefix))
            stack.kill_worker()
            # Watch for the next task at once: waiting for the healthcheck could outlast the silver tasks.
            stack.restart_worker(wait=False)

    run_id, result = purchases_run(stack, confs["fault"], on_running=kill_twice)
    # the first silver task is the superseded-versions model, built before silver purchases
    assert killed == ["land", "silver.purchases_superseded_model_build"], killed
    assert all(tries(stack, run_id)[task] >= 2 for task in killed), tries(stack, run_id)
    assert_same(result, uninterrupted)


def test_redis_restarted_mid_run_scheduler_and_worker_recover(stack, confs, uninterrupted):
    def restart_redis(run_id):
        running_task(stack, "purchases", run_id, "land")
        stack.redis.kill()
        assert not stack.redis.ping()
        stack.redis.start()

    _run_id, result = purchases_run(stack, confs["fault"], on_running=restart_redis)
    assert_same(result, uninterrupted)
    assert stack.ping_worker().returncode == 0, "the worker answers again after the broker restart"
    for service in ("scheduler", "celery-worker"):
        assert stack._processes[service].poll() is None, f"{service} died with the broker"

"""Every DAG file imports cleanly and follows the policies DESIGN.md promises."""

from __future__ import annotations

import pytest

from tests.support.dags import DAGS

DAG_FILES = sorted(p for p in DAGS.glob("*.py") if not p.name.startswith("_"))


def is_catch_up(task) -> bool:
    """The wait for a triggered run, or the trigger it waits on."""
    from cadence.operators import WaitForTriggeredRun

    return isinstance(task, WaitForTriggeredRun) or any(
        isinstance(downstream, WaitForTriggeredRun) for downstream in task.downstream_list
    )


def test_there_are_dag_files():
    assert DAG_FILES, "no DAG files found"


@pytest.mark.parametrize("path", DAG_FILES, ids=lambda p: p.name)
def test_dag_file_imports_without_errors(path, airflow_db):
    from airflow.dag_processing.dagbag import DagBag

    bag = DagBag(dag_folder=str(path))
    assert bag.import_errors == {}
    assert bag.dags, f"{path.name} defines no DAG"


#: What a task needs and parsing does not: the dag-processor parses every file every 30 s, so importing these
#: at parse time costs its memory (~100 MB) and CPU on every parse.
TASK_ONLY_LIBRARIES = ("pandas", "numpy", "pyarrow", "duckdb", "great_expectations", "dbt")
#: What reading the manifest through ObjectStoragePath pulls in (the Google provider's GCS hook).
CLOUD_FILESYSTEM = ("google.cloud.storage", "gcsfs")
#: telemetry.py's landing asset URI makes Airflow load every provider's URI handlers, cloud ones included.
LOADS_EVERY_PROVIDER = "telemetry.py"


@pytest.fixture(scope="module")
def parse_imports() -> dict[str, list[str]]:
    """Which of the watched modules a fresh interpreter holds after running the DAG files as a parse does:
    ``"rendered"`` after every file but telemetry.py, ``"parsed"`` after all of them (one interpreter)."""
    import json
    import subprocess
    import sys

    watched = (*TASK_ONLY_LIBRARIES, *CLOUD_FILESYSTEM)
    first = [str(path) for path in DAG_FILES if path.name != LOADS_EVERY_PROVIDER]
    last = [str(path) for path in DAG_FILES if path.name == LOADS_EVERY_PROVIDER]
    script = (
        "import json, runpy, sys\n"
        f"def held():\n    return sorted(m for m in {watched!r} if m in sys.modules)\n"
        f"for path in {first!r}:\n    runpy.run_path(path)\n"
        "rendered = held()\n"
        f"for path in {last!r}:\n    runpy.run_path(path)\n"
        "print(json.dumps({'rendered': rendered, 'parsed': held()}))"
    )
    result = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, timeout=120)
    assert result.returncode == 0, result.stderr[-2000:]
    return json.loads(result.stdout.strip().splitlines()[-1])


def test_parsing_the_dag_files_imports_no_task_library(parse_imports):
    assert [m for m in parse_imports["parsed"] if m in TASK_ONLY_LIBRARIES] == []


def test_rendering_the_dbt_task_groups_imports_no_cloud_filesystem(parse_imports):
    """Cosmos reads the manifest through ObjectStoragePath unless told a plain path (cadence.dbt_group),
    whose filesystem registry imports the Google provider's GCS hook: ~0.5 s of CPU in every parse process.
    (telemetry.py is left out: its landing asset's URI makes Airflow load every provider's URI handlers.)"""
    assert [m for m in parse_imports["rendered"] if m in CLOUD_FILESYSTEM] == []


def test_every_dag_follows_the_policies(dagbag):
    from airflow.sdk import AssetOrTimeSchedule, CronDataIntervalTimetable

    assert dagbag.dags
    for dag_id, dag in dagbag.dags.items():
        assert dag.tags, f"{dag_id} has no tags"
        assert dag.dagrun_timeout is not None, f"{dag_id} has no dagrun_timeout"
        assert dag.max_active_runs == 1, f"{dag_id} allows concurrent runs"
        assert not dag.catchup, f"{dag_id} would catch up from its start date"
        if isinstance(dag.timetable, AssetOrTimeSchedule):  # by arrival (telemetry): no windows to plan
            assert dag.timetable.asset_condition is not None and "is_full_refresh" in dag.params, dag_id
        elif dag.timetable.can_be_scheduled:
            assert isinstance(dag.timetable, CronDataIntervalTimetable), (
                f"{dag_id} must use CronDataIntervalTimetable (a bare cron gives empty intervals)"
            )
            assert {"is_full_refresh", "backfill_start", "backfill_end"} <= set(dag.params), dag_id
        for task in dag.tasks:
            # A catch-up is not retried: a retry would start a second triggered run, or wait again.
            assert task.retries >= 1 or is_catch_up(task), f"{dag_id}.{task.task_id} has no retries"


def test_every_scheduled_dag_starts_with_one_task_that_can_skip_the_whole_run(dagbag):
    """The first-run rule (cadence.first_run.yields_to_first_run) holds for a run only if one short
    circuit precedes everything and skips it whatever the trigger rules below."""
    from airflow.providers.standard.operators.python import ShortCircuitOperator

    scheduled = [dag for dag in dagbag.dags.values() if dag.timetable.can_be_scheduled]
    assert {dag.dag_id for dag in scheduled} >= {"purchases", "spins", "mmp", "daily_kpis", "telemetry"}
    for dag in scheduled:
        (first,) = dag.roots if len(dag.roots) == 1 else (None,)
        assert first is not None, f"{dag.dag_id} has several first tasks: {[t.task_id for t in dag.roots]}"
        assert isinstance(first, ShortCircuitOperator) and first.ignore_downstream_trigger_rules, dag.dag_id
        assert len(first.get_flat_relatives(upstream=False)) == len(dag.tasks) - 1, dag.dag_id


def test_purchases_dag_shape(dagbag):
    from datetime import timedelta

    dag = dagbag.get_dag("purchases")
    assert dag.dagrun_timeout == timedelta(minutes=8)
    assert dag.timetable.expression == "*/5 * * * *"
    land = dag.get_task("land")
    dbt_tasks = [t for t in dag.tasks if t.task_id.startswith("silver.")]
    assert dbt_tasks and all(t.pool == "duckdb" for t in dbt_tasks), "dbt tasks must use the duckdb pool"
    # every dbt task runs after land (the superseded-versions model comes first inside the group)
    assert all(land in t.get_flat_relatives(upstream=True) for t in dbt_tasks)
    assert dag.default_args["retry_delay"] == timedelta(minutes=1)

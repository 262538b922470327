"""Running DAGs in-process with ``dag.test()`` against the session's Airflow metadata DB."""

from __future__ import annotations

import contextlib
import gc
import os
from datetime import UTC, datetime

from tests.support.environment import DAGS


def load_dag(dag_id: str):
    """Parse a DAG afresh from its file (Params set by one dag.test() would leak into the next)."""
    from airflow.dag_processing.dagbag import DagBag

    bag = DagBag(dag_folder=str(DAGS / f"{dag_id}.py"))
    assert not bag.import_errors, bag.import_errors
    return bag.get_dag(dag_id)


def forget_runs(dag_id: str | None = None) -> None:
    """Drop the DAG runs of earlier tests (all of them, or one DAG's) from the session's Airflow DB."""
    from airflow.models import DagRun
    from airflow.utils.session import create_session
    from sqlalchemy import delete

    statement = delete(DagRun) if dag_id is None else delete(DagRun).where(DagRun.dag_id == dag_id)
    with create_session() as session:
        session.execute(statement)


@contextlib.contextmanager
def active_run(dag_id: str, state: str = "running", run_id: str = "active"):
    """A DAG run of ``dag_id`` in ``state`` in the session's Airflow DB for the duration (what another
    DAG's task sees through ``ti.get_dr_count``), removed afterwards."""
    from airflow.models import DagRun
    from airflow.utils.session import create_session

    now = datetime.now(UTC)
    with create_session() as session:
        session.add(DagRun(dag_id, run_id, run_after=now, start_date=now, state=state, run_type="manual"))
    try:
        yield
    finally:
        forget_runs(dag_id)


def run_dag(
    dag_id: str,
    logical_date: datetime,
    conf: dict | None = None,
    mark_success: str | None = None,
    keep_other_runs: bool = False,
    run_after: datetime | None = None,
):
    """One dag.test() run of a freshly parsed DAG; returns the DAG run.

    Earlier runs are forgotten first (dag.test() would find a finished run and skip), all of them or, with
    ``keep_other_runs``, only this DAG's (the runs an earlier run triggered are kept). Afterwards dbt's
    DuckDB connection is released and the environment restored (Cosmos exports the dbt env in-process).
    """
    from cadence.dbt_group import release_dbt_duckdb

    forget_runs(dag_id if keep_other_runs else None)
    _freeze_heap()
    environment = dict(os.environ)
    try:
        dag = load_dag(dag_id)
        extra = {"run_after": run_after} if run_after is not None else {}
        return dag.test(logical_date=logical_date, run_conf=conf, mark_success_pattern=mark_success, **extra)
    finally:
        release_dbt_duckdb()
        os.environ.clear()
        os.environ.update(environment)


def _freeze_heap() -> None:
    """Collect once, then keep what lives now out of later collections: Cosmos runs a full ``gc.collect()``
    after every dbt invocation, which in a test process that holds Airflow, dbt, GX and earlier runs takes
    ~0.4 s each time (a task process under the scheduler holds far less)."""
    gc.collect()
    gc.freeze()


def task_states(dag_run) -> dict[str, str]:
    return {ti.task_id: ti.state for ti in dag_run.get_task_instances()}


def assert_green(dag_run) -> dict[str, str]:
    states = task_states(dag_run)
    assert dag_run.state == "success", states
    return states

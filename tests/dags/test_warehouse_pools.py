"""Pools per warehouse, as the parsed DAGs have them: DuckDB serialises every task opening its file in one
slot; on BigQuery the dbt tasks share a configurable, wider pool and so run in parallel."""

from __future__ import annotations

import pytest
from cadence.config import PROJECT_ROOT

pytestmark = pytest.mark.dags

WAREHOUSE_DAGS = ["spins.py", "daily_kpis.py", "workbook_import.py"]


def _warehouse_task_pools(dag_file: str) -> dict[str, str]:
    """Pool of every task that runs dbt or opens the warehouse in ``dag_file``."""
    from airflow.dag_processing.dagbag import DagBag

    bag = DagBag(dag_folder=str(PROJECT_ROOT / "dags" / dag_file))
    assert bag.import_errors == {}
    (dag,) = bag.dags.values()
    return {
        task.task_id: task.pool
        for task in dag.tasks
        if type(task).__module__.startswith("cosmos") or task.pool != "default_pool"
    }


@pytest.mark.parametrize("dag_file", WAREHOUSE_DAGS)
def test_duckdb_tasks_share_the_one_slot_pool(dag_file, airflow_db, monkeypatch):
    monkeypatch.setenv("CADENCE_WAREHOUSE", "duckdb")
    pools = _warehouse_task_pools(dag_file)
    assert pools and set(pools.values()) == {"duckdb"}


@pytest.mark.parametrize("dag_file", WAREHOUSE_DAGS)
def test_bigquery_dbt_tasks_use_the_configured_pool(dag_file, airflow_db, monkeypatch):
    monkeypatch.setenv("CADENCE_WAREHOUSE", "bigquery")
    monkeypatch.setenv("CADENCE_BIGQUERY__POOL", "bq_dbt")
    pools = _warehouse_task_pools(dag_file)
    dbt_tasks = [task_id for task_id in pools if "." in task_id]  # Cosmos tasks live in task groups
    assert len(dbt_tasks) > 1, "several dbt tasks that can run side by side"
    assert set(pools.values()) == {"bq_dbt"}, pools


def test_init_creates_the_configured_pool(airflow_db, monkeypatch):
    from airflow.models.pool import Pool
    from airflow.utils.session import create_session
    from cadence.config import load_settings
    from cadence.warehouse import ensure_pool

    with create_session() as session:
        ensure_pool(
            load_settings(warehouse="bigquery", bigquery={"pool": "h11_bq_pool", "pool_slots": 6}), session
        )
    with create_session() as session:
        pool = session.query(Pool).filter(Pool.pool == "h11_bq_pool").one()
        assert pool.slots == 6
        session.delete(pool)

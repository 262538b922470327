"""The libraries every task process needs, loaded once per worker instead of once per task.

A task process of the LocalExecutor or of a Celery worker is forked from a long-lived worker process, so
whatever that worker imported is already loaded in the task, shared copy-on-write. Without this each task
pays its own imports before doing any work: Great Expectations alone takes ~2 s, dbt ~1 s, on every
`land` and every dbt task of every window.
"""

from __future__ import annotations

#: Validation, dbt and Cosmos, the frames: what `land` and the dbt tasks import (and dbt's schemas, built).
TASK_LIBRARIES = (
    "pandas",
    "pyarrow.parquet",
    "duckdb",
    "great_expectations",
    "dbt.cli.main",
    "dbt.adapters.duckdb",
    "cosmos.operators.local",
    "cadence.dbt_schemas",
)


def forkserver_preload() -> str:
    """``[core] mp_forkserver_preload`` for a scheduler whose LocalExecutor workers come from a forkserver:
    Airflow's task-running modules, the task libraries, then the freeze of all of them (cadence.gc_freeze)."""
    return ",".join(("airflow.sdk", "airflow.executors.local_executor", *TASK_LIBRARIES, "cadence.gc_freeze"))

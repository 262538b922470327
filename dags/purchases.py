"""
### purchases — every 5 minutes

Extracts purchases whose `updated_at` falls in the data interval (plus a short lookback for late commits),
validates them with Great Expectations (valid rows → bronze Parquet, invalid rows → quarantine with the
broken rule), records one run-log row per window, then merges the window into dbt `silver.purchases`
(latest version of each transaction wins).

**Backfill:** trigger with `backfill_start` / `backfill_end` (UTC) to reprocess exactly that range;
tick `is_full_refresh` to rebuild silver from the whole lake.
"""

from airflow.sdk import dag, task
from cadence.config import get_settings
from cadence.orchestration import dag_kwargs, dbt_task_group

settings = get_settings()


@dag(**dag_kwargs(settings.purchases, __doc__, tags=["purchases", "5-minute"]))
def purchases():
    @task
    def land(**context) -> dict:
        """Extract → validate → bronze/quarantine → run log, for this run's window."""
        from cadence.orchestration import land_for_run

        return land_for_run("purchases", settings.purchases, context)

    land() >> dbt_task_group(settings, "silver", select=["tag:purchases"], plan_task_id="land")


purchases()

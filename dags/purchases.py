"""
### purchases — every 5 minutes

Extracts purchases whose `updated_at` falls in the data interval (plus a short lookback for late commits),
validates them with Great Expectations (valid rows → bronze Parquet, invalid rows → quarantine with the
broken rule), records one run-log row per window, then merges the window into dbt `silver.purchases`
(latest version of each transaction wins).

Then it looks at bronze spins: when no spins row changed within their freshness limit (the feed went quiet
or `spins` stopped landing) it triggers `spins` (without waiting) with the range that closes the gap, at
most once per hour and never while a spins run is queued or running; a backfill or full refresh of
purchases is carried over to `spins` so gold follows silver. A run triggered by `spins` never triggers
back.

**Backfill:** trigger with `backfill_start` / `backfill_end` (UTC) to reprocess exactly that range;
tick `is_full_refresh` to rebuild silver from the whole lake.
"""

from airflow.providers.standard.operators.trigger_dagrun import TriggerDagRunOperator
from airflow.sdk import TriggerRule, dag, task
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

    @task.short_circuit
    def check_spins_freshness(**context) -> dict | None:
        """How to trigger spins (stale spins, or a backfill to carry over); None skips the trigger."""
        from cadence.orchestration import spins_trigger

        return spins_trigger(context)

    trigger_spins = TriggerDagRunOperator(
        task_id="trigger_spins",
        trigger_dag_id="spins",
        conf="{{ ti.xcom_pull(task_ids='check_spins_freshness')['conf'] }}",
        trigger_run_id="{{ ti.xcom_pull(task_ids='check_spins_freshness')['run_id'] }}",
        skip_when_already_exists=True,  # one catch-up per spins hour, however many purchases runs see it
        wait_for_completion=False,
    )

    @task(trigger_rule=TriggerRule.ALL_DONE_MIN_ONE_SUCCESS)
    def log_silver(**context) -> dict:
        """Run-log record of the silver merge, success or failure (the next run merges from there)."""
        from cadence.catch_up import record_dbt_group

        return record_dbt_group(context, "purchases")

    silver = dbt_task_group(settings, "silver", select=["tag:purchases"], plan_task_id="land")
    landed = land()
    landed >> silver >> check_spins_freshness() >> trigger_spins
    [landed, silver] >> log_silver()  # runs when land succeeded, whatever silver did


purchases()

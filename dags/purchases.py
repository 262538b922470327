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
from cadence.dag_defaults import dag_kwargs
from cadence.dbt_group import dbt_task_group

settings = get_settings()


@dag(**dag_kwargs(settings.purchases, __doc__, tags=["purchases", "5-minute"]))
def purchases():
    @task.short_circuit
    def land(ti=None) -> dict | None:
        """Extract → validate → bronze/quarantine → run log, for this run's window (skips everything after
        it while the first-run backfill runs)."""
        from cadence.ingest import land_task

        return land_task("purchases", settings.purchases, ti)

    @task.short_circuit(multiple_outputs=True)
    def check_spins_freshness(landed: dict, ti=None) -> dict | None:
        """How to trigger spins (stale spins, or a backfill to carry over); None skips the trigger."""
        from cadence.config import get_settings
        from cadence.cross_cadence import spins_trigger
        from cadence.planning import RunContext

        run = RunContext.current()
        return spins_trigger(
            get_settings(),
            landed,
            run.params,
            run.run_id,
            active_spins_runs=lambda: ti.get_dr_count("spins", states=["queued", "running"]),
        )

    landed = land()
    silver = dbt_task_group(settings, "silver", select=["tag:purchases"], window=landed)
    trigger = check_spins_freshness(landed)
    trigger_spins = TriggerDagRunOperator(
        task_id="trigger_spins",
        trigger_dag_id="spins",
        conf=trigger["conf"],
        trigger_run_id=trigger["run_id"],
        skip_when_already_exists=True,  # one catch-up per spins hour, however many purchases runs see it
        wait_for_completion=False,
    )
    landed >> silver >> trigger >> trigger_spins

    @task(trigger_rule=TriggerRule.ALL_DONE_MIN_ONE_SUCCESS)
    def log_silver(landed: dict, run_id=None) -> dict:
        """Run-log record of the silver merge, success or failure (the next run merges from there)."""
        from cadence.catch_up import group_states, record_dbt_group
        from cadence.config import get_settings

        return record_dbt_group(get_settings(), "purchases", "silver", landed, group_states("silver"), run_id)

    silver >> log_silver(landed)  # runs when land succeeded, whatever silver did


purchases()

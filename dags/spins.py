"""
### spins — hourly, and gold

Extracts hourly spin totals changed in the data interval (plus lookback), validates them with Great
Expectations (bronze / quarantine / run log), merges them into dbt `silver.spins_hourly`, then builds gold
(`aggregated_final_table`, `aggregated_daily_table`) for exactly the user-days whose silver rows changed.

Before gold it checks bronze purchases: when they are stale it triggers `purchases` for the missing range
and waits for that run (deferred, with its own timeout), so gold does not merge stale purchases. If
purchases cannot catch up, gold is built anyway and the run log says it was built on stale purchases.
A run triggered by `purchases` never triggers back.

**Backfill:** `backfill_start` / `backfill_end` (UTC) reprocess exactly that range through bronze, silver
and gold in one run; `is_full_refresh` rebuilds silver and gold from the whole lake.
"""

from airflow.providers.standard.operators.trigger_dagrun import TriggerDagRunOperator
from airflow.sdk import TriggerRule, dag, task
from cadence.config import get_settings
from cadence.orchestration import (
    BUILD_GOLD_TASK,
    CATCH_UP_TASK,
    TRIGGER_CATCH_UP_TASK,
    dag_kwargs,
    dbt_task_group,
    wait_for_triggered_run,
)

settings = get_settings()


@dag(**dag_kwargs(settings.spins, __doc__, tags=["spins", "hourly", "gold"]))
def spins():
    @task
    def land(**context) -> dict:
        """Extract → validate → bronze/quarantine → run log, for this run's window."""
        from cadence.orchestration import land_for_run

        return land_for_run("spins_hourly", settings.spins, context)

    @task.branch
    def check_purchases_freshness(**context) -> str:
        """Catch purchases up first when their bronze is stale; otherwise build gold now."""
        from cadence.orchestration import purchases_gate

        return purchases_gate(context)

    trigger_purchases = TriggerDagRunOperator(
        task_id=TRIGGER_CATCH_UP_TASK,
        trigger_dag_id="purchases",
        conf="{{ ti.xcom_pull(task_ids='check_purchases_freshness', key='conf') }}",
        wait_for_completion=False,
        retries=0,  # a retry would start a second catch-up run
    )
    catch_up_purchases = wait_for_triggered_run(
        task_id=CATCH_UP_TASK,
        trigger_task_id=TRIGGER_CATCH_UP_TASK,
        dag_id="purchases",
        timeout=settings.triggers.wait_timeout,
        poke_interval=settings.triggers.poke_interval,
    )

    @task(task_id=BUILD_GOLD_TASK, trigger_rule=TriggerRule.ALL_DONE)
    def build_gold(**context) -> dict:
        """Runs after a catch-up whatever its outcome; re-checks purchases so the run log can tell."""
        from cadence.orchestration import gold_inputs

        return gold_inputs(context)

    @task(trigger_rule=TriggerRule.ALL_DONE_MIN_ONE_SUCCESS)
    def log_silver(**context) -> dict:
        """Run-log record of the silver merge, success or failure (the next run merges from there)."""
        from cadence.catch_up import record_dbt_group

        return record_dbt_group(context, "spins_hourly")

    @task(trigger_rule=TriggerRule.ALL_DONE_MIN_ONE_SUCCESS)
    def log_gold(**context) -> dict:
        """Run-log record for gold: built (and whether on stale purchases), or failed."""
        from cadence.orchestration import record_gold

        return record_gold(context)

    silver = dbt_task_group(settings, "silver", select=["tag:spins"], plan_task_id="land")
    gold = dbt_task_group(settings, "gold", select=["tag:gold"], plan_task_id="land")
    gate = check_purchases_freshness()
    ready = build_gold()
    landed = land()
    landed >> silver >> gate >> [trigger_purchases, ready]
    [landed, silver] >> log_silver()  # runs when land succeeded, whatever silver did
    trigger_purchases >> catch_up_purchases >> ready >> gold
    [ready, gold] >> log_gold()  # runs when gold was started, whatever it did


spins()

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
from cadence.dag_defaults import dag_kwargs
from cadence.dbt_group import dbt_task_group
from cadence.operators import WaitForTriggeredRun
from cadence.warehouse import warehouse_pool

settings = get_settings()


@dag(**dag_kwargs(settings.spins, __doc__, tags=["spins", "hourly", "gold"]))
def spins():
    @task.short_circuit
    def land(ti=None) -> dict | None:
        """Extract → validate → bronze/quarantine → run log, for this run's window (skips everything after
        it while the first-run backfill runs)."""
        from cadence.ingest import land_task

        return land_task("spins_hourly", settings.spins, ti)

    @task.branch
    def check_purchases_freshness(landed: dict, ti=None) -> str:
        """Catch purchases up first when their bronze is stale; otherwise build gold now."""
        from cadence.config import get_settings
        from cadence.cross_cadence import purchases_gate
        from cadence.planning import RunContext

        gate = purchases_gate(get_settings(), landed, RunContext.current().params)
        ti.xcom_push(key="freshness", value=gate.freshness)
        if gate.catch_up is None:
            return ready.operator.task_id
        ti.xcom_push(key="conf", value=gate.catch_up)
        return trigger_purchases.task_id

    @task(trigger_rule=TriggerRule.ALL_DONE)
    def build_gold(landed: dict, freshness: str) -> dict:
        """Runs after a catch-up whatever its outcome; re-checks purchases so the run log can tell."""
        from cadence.config import get_settings
        from cadence.cross_cadence import gold_inputs

        return gold_inputs(get_settings(), landed, freshness)

    @task(trigger_rule=TriggerRule.ALL_DONE_MIN_ONE_SUCCESS)
    def log_gold(landed: dict, inputs: dict, run_id=None) -> dict:
        """Run-log record for gold: built (and whether on stale purchases), or failed."""
        from cadence.catch_up import group_states
        from cadence.config import get_settings
        from cadence.cross_cadence import record_gold

        return record_gold(get_settings(), landed, inputs, run_id, group_states("gold"))

    landed = land()
    silver = dbt_task_group(settings, "silver", select=["tag:spins"], window=landed)
    gold = dbt_task_group(settings, "gold", select=["tag:gold"], window=landed)
    gate = check_purchases_freshness(landed)
    trigger_purchases = TriggerDagRunOperator(
        task_id="trigger_purchases",
        trigger_dag_id="purchases",
        conf=gate["conf"],
        wait_for_completion=False,
        retries=0,  # a retry would start a second catch-up run
    )
    catch_up_purchases = WaitForTriggeredRun(
        task_id="catch_up_purchases",
        triggered_run_id=trigger_purchases.output["trigger_run_id"],
        triggered_dag_id="purchases",
        timeout=settings.triggers.wait_timeout,
        poke_interval=settings.triggers.poke_interval,
    )

    @task(pool=warehouse_pool(settings))
    def publish_dashboard() -> dict:
        """Publish the dashboard snapshot (gold and the marts) into the lake for the analysts' page."""
        from cadence.dashboard import snapshot

        return snapshot.publish(settings)

    @task(trigger_rule=TriggerRule.ALL_DONE_MIN_ONE_SUCCESS)
    def log_silver(landed: dict, run_id=None) -> dict:
        """Run-log record of the silver merge, success or failure (the next run merges from there)."""
        from cadence.catch_up import group_states, record_dbt_group
        from cadence.config import get_settings

        return record_dbt_group(
            get_settings(), "spins_hourly", "silver", landed, group_states("silver"), run_id
        )

    # A branch's return value is not an XCom (it ends by skipping), so gold reads the gate's verdict; when
    # the gate never ran (silver failed), that XCom is missing and gold is not built.
    ready = build_gold(landed, gate["freshness"])
    landed >> silver >> gate >> [trigger_purchases, ready]
    silver >> log_silver(landed)  # runs when land succeeded, whatever silver did
    trigger_purchases >> catch_up_purchases >> ready >> gold
    gold >> log_gold(landed, ready) >> publish_dashboard()  # log_gold runs whatever gold did


spins()

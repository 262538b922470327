"""
### daily_kpis — daily KPIs, KPI anomaly monitoring, pipeline health

Waits (at most an hour) until gold covers its day, then runs dbt over silver/gold (it ingests nothing)
for its data-interval day and the trailing days before it, so late data settles:
`kpis.daily_user_panel` (per user per day: events, coins added, revenue), `kpis.installs` (first day
seen, never moves later), `kpis.last_activity` and `kpis.daily_kpis` (DAU, new installs, paying users,
revenue, ARPDAU, ARPPU, spins per DAU, D1/D7 retention; overall and per country x platform), then writes
its run-log record.

Then two monitors, each a dbt model plus a check task:
- **KPI anomalies** → `ops.kpi_anomalies`: the rules of `include/cadence/kpi_rules.yaml` (day over day,
  z-score over a trailing baseline, minimum volume, severity) on every recomputed day;
- **pipeline health** → `ops.pipeline_health`: per run-log job, stale / never ran / last run failed /
  too much quarantined.

Every verdict is stored, healthy ones too. A check task logs them, notifies (log; Slack / e-mail when
configured) and turns red on an error-severity alert; warnings only notify.

**Backfill:** `backfill_start` / `backfill_end` (UTC) recompute exactly those days; `is_full_refresh`
rebuilds the KPI tables from gold. **Dry run:** `dry_run` renders the monitoring SQL for the run's days
into the task log and executes nothing (as `cadence-monitor kpis --day … --dry-run` does).
"""

from datetime import timedelta

from airflow.sdk import Param, TriggerRule, dag, task
from cadence.config import get_settings
from cadence.dag_defaults import dag_kwargs, window_params
from cadence.dbt_group import dbt_task_group
from cadence.docs import dbt_docs_task
from cadence.monitoring.daily import HEALTH_RUN_VALUES, HEALTH_VARS, KPI_VARS
from cadence.warehouse import warehouse_pool

settings = get_settings()
params = {
    **window_params(),
    "dry_run": Param(
        False,
        type="boolean",
        title="Dry run",
        description="Render the monitoring SQL for the run's days into the task log; execute nothing.",
    ),
}


@dag(**dag_kwargs(settings.daily_kpis, __doc__, tags=["kpis", "daily", "monitoring"], params=params))
def daily_kpis():
    @task.short_circuit
    def plan(ti=None) -> dict | None:
        """Validate the conf; the run's days, the recomputed days, the rules and health vars for dbt (skips
        everything after it while the first-run backfill runs)."""
        from cadence.first_run import first_task_yields
        from cadence.monitoring.daily import plan_for_run
        from cadence.planning import RunContext

        run = RunContext.current()
        return None if first_task_yields(run.params, ti) else plan_for_run(run)

    @task
    def render_monitoring_sql(planned: dict) -> dict:
        """Dry run only: log the SQL both monitors would run (skipped otherwise)."""
        from cadence.monitoring.daily import render_for_run

        return render_for_run(planned)

    @task.short_circuit
    def execute(planned: dict) -> bool:
        """Not a dry run: build and monitor (a dry run skips everything below)."""
        return not planned["dry_run"]

    @task.sensor(
        poke_interval=60,
        mode="reschedule",
        timeout=settings.daily_kpis.gold_wait + timedelta(minutes=10),
    )
    def wait_for_gold(planned: dict):
        """Until gold covers the run's days (the spins DAG builds it hourly), at most gold_wait."""
        from cadence.monitoring.daily import gold_ready
        from cadence.planning import RunContext

        return gold_ready(planned, RunContext.current())

    @task
    def record_run(planned: dict, gold: dict | None, run_id=None) -> dict:
        """Run-log record: the KPI tables of these days are built."""
        from cadence.monitoring.daily import record_run

        return record_run(planned, gold, "success", run_id)

    @task(trigger_rule=TriggerRule.ONE_FAILED)
    def record_failure(planned: dict, gold: dict | None, run_id=None) -> dict:
        """Run-log record: the KPI build failed (pipeline health sees it)."""
        from cadence.monitoring.daily import record_run

        return record_run(planned, gold, "failed", run_id)

    @task(pool=warehouse_pool(settings))
    def check_kpi_anomalies(planned: dict) -> dict:
        """Log, notify and fail on error-severity anomalies that became known on the run's days."""
        from cadence.monitoring.alerts import check_task

        return check_task("kpis", planned)

    @task(pool=warehouse_pool(settings))
    def check_pipeline_health(planned: dict) -> dict:
        """Log, notify and fail on error-severity pipeline-health alerts."""
        from cadence.monitoring.alerts import check_task

        return check_task("health", planned)

    @task(pool=warehouse_pool(settings), trigger_rule=TriggerRule.ALL_DONE)
    def publish_dashboard() -> dict:
        """Publish the dashboard snapshot into the lake, whatever the monitors found."""
        from cadence.dashboard import snapshot

        return snapshot.publish(settings)

    planned = plan()
    kpis = dbt_task_group(settings, "kpis", select=["tag:kpis"], window=planned)
    anomalies = dbt_task_group(
        settings, "kpi_monitoring", select=["tag:kpi_monitoring"], window=planned, extra_vars=KPI_VARS
    )
    health = dbt_task_group(
        settings,
        "pipeline_health",
        ["tag:pipeline_health"],
        window=planned,
        extra_vars=HEALTH_VARS,
        run_values=HEALTH_RUN_VALUES,
    )
    gold = wait_for_gold(planned)
    render_monitoring_sql(planned)
    planned >> execute(planned) >> gold >> kpis >> [record_run(planned, gold), record_failure(planned, gold)]
    kpis >> anomalies >> check_kpi_anomalies(planned)
    gold >> health >> check_pipeline_health(planned)
    # The snapshot and the docs follow the models, not the checks: a check that fails stays a leaf task,
    # so its failure makes the run fail.
    docs = dbt_docs_task(settings)
    docs.trigger_rule = TriggerRule.ALL_DONE
    [anomalies, health] >> publish_dashboard() >> docs


daily_kpis()

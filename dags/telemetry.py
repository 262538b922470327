"""
### telemetry — on arrival: client telemetry files → sessions, engagement, clickstream marts, traffic alerts

Scheduled by data: an Asset on the lake's `landing/telemetry/` with an AssetWatcher (locally a file trigger on
the landing area's signal file, in production GCS notifications through Pub/Sub), or the fallback cron that
picks up anything a missed notification left behind.

Each run processes exactly the files its ingestion ledger has not seen (an identical re-upload is skipped, a
changed one replaces its rows, a corrupt one is quarantined whole), flattens the nested JSON to bronze
`telemetry_visits` / `telemetry_events` / `telemetry_event_items` (bad lines to quarantine with file, line
and reason), builds the dbt `telemetry` models (staging, `fct_sessions`, `dim_users`, `user_engagement`,
clickstream marts, `ops.traffic_minutes` / `ops.traffic_alerts`), notifies the traffic alerts it made
known, and marks the files modeled, publishing the `telemetry_sessions` asset for downstream DAGs.

**Full refresh:** `is_full_refresh` rebuilds every model from the whole bronze lake.
"""

from airflow.sdk import dag, task
from cadence.config import get_settings
from cadence.dbt_group import dbt_task_group
from cadence.telemetry.schedule import dag_kwargs, sessions_asset
from cadence.warehouse import warehouse_pool

settings = get_settings()
DBT_VARS = (
    "telemetry_session_gap_seconds",
    "telemetry_baseline_minutes",
    "telemetry_alert_absolute",
    "telemetry_alert_factor",
    "telemetry_alert_min_events",
    "telemetry_device_alert_events",
    "telemetry_top_talker_events",
    "telemetry_alert_severity",
)


@dag(**dag_kwargs(settings, __doc__))
def telemetry():
    @task.short_circuit
    def land(**context) -> dict | None:
        """New landing files → bronze / quarantine, per the ledger; returns counts and the span to model
        (skips everything after it while the first-run backfill runs: the files wait in the ledger)."""
        from cadence.first_run import first_task_yields
        from cadence.telemetry.pipeline import land_for_run

        return None if first_task_yields(context["params"], context["ti"]) else land_for_run(context)

    @task(pool=warehouse_pool(settings))
    def check_traffic(landed: dict) -> dict:
        """Notify the traffic alerts this run made known."""
        from cadence.telemetry.alerts import notify_task

        return notify_task(get_settings(), landed)

    @task(outlets=[sessions_asset()])
    def mark_modeled(landed: dict) -> int:
        """The files of this run (and of any earlier run whose dbt failed) are now modeled."""
        from cadence.telemetry.pipeline import mark_modeled

        return mark_modeled(get_settings(), landed["ingested_at"])

    landed = land()
    models = dbt_task_group(
        settings, "models", select=["path:models/telemetry"], window=landed, extra_vars=DBT_VARS
    )
    landed >> models >> check_traffic(landed) >> mark_modeled(landed)


telemetry()

"""What starts a `telemetry` run: an Asset on the landing area with an AssetWatcher, or the fallback clock.

Airflow 3 event-driven scheduling needs a trigger that is a ``BaseEventTrigger``. Locally
(``CADENCE_TELEMETRY__TRIGGER=file``) that is the standard provider's ``FileDeleteTrigger`` on the landing
area's signal file (``landing/telemetry/_arrived``), which an uploader touches after each file, as a
collector does: the triggerer consumes the signal and the asset event starts a run; files arriving together
make one run, which processes them all (the ledger decides what is new, never the event). In production
(``trigger=pubsub``) GCS object notifications on the landing prefix go to Pub/Sub and the common-messaging
``MessageQueueTrigger`` (scheme ``google+pubsub``) turns each batch of messages into an asset event. Either
way a cron fallback (``fallback_schedule``) runs anyway: a missed notification delays a file, never loses it.
"""

from __future__ import annotations

from cadence.config import Settings
from cadence.telemetry.landing import SIGNAL, landing_uri

LANDING_ASSET = "telemetry_landing"
SESSIONS_ASSET = "telemetry_sessions"  # the completion event: downstream DAGs can schedule on it


def watcher_trigger(settings: Settings):
    """The BaseEventTrigger watching the landing area, chosen by ``telemetry.trigger``."""
    config = settings.telemetry
    if config.trigger == "pubsub":
        from airflow.providers.common.messaging.triggers.msg_queue import MessageQueueTrigger

        return MessageQueueTrigger(
            scheme="google+pubsub",
            project_id=config.pubsub_project,
            subscription=config.pubsub_subscription,
            max_messages=100,
            ack_messages=True,
            gcp_conn_id=settings.lake_conn_id or "google_cloud_default",
            poke_interval=config.poke_interval.total_seconds(),
        )
    if not settings.lake_url.startswith("file://"):
        raise ValueError(
            f"telemetry trigger 'file' watches a local folder, but the lake is {settings.lake_url}; "
            "set CADENCE_TELEMETRY__TRIGGER=pubsub with a subscription to the bucket's notifications"
        )
    from airflow.providers.standard.triggers.file import FileDeleteTrigger

    signal = f"{landing_uri(settings).removeprefix('file://')}/{SIGNAL}"
    return FileDeleteTrigger(filepath=signal, poke_interval=config.poke_interval.total_seconds())


def landing_asset(settings: Settings):
    from airflow.sdk import Asset, AssetWatcher

    watcher = AssetWatcher(name="telemetry_arrivals", trigger=watcher_trigger(settings))
    return Asset(name=LANDING_ASSET, uri=landing_uri(settings), watchers=[watcher])


def sessions_asset():
    from airflow.sdk import Asset

    return Asset(name=SESSIONS_ASSET, uri="cadence://telemetry/sessions")


def schedule(settings: Settings):
    """Runs on every landing-asset event, and on the fallback cron."""
    from airflow.sdk import AssetOrTimeSchedule, CronTriggerTimetable

    return AssetOrTimeSchedule(
        timetable=CronTriggerTimetable(settings.telemetry.fallback_schedule, timezone="UTC"),
        assets=landing_asset(settings),
    )


def dag_kwargs(settings: Settings, doc_md: str | None) -> dict:
    """The `telemetry` DAG's arguments: data-driven schedule, one run at a time, retries, a refresh Param."""
    from airflow.sdk import Param

    from cadence.dag_defaults import START_DATE
    from cadence.monitoring import failure_alerts

    config = settings.telemetry
    return {
        "schedule": schedule(settings),
        "start_date": START_DATE,
        "catchup": False,
        "max_active_runs": 1,
        "dagrun_timeout": config.dagrun_timeout,
        "default_args": {
            "retries": config.retries,
            "retry_delay": config.retry_delay,
            "owner": "cadence",
            "on_failure_callback": failure_alerts.task_failed,  # once a task failed for good
        },
        "on_failure_callback": failure_alerts.run_failed,  # notifies a timed-out run
        "params": {
            "is_full_refresh": Param(
                False,
                type="boolean",
                title="Full refresh",
                description="Rebuild the telemetry models from the whole bronze lake.",
            )
        },
        "tags": ["cadence", "telemetry"],
        "doc_md": doc_md,
        "render_template_as_native_obj": True,
    }

"""Traffic alerts of one telemetry run: read ops.traffic_alerts, log, notify through the monitoring notifier.

Only the alerts this run made known are reported (their minute got an event ingested in the run's span:
``last_ingested_at`` inside it), so an alert is notified once, not on every later run.
"""

from __future__ import annotations

from cadence.config import Settings
from cadence.monitoring.alerts import Finding, Outcome, report, warehouse_hook

ALERTS_SQL = """
select minute_start, scope, rule, events, baseline, threshold, severity
from ops.traffic_alerts
where last_ingested_at >= cast('{start}' as timestamp) and last_ingested_at <= cast('{end}' as timestamp)
order by minute_start, scope, rule
"""


def traffic_outcome(hook, start: str, end: str) -> Outcome:
    rows = hook.get_records(ALERTS_SQL.format(start=start, end=end))
    findings = []
    for minute, scope, rule, events, baseline, threshold, severity in rows:
        base = "" if baseline is None else f", baseline {float(baseline):,.1f}/min"
        findings.append(
            Finding(
                severity,
                f"{minute} {scope} {rule}: {events} events/min (threshold {float(threshold):,.1f}{base})",
            )
        )
    minutes = len({row[0] for row in rows})
    summary = f"traffic alerts made known by this run: {len(rows)} over {minutes} minute(s)"
    return Outcome("traffic", f"ingested {start} .. {end}", findings, summary)


def notify_task(settings: Settings, landed: dict) -> dict:
    """The `check_traffic` task: notify this run's traffic alerts (warn or error severity, from config);
    ``landed`` is the land task's return value."""
    from airflow.sdk.exceptions import AirflowFailException

    if not landed.get("window_start"):  # a full refresh: everything is new, nothing to single out
        return {"alerts": 0, "notified": []}
    outcome = traffic_outcome(warehouse_hook(settings), landed["window_start"], landed["window_end"])
    channels = report(outcome, settings)
    if outcome.errors:
        raise AirflowFailException(f"{outcome.title}\n{outcome.message()}")
    return {"alerts": len(outcome.findings), "notified": channels}

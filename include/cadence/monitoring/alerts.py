"""Read a monitoring table's verdicts for one run, log them, notify, and fail on error severity.

Both monitors share the pattern: dbt writes every verdict (healthy ones too) to a table in the ``ops``
schema; this module reads the alerting rows of the run's days / check time through the warehouse Airflow
connection (a ``common.sql`` hook: DuckDB locally, BigQuery in production), always writes a summary to
the task log, notifies through :class:`CadenceNotifier` when anything alerts, and reports whether an
error-severity alert must fail the task (warnings only notify).
"""

from __future__ import annotations

import logging
from collections import Counter
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta

from cadence.config import Settings

log = logging.getLogger(__name__)

KPI_STATUS_SQL = """
select status, count(*)
from ops.kpi_anomalies
where known_on >= cast('{start}' as date) and known_on < cast('{end}' as date)
group by status
order by status
"""

KPI_ALERTS_SQL = """
select kpi_date, kpi, slice, rule, value, baseline, change, threshold, severity
from ops.kpi_anomalies
where is_anomaly and known_on >= cast('{start}' as date) and known_on < cast('{end}' as date)
order by kpi_date, kpi, slice, rule
"""

HEALTH_SQL = """
select job, check_name, status, value, threshold, window_end, severity, is_alert
from ops.pipeline_health
where checked_at = cast('{checked_at}' as timestamp)
order by job, check_name
"""


@dataclass(frozen=True)
class Finding:
    severity: str  # warn | error
    text: str


@dataclass
class Outcome:
    """What one check found: the alerting findings and a summary for the task log."""

    kind: str  # "KPI anomalies" | "pipeline health"
    scope: str  # the days / check time it covers
    findings: list[Finding] = field(default_factory=list)
    summary: str = ""

    @property
    def errors(self) -> list[Finding]:
        return [f for f in self.findings if f.severity == "error"]

    @property
    def warnings(self) -> list[Finding]:
        return [f for f in self.findings if f.severity != "error"]

    @property
    def title(self) -> str:
        if not self.findings:
            return f"{self.kind} {self.scope}: nothing to report"
        return f"{self.kind} {self.scope}: {len(self.errors)} error(s), {len(self.warnings)} warning(s)"

    def message(self) -> str:
        lines = [f"[{f.severity}] {f.text}" for f in sorted(self.findings, key=lambda f: f.severity)]
        return "\n".join(lines) or "no alerts"


def warehouse_hook(settings: Settings):
    """The DB-API hook of the warehouse connection (DuckDBHook locally, BigQueryHook in production)."""
    from airflow.sdk import BaseHook

    from cadence.dbt_group import release_dbt_duckdb

    release_dbt_duckdb()
    connection = BaseHook.get_connection(settings.warehouse_conn_id)
    # the monitoring SQL is standard SQL; BigQueryHook defaults to legacy SQL
    params = {"use_legacy_sql": False} if connection.conn_type == "google_cloud_platform" else {}
    return connection.get_hook(hook_params=params)


def _number(value, digits: int = 2) -> str:
    return "NULL" if value is None else f"{float(value):,.{digits}f}"


def kpi_outcome(hook, start: date, end: date) -> Outcome:
    """Anomalies whose values became known on days [start, end)."""
    last = end - timedelta(days=1)
    scope = f"{start}" if last == start else f"{start} .. {last}"
    statuses = hook.get_records(KPI_STATUS_SQL.format(start=start, end=end))
    rows = hook.get_records(KPI_ALERTS_SQL.format(start=start, end=end))
    findings = []
    for kpi_date, kpi, slice_, rule, value, baseline, change, threshold, severity in rows:
        unit = "%" if rule == "day_over_day" else " sd"
        findings.append(
            Finding(
                severity,
                f"{kpi_date} {kpi} [{slice_}] {rule}: {_number(value)} vs baseline {_number(baseline)} "
                f"(change {_number(change)}{unit}, threshold {_number(threshold)}{unit})",
            )
        )
    counts = ", ".join(f"{status} {count}" for status, count in statuses) or "no rows"
    summary = f"KPI anomaly checks known on {scope}: {counts}"
    return Outcome("KPI anomalies", scope, findings, summary)


def health_outcome(hook, checked_at: datetime) -> Outcome:
    """Pipeline-health checks of ``checked_at`` (UTC)."""
    stamp = f"{checked_at:%Y-%m-%d %H:%M:%S}"
    rows = hook.get_records(HEALTH_SQL.format(checked_at=stamp))
    findings, lines = [], []
    for job, check, status, value, threshold, window_end, severity, is_alert in rows:
        if check == "freshness":
            detail = "never ran" if window_end is None else f"newest window ends {window_end}"
            detail += f", lag {_number(value, 0)} s (limit {_number(threshold, 0)} s)"
        elif check == "quarantine":
            detail = f"quarantined share {_number(value, 4)} (limit {_number(threshold, 4)})"
        else:
            detail = f"newest run (window ending {window_end})"
        text = f"{job} {check}: {status} - {detail}"
        lines.append(text)
        if is_alert:
            findings.append(Finding(severity, text))
    summary = f"pipeline health as of {stamp} UTC:\n  " + ("\n  ".join(lines) or "no checks")
    return Outcome("pipeline health", f"as of {stamp} UTC", findings, summary)


def report(outcome: Outcome, settings: Settings) -> list[str]:
    """Log the summary; notify when anything alerts. Returns the channels notified (empty: none)."""
    from cadence.monitoring.notifier import CadenceNotifier

    log.info("%s", outcome.summary)
    if not outcome.findings:
        log.info("%s", outcome.title)
        return []
    monitoring = settings.monitoring
    notifier = CadenceNotifier(
        title=outcome.title,
        message=outcome.message(),
        severity="error" if outcome.errors else "warn",
        slack_conn_id=monitoring.slack_conn_id,
        smtp_conn_id=monitoring.smtp_conn_id,
        email_to=monitoring.email_to,
    )
    return notifier.notify({})


def severity_counts(outcome: Outcome) -> dict[str, int]:
    counts = Counter(f.severity for f in outcome.findings)
    return {"error": counts.get("error", 0), "warn": counts.get("warn", 0)}


def check_task(kind: str, planned: dict) -> dict:
    """The body of the check tasks (``kind`` ``kpis`` or ``health``, on the daily plan ``planned``): read,
    log, notify, and fail (red in the UI) on error severity."""
    from airflow.sdk.exceptions import AirflowFailException

    from cadence.config import get_settings

    settings = get_settings()
    if kind == "kpis":
        start, end = date.fromisoformat(planned["alert_start"]), date.fromisoformat(planned["alert_end"])
        outcome = kpi_outcome(warehouse_hook(settings), start, end)
    elif kind == "health":
        outcome = health_outcome(
            warehouse_hook(settings), datetime.fromisoformat(planned["health_reference"])
        )
    else:
        raise ValueError(f"unknown check kind {kind!r}: use 'kpis' or 'health'")
    channels = report(outcome, settings)
    if outcome.errors:
        raise AirflowFailException(f"{outcome.title}\n{outcome.message()}")
    return {**severity_counts(outcome), "notified": channels}

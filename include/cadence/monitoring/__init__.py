"""Monitoring of the daily KPIs: KPI anomaly rules, pipeline health over the run log, and notifications.

- :mod:`rules`: the KPI rules YAML, validated and rendered as the dbt var of ``ops.kpi_anomalies``;
- :mod:`daily`: what a daily_kpis run works on (its days, the dbt vars) and its run-log record;
- :mod:`alerts`: reading a monitor's verdicts, logging, notifying, failing on error severity;
- :mod:`notifier`: :class:`~cadence.monitoring.notifier.CadenceNotifier` (log, Slack, SMTP);
- :mod:`dbt` and :mod:`cli`: ``cadence-monitor`` (``--dry-run`` renders the SQL).

Importing the package (or the DAG file) imports neither Airflow nor dbt; the modules do so lazily.
"""

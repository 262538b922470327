"""Publish the dashboard tables from the warehouse into the lake, as one JSON file per table.

Every query is standard SQL over the dbt models (DuckDB locally, BigQuery in production, through the
warehouse connection's ``common.sql`` hook), aggregated to what the page charts, so the files stay small.
A table whose model has not been built yet publishes as empty: the page says so instead of failing.
"""

from __future__ import annotations

import json
import logging
import math
from datetime import UTC, date, datetime
from decimal import Decimal

from cadence.config import Settings

log = logging.getLogger(__name__)

FOLDER = "dashboard"
MANIFEST = "manifest.json"

#: name -> SQL. ``{since}`` is the first day published (``DashboardSettings.history_days`` back).
QUERIES: dict[str, str] = {
    "daily_kpis": """
        select kpi_date, country, platform, dau, new_installs, revenue_usd, arpdau, paying_users,
               retention_d1, retention_d7, retained_d1, retained_d7
        from kpis.daily_kpis
        where kpi_date >= cast('{since}' as date)
        order by kpi_date, country, platform
    """,
    "kpi_anomalies": """
        select kpi_date, kpi, slice, rule, severity, value, baseline
        from ops.kpi_anomalies
        where is_anomaly and kpi_date >= cast('{since}' as date)
        order by kpi_date, kpi, slice, rule
    """,
    "gold_hourly": """
        select app_date, app_hour, country, sum(total_revenue_hourly) as revenue,
               sum(total_spins_hourly) as spins, count(distinct user_id) as users
        from gold.aggregated_final_table
        where app_date >= cast('{since}' as date)
        group by app_date, app_hour, country
        order by app_date, app_hour, country
    """,
    # CTR and CPI are the paid partners': organic installs have no impressions, clicks or spend.
    "mmp_ctr": """
        select period_start, partner, platform, country, impressions, clicks
        from mmp.mmp_ctr
        where grain = 'day' and period_start >= cast('{since}' as date) and partner != 'organic'
        order by period_start, partner, platform, country
    """,
    "mmp_cpi": """
        select period_start, partner, platform, country, total_spend_usd, installs
        from mmp.mmp_cpi
        where grain = 'day' and period_start >= cast('{since}' as date) and partner != 'organic'
        order by period_start, partner, platform, country
    """,
    "pipeline_health": """
        select job, check_name, status, value, threshold, window_end, severity, is_alert, checked_at
        from ops.pipeline_health
        where checked_at = (select max(checked_at) from ops.pipeline_health)
        order by job, check_name
    """,
}


def folder(settings: Settings):
    from cadence import lake

    return lake.root(settings) / FOLDER


def _plain(value):
    """A JSON value: dates as ISO strings, NaN/NaT as null, numpy scalars as Python numbers."""
    if value is None or (isinstance(value, float) and math.isnan(value)):
        return None
    if type(value).__name__ == "NaTType":
        return None
    if isinstance(value, datetime):
        return value.isoformat()
    if isinstance(value, date):
        return value.isoformat()
    if isinstance(value, Decimal):
        return float(value)
    if hasattr(value, "item"):  # numpy scalar
        return _plain(value.item())
    return value


def query_tables(hook, since: date) -> dict[str, list[dict]]:
    """Run every dashboard query; a model not built yet gives an empty table (and a log line)."""
    tables: dict[str, list[dict]] = {}
    for name, sql in QUERIES.items():
        try:
            columns, rows = hook.run(
                sql.format(since=since.isoformat()),
                handler=lambda cursor: ([c[0] for c in cursor.description], cursor.fetchall()),
            )
        except Exception as error:
            if "does not exist" not in str(error) and "not found" not in str(error).lower():
                raise
            log.info("dashboard table %s is empty: %s", name, str(error).splitlines()[0])
            tables[name] = []
            continue
        tables[name] = [{k: _plain(v) for k, v in zip(columns, row, strict=True)} for row in rows]
    return tables


def publish(settings: Settings, hook=None, now: datetime | None = None) -> dict:
    """Query the dashboard tables and write them, then the manifest (last, so readers see whole sets)."""
    from datetime import timedelta

    from cadence import lake
    from cadence.monitoring.alerts import warehouse_hook

    now = now or datetime.now(UTC)
    since = (now - timedelta(days=settings.dashboard.history_days)).date()
    tables = query_tables(hook or warehouse_hook(settings), since)
    target = folder(settings)
    for name, rows in tables.items():
        payload = json.dumps(rows, default=_plain, allow_nan=False).encode()
        lake.write_atomic(target / f"{name}.json", payload)
    manifest = {"published_at": now.isoformat(), "since": since.isoformat()}
    manifest["rows"] = {name: len(rows) for name, rows in tables.items()}
    lake.write_json(target / MANIFEST, manifest)
    log.info("dashboard snapshot published to %s: %s", target, manifest["rows"])
    return manifest


def read(settings: Settings) -> tuple[dict, dict[str, list[dict]]]:
    """The published manifest and tables (empty ones when nothing was published yet)."""
    source = folder(settings)
    manifest_path = source / MANIFEST
    if not manifest_path.exists():
        return {}, {name: [] for name in QUERIES}
    manifest = json.loads(manifest_path.read_text())
    tables = {}
    for name in QUERIES:
        path = source / f"{name}.json"
        tables[name] = json.loads(path.read_text()) if path.exists() else []
    return manifest, tables

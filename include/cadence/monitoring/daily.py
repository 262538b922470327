"""What one run of the daily_kpis DAG works on: its days, and the dbt vars of the KPI and monitoring models.

A scheduled run's own days are its data interval (one UTC day); it recomputes those days and the
``trailing_days`` before them, so late data settles. A backfill recomputes exactly its range (whole days).
Before building, a run waits (up to ``gold_wait``) until gold has been built up to the end of its days,
so a day is not first computed from a half-built gold; after that it builds anyway and its run-log
record says so (the trailing recomputation settles it later). Pipeline health is checked as of the
run's start (a scheduled run starts at its data interval end), with the quarantine share over the day
before.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta

from cadence.config import Settings
from cadence.lake import Window
from cadence.planning import DBT_TIME, RunContext, plain_utc, plan_run
from cadence.runlog import RunRecord

log = logging.getLogger(__name__)

DAY = timedelta(days=1)
JOB = "daily_kpis"  # the run-log job name of this DAG
KPI_VARS = ("kpi_rules",)
HEALTH_VARS = ("health_jobs",)
HEALTH_RUN_VALUES = ("health_reference", "health_since")  # per run: dbt reads them from the environment


def _midnight(day: date) -> datetime:
    return datetime.combine(day, time(0), tzinfo=UTC)


def whole_days(window: Window) -> Window:
    """The smallest window of whole UTC days covering ``window``."""
    start = _midnight(window.start.astimezone(UTC).date())
    end = _midnight(window.end.astimezone(UTC).date())
    return Window(start, end if end == window.end else end + DAY)


def health_vars(settings: Settings, since: datetime, reference: datetime) -> dict:
    """dbt vars of ops.pipeline_health: the expected jobs and the check time."""
    monitoring = settings.monitoring
    jobs = [
        {
            "job": job,
            "stale_after_seconds": int(cadence.total_seconds() * monitoring.health_tolerance),
            "max_quarantine_share": monitoring.max_quarantine_share,
            "quarantine_severity": monitoring.quarantine_severity,
        }
        for job, cadence in sorted(monitoring.job_cadences.items())
    ]
    return {
        "health_jobs": jobs,
        "health_reference": f"{reference.astimezone(UTC):{DBT_TIME}}",
        "health_since": f"{since.astimezone(UTC):{DBT_TIME}}",
    }


def kpi_vars(settings: Settings) -> dict:
    from cadence.monitoring.rules import load_rules, to_dbt

    return {"kpi_rules": to_dbt(load_rules(settings.monitoring.kpi_rules_path))}


@dataclass(frozen=True)
class DailyPlan:
    days: Window  # the run's own days: anomalies that became known on them are alerted
    recompute: Window  # the days whose panel is recomputed (days + trailing days)
    check_at: datetime  # pipeline health as of this time, quarantine share over the day before
    is_backfill: bool
    is_full_refresh: bool
    dry_run: bool

    def as_xcom(self, settings: Settings) -> dict:
        return {
            "window_start": f"{self.recompute.start:{DBT_TIME}}",
            "window_end": f"{self.recompute.end:{DBT_TIME}}",
            "alert_start": self.days.start.date().isoformat(),
            "alert_end": self.days.end.date().isoformat(),
            "is_backfill": self.is_backfill,
            "is_full_refresh": self.is_full_refresh,
            "dry_run": self.dry_run,
            **kpi_vars(settings),
            **health_vars(settings, self.check_at - DAY, self.check_at),
        }


def plan_daily(
    params: dict,
    data_interval_start: datetime,
    data_interval_end: datetime,
    settings: Settings,
    now: datetime | None = None,
    run_after: datetime | None = None,
) -> DailyPlan:
    """Validate the trigger conf (like every cadence) and turn it into the run's days."""
    plan = plan_run(params, data_interval_start, data_interval_end, settings.daily_kpis, settings, now)
    days = whole_days(plan.window)
    trailing = timedelta(0) if plan.is_backfill else timedelta(days=settings.daily_kpis.trailing_days)
    return DailyPlan(
        days=days,
        recompute=Window(days.start - trailing, days.end),
        check_at=plain_utc(run_after or data_interval_end).replace(microsecond=0),
        is_backfill=plan.is_backfill,
        is_full_refresh=plan.is_full_refresh,
        dry_run=bool(params.get("dry_run")),
    )


def plan_for_run(run: RunContext) -> dict:
    """The plan task body: the XCom every later task and dbt group reads."""
    from cadence.config import get_settings

    settings = get_settings()
    plan = plan_daily(run.params, *run.interval(settings.daily_kpis), settings, run_after=_run_started(run))
    return plan.as_xcom(settings)


def _run_started(run: RunContext) -> datetime:
    return run.started_at or run.run_after


def newest_window_end(settings: Settings, job: str) -> datetime | None:
    """End of the newest successful run-log window of ``job`` (None: it never ran)."""
    import json

    from cadence import lake

    folder = lake.root(settings) / "ops" / "run_log" / job
    if not folder.exists():
        return None
    for partition in sorted((p for p in folder.iterdir() if p.name.startswith("dt=")), reverse=True):
        ends = []
        for path in lake.landed_files(partition, ".json"):
            record = json.loads(path.read_text())
            if record.get("status") == "success":
                ends.append(datetime.fromisoformat(record["window_end"]).astimezone(UTC))
        if ends:
            return max(ends)
    return None


def gold_ready(planned: dict, run: RunContext):
    """The gold gate: done once gold covers the run's days, or once the run has waited ``gold_wait``."""
    from airflow.sdk import PokeReturnValue

    from cadence.config import get_settings

    settings = get_settings()
    needed = datetime.fromisoformat(planned["alert_end"]).replace(tzinfo=UTC)
    newest = newest_window_end(settings, "gold")
    if newest is not None and newest >= needed:
        return PokeReturnValue(True, {"gold_covers_days": True, "gold_until": newest.isoformat()})
    started = _run_started(run) or datetime.now(UTC)
    waited = datetime.now(UTC) - plain_utc(started)
    note = f"gold is built up to {newest or 'never'}, the run's days end {needed}"
    if waited < settings.daily_kpis.gold_wait:
        log.info("waiting for gold (%s of %s): %s", waited, settings.daily_kpis.gold_wait, note)
        return PokeReturnValue(False)
    log.warning("building on stale gold after waiting %s: %s", settings.daily_kpis.gold_wait, note)
    return PokeReturnValue(True, {"gold_covers_days": False, "gold_until": newest and newest.isoformat()})


def record_run(planned: dict, gold: dict | None, status: str, run_id: str) -> dict:
    """One run-log record for this run's days (job ``daily_kpis``), like every other job writes; ``gold``
    is what the gold wait found (None if it did not finish)."""
    from cadence.config import get_settings

    window = Window(
        datetime.fromisoformat(planned["alert_start"]).replace(tzinfo=UTC),
        datetime.fromisoformat(planned["alert_end"]).replace(tzinfo=UTC),
    )
    record = RunRecord(
        JOB,
        window.start,
        window.end,
        status=status,
        run_id=run_id,
        started_at=datetime.now(UTC),
        details={
            "recomputed_from": planned["window_start"],
            "is_backfill": planned["is_backfill"],
            **(gold or {}),
        },
    )
    return record.write(get_settings())


def render_for_run(planned: dict) -> dict:
    """The dry-run task body: log the SQL of both monitors for this run's days; skip on a real run."""
    from airflow.sdk.exceptions import AirflowSkipException

    from cadence.config import get_settings
    from cadence.monitoring import dbt as monitoring_dbt

    if not planned["dry_run"]:
        raise AirflowSkipException("not a dry run: the monitors run for real")
    settings = get_settings()
    rendered = {}
    for model, names in (("kpi_anomalies", KPI_VARS), ("pipeline_health", HEALTH_VARS + HEALTH_RUN_VALUES)):
        dbt_vars = {key: planned[key] for key in ("window_start", "window_end", *names)}
        sql = monitoring_dbt.render(settings, model, dbt_vars)
        log.info("dry run: %s would run\n%s", model, sql)
        rendered[model] = len(sql)
    return rendered

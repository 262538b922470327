"""KPI anomaly and pipeline-health monitoring: the rules config, the notifier, and the real dbt models run
through ``cadence-monitor`` against small, hand-made inputs (a daily_kpis table, run-log
records written with the pipeline's own writer). Slack and SMTP are the only things mocked.
"""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta

import pandas as pd
import pytest

from tests.support.data import warehouse_query

CHECK_AT = datetime(2026, 3, 10, tzinfo=UTC)
DAY = timedelta(days=1)
DAYS = [date(2026, 3, 1) + timedelta(days=n) for n in range(9)]  # 2026-03-01 .. 2026-03-09
OUTAGE = date(2026, 3, 4)


def monitoring_cli(*argv: str) -> int:
    from cadence.monitoring.cli import main

    return main(list(argv))


def rules_file(tmp_path, severity: str = "error") -> str:
    path = tmp_path / "rules.yaml"
    path.write_text(
        "kpis:\n"
        f"  revenue_usd: {{day_over_day_pct: 50, zscore: {{baseline_days: 5, min_baseline_days: 3}},"
        f" min_volume: 100, severity: {severity}}}\n"
        "  arppu: {day_over_day_pct: 50, min_volume: 0, severity: warn}\n"
        "  dau: {day_over_day_pct: 25, min_volume: 1000, severity: error}\n"
    )
    return str(path)


def write_daily_kpis(settings, revenue: dict[date, float]) -> None:
    """A kpis.daily_kpis table as the daily DAG builds it: 500 DAU, 100 payers, the given revenue."""
    import duckdb

    frame = pd.DataFrame(
        {
            "kpi_date": DAYS,
            "slice": "all",
            "country": "all",
            "platform": "all",
            "dau": 500,
            "new_installs": 20,
            "paying_users": [0 if revenue[d] == 0 else 100 for d in DAYS],
            "retained_d1": 8,
            "retained_d7": 5,
            "revenue_usd": [revenue[d] for d in DAYS],
            "total_spins": 14_000.0,
        }
    )
    frame["arpdau"] = frame["revenue_usd"] / frame["dau"]
    frame["arppu"] = frame["revenue_usd"] / frame["paying_users"].replace(0, float("nan"))
    frame["spins_per_dau"] = frame["total_spins"] / frame["dau"]
    frame["retention_d1"] = 0.4
    frame["retention_d7"] = 0.25
    settings.duckdb_path.parent.mkdir(parents=True, exist_ok=True)
    with duckdb.connect(str(settings.duckdb_path)) as connection:
        connection.execute("create schema if not exists kpis")
        connection.execute(
            "create or replace table kpis.daily_kpis as select * replace "
            "(cast(revenue_usd as decimal(18, 2)) as revenue_usd) from frame"
        )


# ---------------------------------------------------------------- rules config


# ---------------------------------------------------------------- notifier


# ---------------------------------------------------------------- KPI anomalies through the dbt model


def test_a_zero_previous_day_is_handled_and_warnings_notify_without_failing(cadence_env, tmp_path, slack):
    revenue = {d: 5000.0 + 37 * (i % 3) for i, d in enumerate(DAYS)} | {OUTAGE: 0.0}
    write_daily_kpis(cadence_env, revenue)

    after_outage = OUTAGE + timedelta(days=1)
    assert monitoring_cli("kpis", "--day", str(after_outage), "--rules", rules_file(tmp_path)) == 0
    rows = warehouse_query(
        cadence_env,
        "select kpi_date, kpi, rule, status, change, baseline from ops.kpi_anomalies order by 1, 2, 3",
    )
    rows["kpi_date"] = rows["kpi_date"].dt.date
    day = rows.set_index(["kpi_date", "kpi", "rule"])
    assert day.loc[(after_outage, "revenue_usd", "day_over_day"), "status"] == "zero_baseline"
    assert pd.isna(day.loc[(after_outage, "revenue_usd", "day_over_day"), "change"])
    assert day.loc[(after_outage, "arppu", "day_over_day"), "status"] == "no_baseline"  # NULL before
    assert day.loc[(OUTAGE, "arppu", "day_over_day"), "status"] == "no_value"  # 0 / 0 payers
    assert day.loc[(OUTAGE, "revenue_usd", "day_over_day"), "status"] == "anomaly"
    assert day.loc[(OUTAGE, "revenue_usd", "day_over_day"), "change"] == pytest.approx(-100)
    assert day.loc[(OUTAGE, "revenue_usd", "zscore"), "status"] == "anomaly"  # 3 days of baseline
    assert day.loc[(OUTAGE, "dau", "day_over_day"), "status"] == "low_volume"  # 500 < min_volume 1000
    assert set(rows["kpi_date"]) == set(DAYS[: DAYS.index(after_outage) + 1])  # the day and 7 before
    assert slack == []  # nothing alerted for the day after the outage

    assert monitoring_cli("kpis", "--day", str(OUTAGE), "--rules", rules_file(tmp_path, "warn")) == 0
    assert len(slack) == 1 and f"{OUTAGE} revenue_usd [all] day_over_day" in slack[0]

    assert monitoring_cli("kpis", "--day", str(OUTAGE), "--rules", rules_file(tmp_path, "error")) == 1
    assert len(slack) == 2 and slack[1].startswith("*[cadence ERROR] KPI anomalies 2026-03-04: 2 error(s)")


def test_dry_run_renders_the_sql_and_touches_no_warehouse(cadence_env, tmp_path, capsys):
    assert monitoring_cli("kpis", "--day", "2026-03-05", "--dry-run", "--rules", rules_file(tmp_path)) == 0
    sql = capsys.readouterr().out
    assert sql.count(" as (") >= 6 and "-- revenue_usd: zscore on slices all, severity error" in sql
    assert "current_day.kpi_date >= cast('2026-02-26' as date)" in sql  # retention horizon before the day
    assert "stddev_samp(" in sql and '"kpis"."daily_kpis"' in sql
    assert monitoring_cli("health", "--at", "2026-03-10T00:00:00Z", "--dry-run") == 0
    sql = capsys.readouterr().out
    assert "'spins_hourly' as job" in sql and "10800 as stale_after_seconds" in sql
    assert not cadence_env.duckdb_path.exists()


# ---------------------------------------------------------------- pipeline health through the dbt model


def write_run_log(settings, job: str, end: datetime, *, hours: int, status: str = "success", **counts):
    """``hours`` hourly run-log records ending at ``end``, written by the pipeline's own writer."""
    from cadence.lake import Window
    from cadence.runlog import RunRecord

    for n in range(hours, 0, -1):
        window = Window(end - timedelta(hours=n), end - timedelta(hours=n - 1))
        record = RunRecord.landing(job, window, status=status)
        for key, value in counts.items():
            setattr(record, key, value)
        record.write(settings)


def test_a_stopped_job_a_failed_run_and_a_never_run_job_are_reported(cadence_env, slack, monkeypatch):
    from dbt.cli.main import dbtRunner

    settings = cadence_env
    calls: list[list[str]] = []
    invoke = dbtRunner.invoke
    monkeypatch.setattr(
        dbtRunner, "invoke", lambda self, args, **kw: calls.append(args) or invoke(self, args, **kw)
    )
    assert monitoring_cli("health", "--at", CHECK_AT.isoformat()) == 1  # no run log at all yet
    health = warehouse_query(settings, "select job, check_name, status from ops.pipeline_health")
    freshness = health[health["check_name"] == "freshness"].set_index("job")["status"]
    assert set(freshness.index) == {
        "gold",
        "purchases",
        "purchases_silver",
        "spins_hourly",
        "spins_hourly_silver",
    }
    assert set(freshness.values) == {"never_ran"}

    stopped = CHECK_AT - timedelta(hours=12)
    write_run_log(settings, "purchases", stopped, hours=6, rows_extracted=50, rows_valid=50, rows_landed=50)
    write_run_log(settings, "spins_hourly", CHECK_AT - timedelta(hours=1), hours=20, rows_extracted=100)
    write_run_log(settings, "spins_hourly", CHECK_AT, hours=1, status="failed", rows_extracted=100)
    write_run_log(settings, "spins_hourly", CHECK_AT + timedelta(hours=5), hours=1)  # after the check time
    for path in (settings.data_dir / "lake/ops/run_log/spins_hourly").rglob("*.json"):  # 10% quarantined
        path.write_text(path.read_text().replace('"rows_quarantined": 0', '"rows_quarantined": 10'))

    from cadence.monitoring.daily import newest_window_end

    assert newest_window_end(settings, "purchases") == stopped  # what the daily DAG's gold gate reads
    assert newest_window_end(settings, "spins_hourly") == CHECK_AT + timedelta(hours=5)
    assert newest_window_end(settings, "gold") is None

    assert monitoring_cli("health", "--at", CHECK_AT.isoformat()) == 1
    health = warehouse_query(
        settings,
        f"select job, check_name, status, value, severity from ops.pipeline_health "
        f"where checked_at = '{CHECK_AT:%Y-%m-%d %H:%M:%S}'",
    ).set_index(["job", "check_name"])
    assert health.loc[("purchases", "freshness"), "status"] == "stale"
    assert health.loc[("purchases", "freshness"), "value"] == 12 * 3600
    assert health.loc[("gold", "freshness"), "status"] == "never_ran"
    assert health.loc[("spins_hourly", "freshness"), "status"] == "ok"  # newest success 1 h ago
    assert health.loc[("spins_hourly", "last_run"), "status"] == "last_run_failed"
    assert health.loc[("spins_hourly", "quarantine"), "status"] == "over_limit"
    assert health.loc[("spins_hourly", "quarantine"), "value"] == pytest.approx(0.1)
    assert health.loc[("spins_hourly", "quarantine"), "severity"] == "warn"
    assert health.loc[("purchases", "quarantine"), "status"] == "ok"  # 0 of 300 rows since 03-09 00:00
    assert health.loc[("purchases", "quarantine"), "value"] == 0
    assert health.loc[("purchases", "last_run"), "status"] == "ok"
    message = slack[-1]
    assert message.startswith("*[cadence ERROR] pipeline health as of 2026-03-10 00:00:00 UTC: 5 error(s), 1")
    for text in ("purchases freshness: stale", "gold freshness: never_ran", "last_run: last_run_failed"):
        assert text in message
    # a build of one model, like a Cosmos task: no artifacts written, no relation cache filled up front
    assert len(calls) == 2 and all({"--no-write-json", "--no-populate-cache"} <= set(args) for args in calls)

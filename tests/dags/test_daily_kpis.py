"""Real dag.test() runs of the daily_kpis DAG over 16 simulated days with a planted revenue spike.

The source is seeded once for the module (purchases + spins, 2026-02-22 .. 2026-03-10, purchase rate x3 on
2026-03-08), landed through cadence.ingest and built into silver/gold with one dbt build; then the DAG
backfills every day. Expected KPIs come from an independent pandas reading of the source database.
"""

from __future__ import annotations

import json
import logging
from datetime import UTC, date, datetime, timedelta
from decimal import Decimal

import numpy as np
import pandas as pd
import pytest

from tests.support.dags import run_dag, task_states
from tests.support.data import source_frame, warehouse_query
from tests.support.environment import data_environment

START = datetime(2026, 2, 22, tzinfo=UTC)
UNTIL = datetime(2026, 3, 10, tzinfo=UTC)  # extraction and seeding end: the data of 16 whole days
SPIKE = date(2026, 3, 8)
NORMAL_WEEK = [SPIKE - timedelta(days=n) for n in range(7, 0, -1)]  # 2026-03-01 .. 2026-03-07
BACKFILL = {"backfill_start": START.isoformat(), "backfill_end": UNTIL.isoformat()}
ALLOWED_COUNTRIES = {"US", "GB", "DE", "FR", "BR", "JP", "IN", "CA", "AU", "MX"}
TS_FORMAT = "%Y-%m-%dT%H:%M:%SZ"
KPI_TABLES = {
    "kpis.daily_user_panel": "activity_date, user_id",
    "kpis.installs": "user_id",
    "kpis.last_activity": "user_id",
    "kpis.daily_kpis": "kpi_date, slice",
    "ops.kpi_anomalies": "kpi_date, kpi, slice, rule",
    "ops.pipeline_health": "checked_at, job, check_name",
}


# ---------------------------------------------------------------- the pipeline, once for the module


def run_daily_kpis(logical_date: datetime, conf: dict | None = None):
    """One dag.test() run of a freshly parsed daily_kpis DAG; run_after: when the scheduled run of this
    interval starts (the pipeline-health check time)."""
    return run_dag("daily_kpis", logical_date, conf, keep_other_runs=True, run_after=logical_date)


class _Collect(logging.Handler):
    def __init__(self):
        super().__init__()
        self.messages: list[str] = []

    def emit(self, record):
        self.messages.append(record.getMessage())


@pytest.fixture(scope="module")
def pipeline(airflow_db, tmp_path_factory):
    """16 days of both streams with a 3x purchase day, silver/gold built, the DAG's backfill run done."""
    from airflow.providers.slack.hooks.slack_webhook import SlackWebhookHook
    from cadence import ingest, sources
    from cadence.config import get_settings
    from cadence.lake import Window
    from cadence.monitoring import dbt as monitoring_dbt
    from cadence.simulator import source

    data = tmp_path_factory.mktemp("daily_kpis") / "data"
    data.mkdir()
    slack: list[str] = []
    log_lines = _Collect()
    with pytest.MonkeyPatch.context() as patch:
        for name, value in data_environment(data).items():
            patch.setenv(name, value)
        patch.setenv("CADENCE_SIMULATOR__SPIKE_DAY", SPIKE.isoformat())
        patch.setenv("CADENCE_DAILY_KPIS__RETRIES", "0")
        patch.setenv("CADENCE_MONITORING__SLACK_CONN_ID", "cadence_slack")
        # Slack is the one thing mocked: the notifier's webhook call is recorded instead of sent.
        patch.setattr(SlackWebhookHook, "send", lambda self, **kwargs: slack.append(kwargs["text"]))
        logging.getLogger("cadence.monitoring").addHandler(log_lines)
        settings = get_settings()

        hook = sources.source_hook(settings)
        for stream in ("purchases", "spins_hourly"):  # one tick: the same rows as a day-by-day seed
            source.start(hook, stream, START)
            source.tick(hook, settings, stream, UNTIL)
            spec = sources.get_spec(stream, settings)
            for window in (
                Window(START, UNTIL - timedelta(days=1)),
                Window(UNTIL - timedelta(days=1), UNTIL),
            ):
                ingest.ingest(settings, spec, window, lookback=timedelta(0), chunk=window.end - window.start)
        monitoring_dbt.invoke(settings, "build", "tag:purchases tag:spins tag:gold", {}, scratch=False)

        backfill = run_daily_kpis(UNTIL, conf=BACKFILL)
        yield {"settings": settings, "backfill": backfill, "slack": slack, "log": log_lines.messages}
        logging.getLogger("cadence.monitoring").removeHandler(log_lines)


# ---------------------------------------------------------------- the independent pandas computation


def _ts(values: pd.Series) -> pd.Series:
    return pd.to_datetime(values, format=TS_FORMAT, errors="coerce")


def valid_purchases(settings) -> pd.DataFrame:
    """Latest valid version of every purchase extracted before UNTIL (the validation rules, re-stated)."""
    source = source_frame(settings, "purchases")
    source = source[source["updated_at"] < f"{UNTIL:{TS_FORMAT}}"]
    purchased = _ts(source["purchased_at"])
    valid = source[
        source.drop(columns="purchased_at").notna().all(axis=1)
        & purchased.notna()
        & _ts(source["created_at"]).notna()
        & source["revenue_usd"].between(0, 500)
        & source["country"].isin(ALLOWED_COUNTRIES)
        & source["platform"].isin(["ios", "android"])
        & source["status"].isin(["completed", "refunded"])
    ].assign(purchased_at=purchased)
    latest = valid.sort_values("updated_at", kind="stable").groupby("transaction_id").tail(1)
    return latest.assign(activity_date=latest["purchased_at"].dt.date)


def valid_spins(settings) -> pd.DataFrame:
    source = source_frame(settings, "spins_hourly")
    source = source[source["updated_at"] < f"{UNTIL:{TS_FORMAT}}"]
    hour = _ts(source["app_hour"])
    valid = source[
        source.notna().all(axis=1)
        & hour.notna()
        & (hour == hour.dt.floor("h"))
        & (source[["total_spins", "coins_bet", "coins_won"]] >= 0).all(axis=1)
        & source["country"].isin(ALLOWED_COUNTRIES)
    ].assign(app_hour=hour)
    latest = (
        valid.sort_values("updated_at", kind="stable").groupby(["app_hour", "user_id", "country"]).tail(1)
    )
    return latest.assign(activity_date=latest["app_hour"].dt.date)


def expected_panel(settings) -> pd.DataFrame:
    """One row per user-day with spins or any purchase; country with most events, platform as of then."""
    purchases, spins = valid_purchases(settings), valid_spins(settings)
    completed = purchases["status"] == "completed"
    cents = purchases["revenue_usd"].map(lambda v: Decimal(f"{v:.2f}")).where(completed, Decimal("0.00"))
    bought = purchases.assign(
        purchases=completed.astype(int), revenue=cents, spins=0.0, coins_won=0, coins_bet=0
    )
    played = spins.assign(purchases=0, revenue=Decimal("0.00"), spins=spins["total_spins"])
    rows = pd.concat([bought, played], ignore_index=True)
    key = ["activity_date", "user_id"]
    by_country = rows.groupby([*key, "country"], as_index=False).agg(
        spins=("spins", "sum"), buys=("purchases", "sum")
    )
    by_country["events"] = by_country["spins"] + by_country["buys"]
    country = (
        by_country.sort_values([*key, "events", "country"], ascending=[True, True, False, True])
        .groupby(key)
        .head(1)[[*key, "country"]]
    )
    panel = rows.groupby(key, as_index=False).agg(
        total_spins=("spins", "sum"),
        total_purchases=("purchases", "sum"),
        total_coins_bet=("coins_bet", "sum"),
        total_coins_added=("coins_won", "sum"),
        revenue_usd=("revenue", "sum"),
    )
    panel["total_events"] = panel["total_spins"] + panel["total_purchases"]
    panel = panel.merge(country, on=key)
    # platform: the user's latest purchase (by time, then transaction id) made before the day ends
    day_end = pd.to_datetime(panel["activity_date"]) + pd.Timedelta(days=1)
    history = purchases.assign(purchased_at=purchases["purchased_at"].astype("datetime64[ns]"))
    history = history.sort_values(["purchased_at", "transaction_id"], kind="stable")
    panel = pd.merge_asof(
        panel.assign(day_end=day_end.astype("datetime64[ns]")).sort_values("day_end"),
        history[["user_id", "purchased_at", "platform"]],
        left_on="day_end",
        right_on="purchased_at",
        by="user_id",
        allow_exact_matches=False,
    )
    return panel.assign(platform=panel["platform"].fillna("unknown"))


def expected_kpis(panel: pd.DataFrame, complete_before: date) -> pd.DataFrame:
    installs = panel.groupby("user_id")["activity_date"].min().rename("install_date")
    panel = panel.join(installs, on="user_id")
    panel["is_new"] = (panel["activity_date"] == panel["install_date"]).astype(int)
    active = set(zip(panel["user_id"], panel["activity_date"], strict=True))
    for n in (1, 7):
        panel[f"retained_d{n}"] = [
            int(is_new and (user, day + timedelta(days=n)) in active)
            for user, day, is_new in zip(
                panel["user_id"], panel["activity_date"], panel["is_new"], strict=True
            )
        ]
    overall = panel.assign(slice="all")
    segments = panel.assign(slice=panel["country"] + "/" + panel["platform"])
    frame = pd.concat([overall, segments]).groupby(["activity_date", "slice"], as_index=False)
    kpis = frame.agg(
        dau=("user_id", "count"),
        new_installs=("is_new", "sum"),
        paying_users=("total_purchases", lambda s: int((s > 0).sum())),
        revenue_usd=("revenue_usd", "sum"),
        total_spins=("total_spins", "sum"),
        retained_d1=("retained_d1", "sum"),
        retained_d7=("retained_d7", "sum"),
    ).rename(columns={"activity_date": "kpi_date"})
    kpis["arpdau"] = kpis["revenue_usd"].astype(float) / kpis["dau"]
    kpis["arppu"] = kpis["revenue_usd"].astype(float) / kpis["paying_users"].replace(0, np.nan)
    kpis["spins_per_dau"] = kpis["total_spins"] / kpis["dau"]
    for n in (1, 7):
        known = kpis["kpi_date"] + timedelta(days=n) < complete_before
        ratio = kpis[f"retained_d{n}"] / kpis["new_installs"].replace(0, np.nan)
        kpis[f"retention_d{n}"] = ratio.where(known)
        kpis[f"retained_d{n}"] = kpis[f"retained_d{n}"].where(known).astype("Int64")  # NULL until complete
    return kpis.sort_values(["kpi_date", "slice"], ignore_index=True)


def table(settings, name: str) -> pd.DataFrame:
    return warehouse_query(settings, f"select * from {name} order by {KPI_TABLES[name]}")


# ---------------------------------------------------------------- tests


def test_kpi_tables_equal_an_independent_pandas_computation(pipeline):
    settings = pipeline["settings"]
    panel = expected_panel(settings)
    days = sorted(panel["activity_date"].unique())
    assert len(days) == 16 and days[0] == START.date()

    actual_panel = table(settings, "kpis.daily_user_panel")
    actual_panel["activity_date"] = actual_panel["activity_date"].dt.date
    columns = [
        "activity_date", "user_id", "country", "platform", "total_spins", "total_purchases",
        "total_events", "total_coins_bet", "total_coins_added", "revenue_usd",
    ]  # fmt: skip
    expected_panel_ = panel[columns].sort_values(["activity_date", "user_id"], ignore_index=True)
    expected_panel_["revenue_usd"] = expected_panel_["revenue_usd"].astype(float)  # exact cents, as DuckDB's
    assert len(actual_panel) > 10_000
    pd.testing.assert_frame_equal(actual_panel[columns], expected_panel_, check_dtype=False)

    installs = table(settings, "kpis.installs")
    expected_installs = panel.groupby("user_id", as_index=False)["activity_date"].min()
    assert installs["install_date"].dt.date.tolist() == expected_installs["activity_date"].tolist()
    assert installs["user_id"].tolist() == expected_installs["user_id"].tolist()
    last = table(settings, "kpis.last_activity")
    expected_last = panel.groupby("user_id", as_index=False)["activity_date"].max()
    assert last["last_activity"].dt.date.tolist() == expected_last["activity_date"].tolist()

    actual = table(settings, "kpis.daily_kpis")
    actual["kpi_date"] = actual["kpi_date"].dt.date
    from cadence.monitoring.rules import KPIS  # every watchable KPI and its volume is a real column

    assert {*KPIS, *(kpi.volume for kpi in KPIS.values())} <= set(actual.columns)
    expected = expected_kpis(panel, UNTIL.date())
    expected["revenue_usd"] = expected["revenue_usd"].astype(float)
    assert set(actual["slice"]) > {"all", "US/ios", "US/android", "US/unknown"}
    pd.testing.assert_frame_equal(
        actual[expected.columns].reset_index(drop=True), expected, check_dtype=False, rtol=1e-9
    )
    overall = actual[actual["slice"] == "all"].set_index("kpi_date")
    assert overall["retention_d7"].notna().sum() == 9  # cohorts 02-22 .. 03-02: day+7 before 03-10
    assert pd.isna(overall.loc[date(2026, 3, 9), "retention_d1"])  # 03-10 is not complete yet
    assert overall.loc[date(2026, 3, 8), "retention_d1"] > 0


def test_the_planted_spike_is_flagged_by_both_rules_and_fails_the_monitor(pipeline):
    settings, dag_run = pipeline["settings"], pipeline["backfill"]
    states = task_states(dag_run)
    assert dag_run.state == "failed"
    assert states["check_kpi_anomalies"] == "failed"  # revenue is error severity: red in the UI
    assert all(state == "success" for task, state in states.items() if task.startswith(("kpis.", "kpi_mon")))

    spike = warehouse_query(
        settings,
        f"select rule, status, value, baseline, change from ops.kpi_anomalies "
        f"where kpi = 'revenue_usd' and slice = 'all' and kpi_date = '{SPIKE}' order by rule",
    )
    assert spike["rule"].tolist() == ["day_over_day", "zscore"]
    assert spike["status"].tolist() == ["anomaly", "anomaly"]
    assert spike["value"][0] > 2.5 * spike["baseline"][0]  # the injected ~3x day
    assert spike["change"][1] > 3.5

    kpi_message = next(m for m in pipeline["slack"] if "KPI anomalies" in m)
    assert f"{SPIKE} revenue_usd [all] day_over_day" in kpi_message
    assert f"{SPIKE} revenue_usd [all] zscore" in kpi_message
    assert any(f"{SPIKE} revenue_usd [all] zscore" in line for line in pipeline["log"])  # the task log


def test_a_normal_week_flags_nothing(pipeline):
    settings = pipeline["settings"]
    week = warehouse_query(
        settings,
        f"select kpi_date, kpi, rule, status from ops.kpi_anomalies "
        f"where kpi_date between '{NORMAL_WEEK[0]}' and '{NORMAL_WEEK[-1]}' and slice = 'all'",
    )
    assert week[week["status"] == "anomaly"].empty, week[week["status"] == "anomaly"]
    # ... and the rules really were evaluated on every day, so the check above could have failed
    evaluated = week[(week["status"] == "ok") & week["kpi"].isin(["dau", "revenue_usd", "arppu"])]
    assert evaluated.groupby("kpi_date")["rule"].nunique().eq(2).all()
    assert sorted(evaluated["kpi_date"].dt.date.unique()) == NORMAL_WEEK


def test_pipeline_health_reports_the_job_that_never_ran(pipeline):
    settings, dag_run = pipeline["settings"], pipeline["backfill"]
    assert task_states(dag_run)["check_pipeline_health"] == "failed"
    health = warehouse_query(
        settings, "select job, check_name, status, value from ops.pipeline_health order by job, check_name"
    ).set_index(["job", "check_name"])
    assert health.loc[("gold", "freshness"), "status"] == "never_ran"  # only ingest ran in this setup
    assert health.loc[("purchases", "freshness"), "status"] == "ok"
    assert health.loc[("purchases", "freshness"), "value"] == 0
    last_day = settings.data_dir / "lake/ops/run_log/purchases/dt=2026-03-09"
    (record,) = [json.loads(path.read_text()) for path in last_day.glob("*.json")]  # (since, check time]
    share = record["rows_quarantined"] / record["rows_extracted"]
    assert health.loc[("purchases", "quarantine"), "value"] == pytest.approx(share)
    assert any("gold freshness: never_ran" in m for m in pipeline["slack"] + pipeline["log"])
    # the KPIs were built anyway (gold's wait is over long ago), and the run log says on what
    run_log = settings.data_dir / "lake/ops/run_log/daily_kpis/dt=2026-02-22"
    (own,) = [json.loads(path.read_text()) for path in run_log.glob("*.json")]
    assert own["status"] == "success" and own["gold_covers_days"] is False and own["gold_until"] is None


def test_rerunning_a_day_leaves_identical_tables(pipeline):
    settings = pipeline["settings"]
    before = {name: table(settings, name) for name in KPI_TABLES}
    rerun = run_daily_kpis(UNTIL)  # the scheduled run of 2026-03-09, which the backfill already covered
    states = task_states(rerun)
    assert all(state == "success" for task, state in states.items() if task.startswith("kpis."))
    assert states["check_kpi_anomalies"] == "failed"  # the spike is still inside its recomputed days
    for name, frame in before.items():
        assert len(frame), name
        pd.testing.assert_frame_equal(table(settings, name), frame, obj=name)
    record = settings.data_dir / "lake/ops/run_log/daily_kpis/dt=2026-03-09"
    assert [p.name for p in record.iterdir()] == ["daily_kpis_20260309T0000_20260310T0000.json"]


def test_a_dry_run_renders_the_monitoring_sql_and_changes_nothing(pipeline):
    settings = pipeline["settings"]
    before = {name: table(settings, name) for name in KPI_TABLES}
    dry = run_daily_kpis(UNTIL, conf={"dry_run": True})
    states = task_states(dry)
    assert dry.state == "success"
    assert states["plan"] == states["execute"] == states["render_monitoring_sql"] == "success"
    built = {
        task: state
        for task, state in states.items()
        if task not in ("plan", "execute", "render_monitoring_sql")
    }
    assert set(built.values()) == {"skipped"}, built
    rendered = [line for line in pipeline["log"] if line.startswith("dry run: ")]
    assert [line.split()[2] for line in rendered] == ["kpi_anomalies", "pipeline_health"]
    # the run's day with its 3 trailing days, and the 7 cohort days before them for retention
    assert "current_day.kpi_date >= cast('2026-02-27' as date)" in rendered[0]
    for name, frame in before.items():
        pd.testing.assert_frame_equal(table(settings, name), frame, obj=name)

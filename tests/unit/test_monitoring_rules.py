"""KPI monitoring without a warehouse: the rules config and its CLI check, the daily plan, the notifier."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

CHECK_AT = datetime(2026, 3, 10, tzinfo=UTC)


DAY = timedelta(days=1)


def monitoring_cli(*argv: str) -> int:
    from cadence.monitoring.cli import main

    return main(list(argv))


def test_the_packaged_rules_are_valid_and_render_one_dbt_rule_per_check():
    from cadence.monitoring.rules import KPIS, load_rules, to_dbt

    rules = load_rules()
    assert {"dau", "revenue_usd", "arpdau", "arppu", "retention_d1", "retention_d7"} <= set(rules.kpis)
    flat = to_dbt(rules)
    revenue = [r for r in flat if r["kpi"] == "revenue_usd"]
    assert [r["rule"] for r in revenue] == ["day_over_day", "zscore"]
    assert revenue[1]["baseline_days"] == 14 and revenue[1]["severity"] == "error"
    assert {r["kpi"] for r in flat} <= set(KPIS)
    retention = next(r for r in flat if r["kpi"] == "retention_d7")
    assert retention["matures_after_days"] == 7 and retention["volume"] == "new_installs"


@pytest.mark.parametrize(
    ("body", "message"),
    [
        ("kpis:\n  whales: {day_over_day_pct: 10}\n", "unknown KPI whales"),
        ("kpis:\n  dau: {min_volume: 10}\n", "kpis.dau: Value error, needs day_over_day_pct and/or zscore"),
        ("kpis:\n  dau: {day_over_day_pct: -5}\n", "kpis.dau.day_over_day_pct: Input should be greater"),
        ("kpis:\n  dau: {zscore: {threshold: 0}}\n", "kpis.dau.zscore.threshold"),
        ("kpis:\n  dau: {zscore: {baseline_days: 5, min_baseline_days: 9}}\n", "exceeds baseline_days 5"),
        ("kpis:\n  dau: {day_over_day_pct: 5, severity: page}\n", "kpis.dau.severity"),
        ("kpis: [dau]\n", "needs a 'kpis' mapping"),
        ("kpis: {dau: {day_over_day_pct: 5}\n", "is not valid YAML"),
    ],
)
def test_a_bad_rules_file_is_refused_naming_the_kpi_and_field(tmp_path, body, message):
    from cadence.monitoring.rules import RulesError, load_rules

    path = tmp_path / "rules.yaml"
    path.write_text(body)
    with pytest.raises(RulesError, match=message.replace("(", r"\(")) as error:
        load_rules(path)
    assert str(path) in str(error.value)


def test_the_cli_validates_the_rules_with_exit_code_2(tmp_path, capsys):
    path = tmp_path / "rules.yaml"
    path.write_text("kpis:\n  dau: {day_over_day_pct: 0}\n")
    assert monitoring_cli("rules", "--rules", str(path)) == 2
    assert "kpis.dau.day_over_day_pct" in capsys.readouterr().err


def test_trailing_days_and_the_daily_plan(monkeypatch):
    from cadence.config import ConfigError, load_settings
    from cadence.monitoring.daily import plan_daily
    from cadence.planning import RunConfError

    monkeypatch.setenv("CADENCE_DAILY_KPIS__TRAILING_DAYS", "5")
    settings = load_settings()
    assert settings.daily_kpis.lookback == timedelta(days=5)
    scheduled = plan_daily({}, CHECK_AT - timedelta(days=1), CHECK_AT, settings)
    assert (scheduled.days.start, scheduled.days.end) == (CHECK_AT - timedelta(days=1), CHECK_AT)
    assert scheduled.recompute.start == CHECK_AT - timedelta(days=6)
    backfill = plan_daily(
        {"backfill_start": "2026-02-03T06:00:00Z", "backfill_end": "2026-02-05T00:00:00Z"},
        CHECK_AT - timedelta(days=1),
        CHECK_AT,
        settings,
        now=CHECK_AT,
    )
    assert backfill.recompute == backfill.days  # exactly the range, in whole days
    assert (backfill.days.start.day, backfill.days.end.day) == (3, 5)
    assert backfill.check_at == CHECK_AT  # health as of the run's interval end when it has no run_after
    triggered = plan_daily({}, CHECK_AT - timedelta(days=1), CHECK_AT, settings, run_after=CHECK_AT + DAY / 2)
    assert triggered.check_at == CHECK_AT + DAY / 2  # a run triggered by hand: the pipeline as it is then
    assert triggered.as_xcom(settings)["health_since"] == "2026-03-09 12:00:00"
    with pytest.raises(RunConfError, match=r"backfill_end .* is not after backfill_start"):
        plan_daily(
            {"backfill_start": "2026-02-05T00:00:00Z", "backfill_end": "2026-02-03T00:00:00Z"},
            CHECK_AT - timedelta(days=1),
            CHECK_AT,
            settings,
        )
    monkeypatch.setenv("CADENCE_DAILY_KPIS__TRAILING_DAYS", "-1")
    with pytest.raises(ConfigError, match="CADENCE_DAILY_KPIS__TRAILING_DAYS"):
        load_settings()


def test_the_notifier_always_logs_and_uses_only_configured_channels(monkeypatch):
    import logging

    from airflow.providers.slack.hooks.slack_webhook import SlackWebhookHook
    from airflow.providers.smtp.hooks.smtp import SmtpHook
    from cadence.monitoring.notifier import CadenceNotifier

    slack, mails = [], []

    class FakeSmtp:
        def send_email_smtp(self, **kwargs):
            mails.append(kwargs)

    monkeypatch.setattr(SlackWebhookHook, "send", lambda self, **kwargs: slack.append(kwargs["text"]))
    monkeypatch.setattr(SmtpHook, "__enter__", lambda self: FakeSmtp())
    monkeypatch.setattr(SmtpHook, "__exit__", lambda self, *exc: None)

    logged = []
    handler = logging.Handler()
    handler.emit = lambda record: logged.append((record.levelname, record.getMessage()))
    logging.getLogger("cadence.monitoring.notifier").addHandler(handler)
    try:
        quiet = CadenceNotifier(title="t", message="dau dropped", severity="warn")
        assert quiet.notify({}) == ["log"]
    finally:
        logging.getLogger("cadence.monitoring.notifier").removeHandler(handler)
    assert logged == [("WARNING", "[cadence WARN] t\ndau dropped")]
    assert slack == [] and mails == []

    channels = {"slack_conn_id": "s", "smtp_conn_id": "m", "email_to": ["a@b.c"]}
    loud = CadenceNotifier(title="t", message="revenue", severity="error", **channels)
    assert loud.notify({}) == ["log", "slack", "email"]
    assert slack == ["*[cadence ERROR] t*\n```revenue```"]
    assert mails[0]["to"] == ["a@b.c"] and mails[0]["subject"] == "[cadence ERROR] t"
    no_recipients = CadenceNotifier(title="t", message="m", smtp_conn_id="m")
    assert no_recipients.notify({}) == ["log"]


def test_a_check_task_of_an_unknown_kind_is_refused():
    from cadence.monitoring.alerts import check_task

    with pytest.raises(ValueError, match="unknown check kind 'kpi': use 'kpis' or 'health'"):
        check_task("kpi", {"alert_start": "2026-03-01", "alert_end": "2026-03-02"})

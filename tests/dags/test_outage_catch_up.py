"""Outages of 1, 3 and 12 five-minute windows in `land` (source unreadable) and in silver (warehouse
unreachable), and a truncated bronze file, through real dag.test() runs of the purchases DAG.

After each outage every source row is in silver (checked against an independent pandas reading of the
source) and pipeline health (dbt ops.pipeline_health) is green, and only then: during the outage it alerts.
One timeline shares the runs (14 small runs, 13 health builds): about 3 minutes on an idle 2-core
machine, the price of six real outages.
"""

from __future__ import annotations

import json
from datetime import timedelta

import pandas as pd
import pytest

from tests.support.data import SIM_NOW, seed_source, source_frame, warehouse_query
from tests.support.expected import silver_purchases

pytestmark = pytest.mark.dags

WINDOW = timedelta(minutes=5)
LOOKBACK = timedelta(minutes=10)  # the purchases default: an outage longer than this used to lose rows
T0 = SIM_NOW  # the bootstrap backfill lands the hour before it


@pytest.fixture
def outage_env(cadence_env, monkeypatch):
    """A busy source (10 purchases a minute), health over the purchases jobs only, Slack recorded."""
    from airflow.providers.slack.hooks.slack_webhook import SlackWebhookHook

    monkeypatch.setenv("CADENCE_SIMULATOR__PURCHASES_PER_HOUR", "600")
    monkeypatch.setenv(
        "CADENCE_MONITORING__JOB_CADENCES", '{"purchases": "PT5M", "purchases_silver": "PT5M"}'
    )
    monkeypatch.setenv("CADENCE_MONITORING__SLACK_CONN_ID", "cadence_slack")
    sent: list[str] = []
    monkeypatch.setattr(SlackWebhookHook, "send", lambda self, **kwargs: sent.append(kwargs["text"]))
    from cadence.config import get_settings

    return get_settings(), sent


class Timeline:
    """The simulated clock: the source advances to each window end before its run."""

    def __init__(self, settings, run_dag, monkeypatch):
        self.settings, self.run_dag, self.monkeypatch = settings, run_dag, monkeypatch
        self.now = T0
        self.warehouse = json.dumps({"conn_type": "duckdb", "host": str(settings.duckdb_path)})

    def tick(self, windows: int = 1) -> None:
        from cadence.simulator import source
        from cadence.sources import source_hook

        self.now += windows * WINDOW
        source.tick(source_hook(self.settings), self.settings, "purchases", self.now)

    def run(self):
        return self.run_dag("purchases", self.now)

    def source_down(self, down: bool) -> None:
        path, aside = self.settings.source_db_path, self.settings.source_db_path.with_suffix(".away")
        (path.rename(aside) if down else aside.rename(path))

    def warehouse_down(self, down: bool) -> None:
        host = str(self.settings.data_dir / "no-such-dir/warehouse.duckdb") if down else None
        value = json.dumps({"conn_type": "duckdb", "host": host}) if down else self.warehouse
        self.monkeypatch.setenv("AIRFLOW_CONN_CADENCE_WAREHOUSE", value)


def states(dag_run) -> dict[str, str]:
    return {ti.task_id: ti.state for ti in dag_run.get_task_instances()}


def run_log(settings) -> list[dict]:
    folder = settings.data_dir / "lake/ops/run_log"
    return [json.loads(path.read_text()) for path in sorted(folder.rglob("*.json"))]


def health_alerts(settings, reference) -> list[str]:
    """Build ops.pipeline_health as of ``reference`` (as the daily DAG does) and return its alerts."""
    from cadence.monitoring import dbt as monitoring_dbt
    from cadence.monitoring.daily import health_vars

    monitoring_dbt.build(
        settings, "pipeline_health", health_vars(settings, reference - timedelta(days=1), reference)
    )
    rows = warehouse_query(
        settings,
        "select job, check_name, status from ops.pipeline_health "
        f"where is_alert and checked_at = '{reference:%Y-%m-%d %H:%M:%S}' order by job, check_name",
    )
    return [f"{r.job} {r.check_name} {r.status}" for r in rows.itertuples()]


def silver_versions(settings) -> pd.DataFrame:
    return warehouse_query(
        settings,
        "select transaction_id, status, strftime(updated_at, '%Y-%m-%dT%H:%M:%SZ') as updated_at "
        "from silver.purchases order by transaction_id",
    )


def expected_versions(settings) -> pd.DataFrame:
    """The latest valid version of every source transaction, computed independently with pandas."""
    expected = silver_purchases(source_frame(settings))[["transaction_id", "status", "updated_at"]]
    return expected.sort_values("transaction_id", ignore_index=True)


def assert_caught_up(settings, timeline) -> None:
    """Every source row (latest valid version) in silver; no failed record left; health green."""
    pd.testing.assert_frame_equal(silver_versions(settings), expected_versions(settings))
    assert [r for r in run_log(settings) if r["status"] == "failed"] == []
    assert health_alerts(settings, timeline.now) == []


def changed_between(settings, start, end) -> int:
    changed = pd.to_datetime(source_frame(settings)["updated_at"], utc=True)
    return int(((changed >= start) & (changed < end)).sum())


def test_outages_in_land_and_silver_are_caught_up_and_a_bad_file_is_contained(
    outage_env, run_dag, monkeypatch
):
    settings, slack = outage_env
    seed_source(days=1 / 24, until=T0)
    timeline = Timeline(settings, run_dag, monkeypatch)
    backfill = {"backfill_start": (T0 - timedelta(hours=1)).isoformat(), "backfill_end": T0.isoformat()}
    assert run_dag("purchases", T0, conf=backfill).state == "success"
    assert_caught_up(settings, timeline)

    for length in (1, 3, 12):  # land: the source database is unreadable (renamed away)
        outage_start = timeline.now
        timeline.source_down(True)
        for window in range(1, length + 1):
            timeline.source_down(False)
            timeline.tick()
            timeline.source_down(True)
            if window == 1:  # the first window's run fails; then the scheduler was down too: no runs
                dag_run = timeline.run()
                assert dag_run.state == "failed" and states(dag_run)["land"] == "failed"
                assert states(dag_run)["log_silver"] == "upstream_failed"
        assert not settings.source_db_path.exists()  # never re-created empty in its place
        failed = [r for r in run_log(settings) if r["status"] == "failed"]
        assert failed and all(str(settings.source_db_path) in r["error"] for r in failed)
        assert "purchases last_run last_run_failed" in health_alerts(settings, timeline.now)
        timeline.source_down(False)
        timeline.tick()
        recovery_start = timeline.now - WINDOW
        if length > 1:  # rows the old lookback would have lost: the test can fail
            assert changed_between(settings, outage_start, recovery_start - LOOKBACK) > 0
        dag_run = timeline.run()
        assert dag_run.state == "success", states(dag_run)
        assert_caught_up(settings, timeline)
        landed = [r for r in run_log(settings) if r["job"] == "purchases" and r["run_id"] == dag_run.run_id]
        assert min(r["window_start"] for r in landed) == outage_start.isoformat()  # every missed window
        assert max(r["window_end"] for r in landed) == timeline.now.isoformat()

    for length in (1, 3, 12):  # silver: the warehouse is unreachable
        outage_start = timeline.now
        timeline.warehouse_down(True)
        for window in range(1, length + 1):
            timeline.tick()
            if window == 1:
                dag_run = timeline.run()
                run_states = states(dag_run)
                assert dag_run.state == "failed" and run_states["land"] == "success", run_states
                assert run_states["log_silver"] == "failed"  # recorded, then failed
        assert "purchases_silver last_run last_run_failed" in health_alerts(settings, timeline.now)
        timeline.warehouse_down(False)
        timeline.tick()
        if length > 1:
            assert changed_between(settings, outage_start, timeline.now - WINDOW - LOOKBACK) > 0
        dag_run = timeline.run()
        assert dag_run.state == "success", states(dag_run)
        assert_caught_up(settings, timeline)
        superseded = [r for r in run_log(settings) if r["status"] == "superseded"]
        assert superseded and all(r["superseded_by"] == dag_run.run_id for r in superseded[-1:])

    # a truncated bronze file: quarantined with its reason, alerted, its window re-landed, the rest goes on
    bronze = sorted((settings.data_dir / "lake/bronze/purchases").rglob("*.parquet"))
    scheduled = [path for path in bronze if path.stem.endswith(("0", "5")) and "T1100_" not in path.stem]
    victim = scheduled[len(scheduled) // 2]  # a 5-minute window some 40 minutes back
    content = victim.read_bytes()
    victim.write_bytes(content[: len(content) // 2])
    timeline.tick()
    dag_run = timeline.run()
    assert dag_run.state == "success", states(dag_run)
    moved = (
        settings.data_dir / "lake/quarantine/unreadable/bronze/purchases" / victim.parent.name / victim.name
    )
    assert moved.read_bytes() == content[: len(content) // 2]
    reason = json.loads(moved.with_name(moved.name + ".reason.json").read_text())
    assert "magic bytes" in reason["reason"].lower() or "parquet" in reason["reason"].lower(), reason
    from cadence.lake import window_of

    lost = window_of(victim)  # re-landed from the source by this run (in an hourly chunk: > 1 h back)
    assert any(
        r["run_id"] == dag_run.run_id and r["window_start"] <= lost.start.isoformat() < r["window_end"]
        for r in run_log(settings)
        if r["job"] == "purchases" and r["status"] == "success"
    )
    assert any("unreadable bronze purchases file" in message and victim.name in message for message in slack)
    assert_caught_up(settings, timeline)

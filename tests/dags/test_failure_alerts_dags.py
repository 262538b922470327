"""Failure alerts and bad trigger conf under dag.test(): a task that fails for good notifies once, naming
DAG, run, task, window and the error; a conf that plan_run refuses fails the first task without retries."""

from __future__ import annotations

import logging
from datetime import UTC, datetime

import pytest

pytestmark = pytest.mark.dags

NOTIFIER = "cadence.monitoring.notifier"


def _alerts(caplog) -> list[str]:
    messages = [r.getMessage() for r in caplog.records if r.name == NOTIFIER]
    return [m for m in messages if "[cadence ERROR]" in m]


FAILING_DAG = """
from datetime import timedelta

from airflow.sdk import dag, task
from cadence.config import get_settings
from cadence.dag_defaults import dag_kwargs

kwargs = dag_kwargs(get_settings().purchases, None, tags=["test"])
kwargs["default_args"].update(retries=1, retry_delay=timedelta(0))


@dag(dag_id="h14_fails_for_good", **kwargs)
def fails_for_good():
    @task
    def land():
        raise RuntimeError("source table purchases is missing column amount_usd")

    land()


fails_for_good()
"""


def test_a_task_that_fails_for_good_notifies_once(airflow_db, cadence_env, caplog, tmp_path):
    """Retried once, then failed: one alert (after the last try), none on the retry."""
    from airflow.dag_processing.bundles.manager import DagBundlesManager
    from airflow.dag_processing.dagbag import DagBag, sync_bag_to_db

    path = tmp_path / "h14_fails_for_good.py"
    path.write_text(FAILING_DAG)
    bag = DagBag(dag_folder=str(path))
    assert not bag.import_errors, bag.import_errors
    DagBundlesManager().sync_bundles_to_db()
    sync_bag_to_db(bag, "dags-folder", None)  # dag.test() runs only serialized DAGs
    dag = bag.get_dag("h14_fails_for_good")
    caplog.set_level(logging.INFO, logger=NOTIFIER)
    run = dag.test(logical_date=datetime(2026, 3, 10, 12, 0, tzinfo=UTC))
    assert run.state == "failed"
    (ti,) = run.get_task_instances()
    assert ti.try_number == 2, "the task was not retried before it failed for good"
    alerts = _alerts(caplog)
    assert len(alerts) == 1, alerts
    alert = alerts[0]
    assert "h14_fails_for_good: task land failed" in alert
    assert f"run: {run.run_id}" in alert
    assert "window: 2026-03-10 11:55 UTC to 2026-03-10 12:00 UTC" in alert
    assert "error: RuntimeError: source table purchases is missing column amount_usd" in alert


def test_bad_conf_fails_the_first_task_at_once_without_retries(run_dag, cadence_env, caplog):
    """mmp retries its tasks (retries >= 1), but not a conf that cannot be run."""
    assert cadence_env.mmp_cadence.retries >= 1
    caplog.set_level(logging.INFO, logger=NOTIFIER)
    conf = {"backfill_start": "2026-03-02T00:00:00Z", "backfill_end": "2026-03-01T00:00:00Z"}
    run = run_dag("mmp", datetime(2026, 3, 10, 12, 0, tzinfo=UTC), conf=conf)
    assert run.state == "failed"
    land = run.get_task_instance("land")
    assert land.state == "failed" and land.try_number == 1
    (alert,) = _alerts(caplog)
    assert "mmp: task land failed" in alert
    assert "window: 2026-03-02T00:00:00Z to 2026-03-01T00:00:00Z (backfill)" in alert
    assert "RunConfError: backfill_end 2026-03-01T00:00:00+00:00 is not after backfill_start" in alert

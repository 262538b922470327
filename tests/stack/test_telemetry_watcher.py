"""A real scheduler and triggerer: a file dropped into the landing area starts a `telemetry` run by itself.

The stack runs with the scheduler creating runs, every DAG paused at creation and only `telemetry` unpaused
(Airflow registers the watchers of an unpaused DAG when it parses its file, hence the reparse request),
its fallback cron moved out of reach, so the only way a run can start is the AssetWatcher: the uploader
writes files and touches the signal, the triggerer's FileDeleteTrigger consumes it, the asset event
queues an asset-triggered run, which lands the files and builds the models.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

pytestmark = [pytest.mark.stack, pytest.mark.scheduler(lane=2)]

RUN_TIMEOUT = 420  # seconds: ~15 dbt tasks, one at a time (DuckDB pool), on a busy 2-core machine


def test_a_landed_file_starts_a_telemetry_run_through_the_watcher(tmp_path):
    import duckdb
    from cadence.config import load_settings
    from cadence.telemetry import landing, pipeline, simulator

    from tests.support.stack import AirflowStack, free_port

    env = {
        "AIRFLOW__LOGGING__WORKER_LOG_SERVER_PORT": str(free_port(range(8137, 8139))),
        "AIRFLOW__LOGGING__TRIGGER_LOG_SERVER_PORT": str(free_port(range(8139, 8141))),
        "CADENCE_TELEMETRY__POKE_INTERVAL": "PT2S",
        # no tick since start_date: only the watcher starts runs
        "CADENCE_TELEMETRY__FALLBACK_SCHEDULE": "0 0 29 2 *",
        "CADENCE_TELEMETRY__RETRIES": "0",
        "CADENCE_TELEMETRY__VISITS_PER_HOUR": "30",
    }
    stack = AirflowStack(
        tmp_path, port=free_port(range(8131, 8137)), scheduled_runs=True, paused_at_creation=True, env=env
    )
    settings = load_settings(data_dir=stack.data_dir, telemetry={"visits_per_hour": 30})
    with stack:
        stack.wait_for_dag("telemetry")
        stack.unpause("telemetry")
        # A paused DAG's watchers are registered only when its file is parsed again after the unpause.
        stack.reparse("telemetry")
        assert stack.runs("telemetry") == []

        start = datetime(2026, 3, 3, 9, tzinfo=UTC)
        names = simulator.write_uploads(
            settings, simulator.uploads(start, start + timedelta(hours=1), settings)
        )
        assert names
        signal = stack.data_dir / "lake/landing/telemetry" / landing.SIGNAL
        runs = stack.wait_until(lambda: stack.runs("telemetry"), timeout=240, what="an asset-triggered run")
        assert len(runs) == 1 and runs[0]["run_type"] == "asset_triggered", runs
        assert stack.wait("telemetry", runs[0]["dag_run_id"], timeout=RUN_TIMEOUT) == "success"
        assert not signal.exists()  # the trigger consumed the signal

    ledger = pipeline.read_ledger(settings)
    assert set(ledger["file"]) == {n for n in names}
    assert ledger["modeled"].all()
    with duckdb.connect(str(settings.duckdb_path), read_only=True) as connection:
        sessions = connection.sql("select count(*) from telemetry.fct_sessions").fetchall()[0][0]
        minutes = connection.sql("select count(*) from ops.traffic_minutes").fetchall()[0][0]
    assert sessions > 0 and minutes > 0

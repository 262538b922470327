"""The purchases DAG under a real Airflow stack: api-server, scheduler (LocalExecutor), dag-processor,
triggerer, each its own process, in a temporary home on a spare port (cadence.stack).

One backfill run is triggered through the REST API exactly as an operator would from the trigger form; the
silver table it leaves is compared with an independent pandas reading of the source, restricted to the
backfill range. Only triggered runs execute (the harness turns the cron schedule off), and `spins` is
paused: the `spins` run that the purchases backfill triggers is created but stays queued, so this test
measures purchases alone.
"""

from __future__ import annotations

from datetime import timedelta

import pandas as pd
import pytest

from tests.conftest import SIM_NOW, seed_source, source_frame
from tests.test_purchases_dag import expected_reasons, expected_silver, run_log, silver

pytestmark = pytest.mark.scheduler

RANGE_START, RANGE_END = SIM_NOW - timedelta(hours=16), SIM_NOW - timedelta(hours=13)  # busy evening hours
BACKFILL = {"backfill_start": RANGE_START.isoformat(), "backfill_end": RANGE_END.isoformat()}


@pytest.fixture(scope="module")
def backfilled_by_scheduler(tmp_path_factory):
    """Seed one day of history, run one backfill of three hours through the real scheduler, stop."""
    from cadence.config import load_settings
    from cadence.stack import AirflowStack, free_port

    # The DAG files do not change during the test: parse them once, not every 30 s (2 cores).
    quiet = {"AIRFLOW__DAG_PROCESSOR__MIN_FILE_PROCESS_INTERVAL": "600"}
    stack = AirflowStack(tmp_path_factory.mktemp("stack"), port=free_port(), env=quiet)
    with pytest.MonkeyPatch.context() as patch:
        for name in ("CADENCE_DATA_DIR", "AIRFLOW_CONN_CADENCE_SOURCE", "AIRFLOW_CONN_CADENCE_WAREHOUSE"):
            patch.setenv(name, stack.environment[name])
        seed_source(days=1)
    with stack:
        stack.pause("spins")
        run_id = stack.trigger("purchases", conf=BACKFILL)
        state = stack.wait("purchases", run_id, timeout=150)
        runs, tasks = stack.runs("purchases"), stack.task_states("purchases", run_id)
        spins_runs = stack.runs("spins")
    # The stack has stopped: nothing holds the DuckDB file any more.
    return {
        "settings": load_settings(data_dir=stack.data_dir),
        "run_id": run_id,
        "state": state,
        "runs": runs,
        "tasks": tasks,
        "spins_runs": spins_runs,
    }


def in_range(source: pd.DataFrame) -> pd.DataFrame:
    changed = pd.to_datetime(source["updated_at"], utc=True)
    return source[(changed >= RANGE_START) & (changed < RANGE_END)]


def test_the_triggered_backfill_succeeds_and_is_the_only_run(backfilled_by_scheduler):
    result = backfilled_by_scheduler
    assert result["state"] == "success", result["tasks"]
    assert result["tasks"]["land"] == "success"
    assert [state for task, state in result["tasks"].items() if task.startswith("silver.")] == ["success"]
    (run,) = result["runs"]
    assert run["dag_run_id"] == result["run_id"]
    assert run["run_type"] == "manual" and run["conf"] == BACKFILL
    assert run["start_date"] and run["end_date"]


def test_the_backfill_is_carried_over_to_spins(backfilled_by_scheduler):
    """Gold must follow silver: the backfill range is handed to `spins` (paused here, so it only queues)."""
    (spins,) = backfilled_by_scheduler["spins_runs"]
    assert spins["state"] == "queued" and spins["run_type"] == "operator_triggered"
    assert spins["conf"]["backfill_start"] == BACKFILL["backfill_start"]
    assert spins["conf"]["backfill_end"] == BACKFILL["backfill_end"]


def test_run_log_accounts_for_every_source_row_in_the_range(backfilled_by_scheduler):
    settings = backfilled_by_scheduler["settings"]
    source = in_range(source_frame(settings))
    reasons = expected_reasons(source)
    records = run_log(settings)
    assert len(records) == 3  # three hourly windows
    assert {r["run_id"] for r in records} == {backfilled_by_scheduler["run_id"]}
    assert all(r["status"] == "success" for r in records)
    assert sum(r["rows_extracted"] for r in records) == len(source)
    assert sum(r["rows_quarantined"] for r in records) == (reasons != "").sum()
    assert sum(r["rows_landed"] for r in records) == (reasons == "").sum()


def test_silver_holds_exactly_the_latest_valid_version_of_each_transaction_in_the_range(
    backfilled_by_scheduler,
):
    settings = backfilled_by_scheduler["settings"]
    expected = expected_silver(in_range(source_frame(settings)))
    actual = silver(settings)
    assert len(expected) > 100
    pd.testing.assert_frame_equal(actual, expected, check_dtype=False)

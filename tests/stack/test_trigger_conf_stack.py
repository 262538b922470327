"""Bad trigger conf through the REST API of a real api-server, and a run timeout under the real scheduler.

One stack for the module, on a DAG folder of two files: the ``mmp`` DAG (as shipped) and a DAG whose run
times out. The schema layer answers the trigger request with 400 and the message; the first task refuses
what a schema cannot say, at once and without retries; a timed-out run notifies once.
"""

from __future__ import annotations

import shutil
from datetime import UTC, datetime

import pytest
from cadence.config import PROJECT_ROOT

from tests.support.stack import AirflowStack, free_port

pytestmark = [pytest.mark.stack, pytest.mark.scheduler(lane=2)]

PORTS = range(8141, 8151)  # h14's range

TIMES_OUT = """
from datetime import timedelta
import time

from airflow.sdk import dag, task
from cadence.config import get_settings
from cadence.dag_defaults import dag_kwargs

kwargs = dag_kwargs(get_settings().purchases, None, tags=["test"])
kwargs["dagrun_timeout"] = timedelta(seconds=15)


@dag(dag_id="h14_times_out", **kwargs)
def times_out():
    @task
    def land():
        time.sleep(600)

    land()


times_out()
"""


@pytest.fixture(scope="module")
def stack(tmp_path_factory):
    root = tmp_path_factory.mktemp("h14-conf-stack")
    dags = root / "dags"
    dags.mkdir()
    shutil.copy(PROJECT_ROOT / "dags" / "mmp.py", dags / "mmp.py")
    (dags / "h14_times_out.py").write_text(TIMES_OUT)
    env = {"AIRFLOW__CORE__DAGS_FOLDER": str(dags), "CADENCE_MMP_CADENCE__RETRIES": "2"}
    with AirflowStack(root, port=free_port(PORTS), env=env) as running:
        yield running


def _trigger(stack, dag_id: str, conf: dict):
    body = {"logical_date": datetime.now(UTC).isoformat(), "conf": conf}
    return stack.api.post(f"/dags/{dag_id}/dagRuns", json=body)


@pytest.mark.parametrize(
    ("conf", "refused"),
    [
        ({"backfill_start": "2026-13-01", "backfill_end": "2026-03-02T00:00:00Z"}, "backfill_start"),
        ({"backfill_start": "2026-03-01T00:00:00Z", "backfill_end": "x"}, "backfill_end"),
        ({"backfill_start": "2026-03-01T25:00", "backfill_end": None}, "backfill_start"),
        ({"is_full_refresh": "yes"}, "is_full_refresh"),
    ],
)
def test_the_api_refuses_what_the_schema_says(stack, conf, refused):
    stack.wait_for_dag("mmp")
    response = _trigger(stack, "mmp", conf)
    assert response.status_code == 400, response.text
    detail = response.json()["detail"]
    assert f"Invalid input for param {refused}" in detail, detail
    assert not stack.runs("mmp"), "a refused conf created a run"


def test_the_form_offers_no_internal_fields_and_the_api_takes_them(stack):
    params = stack.api.get("/dags/mmp/details").json()["params"]
    assert {"is_full_refresh", "backfill_start", "backfill_end"} <= set(params)
    assert not {"triggered_by", "trigger_reason"} & set(params), params
    assert params["backfill_start"]["schema"]["pattern"]
    # What the other cadence sends still goes through (validated, merged into params).
    stack.pause("mmp")
    response = _trigger(stack, "mmp", {"triggered_by": "spins", "trigger_reason": "test"})
    assert response.status_code == 200, response.text
    stack.delete_run("mmp", response.json()["dag_run_id"])
    stack.unpause("mmp")


def test_what_a_schema_cannot_say_fails_the_first_task_at_once(stack):
    conf = {"backfill_start": "2026-03-02T00:00:00Z", "backfill_end": "2026-03-01T00:00:00Z"}
    run_id = _trigger(stack, "mmp", conf).json()["dag_run_id"]
    assert stack.wait("mmp", run_id, timeout=240) == "failed"
    (land,) = [ti for ti in stack.task_instances("mmp", run_id) if ti["task_id"] == "land"]
    assert land["state"] == "failed" and land["try_number"] == 1, land  # mmp retries twice otherwise
    log = "\n".join(p.read_text(errors="replace") for p in stack.task_log_paths("mmp", run_id))
    assert "backfill_end 2026-03-01T00:00:00+00:00 is not after backfill_start" in log
    assert "[cadence ERROR] mmp: task land failed" in log  # the failure alert, in the task log


def test_a_timed_out_run_notifies_once(stack):
    run_id = stack.trigger("h14_times_out")
    assert stack.wait("h14_times_out", run_id, timeout=180) == "failed"
    title = f"[cadence ERROR] h14_times_out: run {run_id} timed out"

    def notified():
        texts = [p.read_text(errors="replace") for p in stack.logs.rglob("*.log")]
        return [t for t in texts if title in t]

    (text,) = stack.wait_until(notified, timeout=90, what="the timeout alert")
    assert text.count(title) == 1
    assert "task: land (unfinished when the run timed out)" in text
    assert "dagrun_timeout of 0:00:15" in text

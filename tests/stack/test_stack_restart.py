"""The local stack restarts cleanly: `up` starts a dead component, `down` leaves no process behind, and a
task whose supervisor died is failed within the heartbeat timeout. Real processes, ports 8161-8170."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
from pathlib import Path

import psutil
import pytest

from tests.support.stack import AirflowStack, _port_is_free, free_port

pytestmark = [pytest.mark.stack, pytest.mark.scheduler(lane=1)]

ROOT = Path(__file__).resolve().parents[2]


def group(pgid: int) -> list[psutil.Process]:
    members = []
    for process in psutil.process_iter():
        try:
            if os.getpgid(process.pid) == pgid:
                members.append(process)
        except (psutil.Error, ProcessLookupError):
            pass
    return members


def alive(pids) -> list[int]:
    return [pid for pid in pids if psutil.pid_exists(pid) and psutil.Process(pid).status() != "zombie"]


@pytest.fixture
def local_stack(tmp_path):
    """`python -m cadence.local` against a temporary home, data folder and ports of this branch's range."""
    port = free_port(range(8161, 8164))
    worker_logs, trigger_logs = free_port(range(8164, 8167)), free_port(range(8167, 8171))
    environment = {
        **os.environ,
        "PYTHONPATH": f"{ROOT / 'include'}{os.pathsep}{os.environ.get('PYTHONPATH', '')}",
        "AIRFLOW_HOME": str(tmp_path / "airflow"),
        "CADENCE_DATA_DIR": str(tmp_path / "data"),
        "CADENCE_UI_PORT": str(port),
        "CADENCE_SIMULATOR__SEED_DAYS": "0",
        "AIRFLOW__SCHEDULER__USE_JOB_SCHEDULE": "False",  # no cron runs: only the processes matter here
        "AIRFLOW__LOGGING__WORKER_LOG_SERVER_PORT": str(worker_logs),
        "AIRFLOW__LOGGING__TRIGGER_LOG_SERVER_PORT": str(trigger_logs),
    }

    def local(command: str) -> subprocess.CompletedProcess:
        return subprocess.run(
            [sys.executable, "-m", "cadence.local", command],
            env=environment,
            cwd=ROOT,
            capture_output=True,
            text=True,
            timeout=240,
        )

    pids_file = tmp_path / "airflow/cadence-pids.json"
    local.pids = lambda: {name: entry["pid"] for name, entry in json.loads(pids_file.read_text()).items()}
    local.worker_log_port = worker_logs
    seen: set[int] = set()
    local.seen = seen
    try:
        yield local
    finally:
        local("down")
        for pid in alive(seen):  # whatever the code under test failed to stop
            os.kill(pid, signal.SIGKILL)


def test_up_restarts_a_dead_scheduler_and_down_stops_every_process(local_stack):
    started = local_stack("up")
    assert started.returncode == 0, started.stdout + started.stderr
    pids = local_stack.pids()
    scheduler = pids["scheduler"]
    old_group = [p.pid for p in group(scheduler)]
    local_stack.seen.update(p.pid for pid in pids.values() for p in group(pid))
    # the scheduler and whatever LocalExecutor workers it forked (the stack starts no log server:
    # --skip-serve-logs keeps it small)
    assert scheduler in old_group, old_group

    os.kill(scheduler, signal.SIGKILL)  # the scheduler dies; any worker it forked lives on
    psutil.wait_procs([psutil.Process(scheduler)], timeout=10)
    assert scheduler not in alive(old_group)

    restarted = local_stack("up")
    assert restarted.returncode == 0, restarted.stdout + restarted.stderr
    assert "already running" not in restarted.stdout
    assert "restarting scheduler" in restarted.stdout, restarted.stdout
    new_pids = local_stack.pids()
    assert new_pids["scheduler"] != scheduler and alive([new_pids["scheduler"]])
    assert {k: v for k, v in new_pids.items() if k != "scheduler"} == {
        k: v for k, v in pids.items() if k != "scheduler"
    }  # the live components were left alone
    assert alive(old_group) == []  # the dead scheduler's orphans were stopped first
    local_stack.seen.update(p.pid for pid in new_pids.values() for p in group(pid))

    everything = sorted(local_stack.seen)
    stopped = local_stack("down")
    assert stopped.returncode == 0, stopped.stdout + stopped.stderr
    assert alive(everything) == []
    assert _port_is_free(local_stack.worker_log_port)


SLEEPER = """
import os, time
from datetime import datetime
from pathlib import Path
from airflow.sdk import dag, task

@dag(schedule=None, start_date=datetime(2026, 1, 1), catchup=False)
def sleeper():
    @task(retries=0)
    def sleep():
        Path(os.environ["SLEEPER_PIDS"]).write_text(f"{os.getpid()} {os.getppid()}")
        time.sleep(600)
    sleep()

sleeper()
"""


def test_a_task_whose_supervisor_died_is_failed_by_the_heartbeat_timeout(tmp_path):
    dags = tmp_path / "dags"
    dags.mkdir()
    (dags / "sleeper.py").write_text(SLEEPER)
    pids_file = tmp_path / "sleeper.pids"
    environment = {
        "AIRFLOW__CORE__DAGS_FOLDER": str(dags),
        "SLEEPER_PIDS": str(pids_file),
        "AIRFLOW__LOGGING__WORKER_LOG_SERVER_PORT": str(free_port(range(8164, 8167))),
        "AIRFLOW__LOGGING__TRIGGER_LOG_SERVER_PORT": str(free_port(range(8167, 8171))),
    }
    task_pid = None
    with AirflowStack(tmp_path / "stack", port=free_port(range(8161, 8164)), env=environment) as stack:
        try:
            run_id = stack.trigger("sleeper")
            stack.wait_until(
                lambda: pids_file.exists() and pids_file.read_text(), 120, what="the task starts"
            )
            task_pid, supervisor_pid = map(int, pids_file.read_text().split())
            os.kill(supervisor_pid, signal.SIGKILL)  # the supervisor dies; its task process lives on
            state = stack.wait_until(
                lambda: (s := stack.task_states("sleeper", run_id)["sleep"]) != "running" and s,
                timeout=120,  # the default timeout (300 s) would not be reached in this wait
                what="the dead supervisor's task leaves 'running'",
            )
            assert state == "failed"
            assert stack.wait("sleeper", run_id, timeout=60) == "failed"
        finally:
            if task_pid and psutil.pid_exists(task_pid):
                os.kill(task_pid, signal.SIGKILL)  # orphaned by the kill above: not a stack descendant

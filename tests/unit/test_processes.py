"""Which recorded services `make up` counts as alive (cadence.processes), with real processes."""

from __future__ import annotations

import subprocess
import sys

import psutil
import pytest

pytestmark = pytest.mark.unit


@pytest.fixture
def sleeper():
    process = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(60)"])
    yield process
    process.kill()
    process.wait()


def test_a_live_service_stays_alive_when_the_wall_clock_is_set(sleeper, monkeypatch):
    from cadence import processes

    entry = processes.started(sleeper.pid)
    assert processes.is_alive(entry)
    boot = psutil.boot_time()
    monkeypatch.setattr(psutil._psplatform, "boot_time", lambda: boot + 90)  # NTP stepped the clock 90 s
    assert psutil.Process(sleeper.pid).create_time() > boot + 90  # psutil's start time moved with it
    assert processes.is_alive(entry)


def test_a_dead_or_recycled_pid_is_not_the_service(sleeper):
    from cadence import processes

    entry = processes.started(sleeper.pid)
    assert not processes.is_alive({**entry, "since_boot": entry["since_boot"] - 30})  # another process
    sleeper.kill()
    sleeper.wait()
    assert not processes.is_alive(entry)

"""The local stack's processes: which are alive, and stopping all of them, children included.

Each service starts in a session of its own, so its process group holds what it forks: the scheduler's
LocalExecutor workers and its ``serve-logs`` server, the triggerer's log server. Workers ignore SIGTERM and
task processes start groups of their own, so stopping only the leaders left workers behind and the log
server holding its port. Here a stop signals every member of those groups *and* every descendant of the
leaders, waits a grace period, then SIGKILLs whatever is left. A service counts as alive only if its pid
still belongs to the process started (same start time, counted from boot: the wall clock can be set
while the stack runs), so a recycled pid is not mistaken for it.
"""

from __future__ import annotations

import contextlib
import json
import os
import signal
import time
from pathlib import Path

import psutil

GRACE_SECONDS = 20.0


def started(pid: int) -> dict:
    """What identifies a process we started: its pid and start time."""
    return {"pid": pid, "since_boot": _since_boot(psutil.Process(pid))}


def _since_boot(process: psutil.Process) -> float:
    """Seconds from boot to the process's start. Its start on the wall clock (``create_time``) moves when
    the clock is set (NTP, a resumed VM) and would make every live service look dead."""
    return process.create_time() - psutil.boot_time()


def read(path: Path) -> dict[str, dict]:
    """The recorded services (``{name: {"pid", "create_time"}}``); an older file held bare pids."""
    if not path.exists():
        return {}
    recorded = json.loads(path.read_text())
    return {name: entry if isinstance(entry, dict) else {"pid": entry} for name, entry in recorded.items()}


def write(path: Path, services: dict[str, dict]) -> None:
    path.write_text(json.dumps(services, indent=1))


def is_alive(entry: dict) -> bool:
    """Whether the recorded process is still running (not a zombie, not a recycled pid)."""
    try:
        process = psutil.Process(entry["pid"])
        if process.status() == psutil.STATUS_ZOMBIE:
            return False
        if "since_boot" in entry:
            return abs(_since_boot(process) - entry["since_boot"]) < 1
        created = entry.get("create_time")  # a file written before since_boot
        return created is None or abs(process.create_time() - created) < 1
    except psutil.Error:
        return False


def _group_members(pgid: int) -> list[psutil.Process]:
    members = []
    for process in psutil.process_iter():
        with contextlib.suppress(psutil.Error):
            if os.getpgid(process.pid) == pgid:
                members.append(process)
    return members


def _family(entries: list[dict]) -> list[psutil.Process]:
    """Every live process of the recorded services: their groups' members and the leaders' descendants."""
    found: dict[int, psutil.Process] = {}
    for entry in entries:
        pid = entry["pid"]
        for process in _group_members(pid):  # a dead leader's group may live on (orphaned workers)
            found[process.pid] = process
        if is_alive(entry):
            with contextlib.suppress(psutil.Error):
                leader = psutil.Process(pid)
                found[pid] = leader
                for child in leader.children(recursive=True):
                    found[child.pid] = child
    found.pop(os.getpid(), None)
    return list(found.values())


def _signal(processes: list[psutil.Process], sig: int) -> None:
    # each process by itself, not os.killpg: a dead leader's pid may since belong to someone else
    for process in processes:
        with contextlib.suppress(psutil.Error):
            process.send_signal(sig)


def stop(entries: list[dict], grace: float = GRACE_SECONDS) -> list[str]:
    """SIGTERM every process of ``entries`` (groups and descendants), SIGKILL what is left after
    ``grace`` seconds; returns those that needed SIGKILL, as "pid (command)"."""
    family = _family(entries)
    _signal(family, signal.SIGTERM)
    _, alive = psutil.wait_procs(family, timeout=grace)
    family_after = [p for p in _family(entries) if p.pid not in {q.pid for q in family}] + alive
    described = [_describe(process) for process in family_after]
    _signal(family_after, signal.SIGKILL)
    psutil.wait_procs(family_after, timeout=5)
    return described


def _describe(process: psutil.Process) -> str:
    with contextlib.suppress(psutil.Error):
        return f"{process.pid} ({' '.join(process.cmdline())[:80]})"
    return str(process.pid)


def wait_until_stopped(entries: list[dict], timeout: float = 10) -> bool:
    deadline = time.monotonic() + timeout
    while _family(entries) and time.monotonic() < deadline:
        time.sleep(0.2)
    return not _family(entries)

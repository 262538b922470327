"""Service logs of `make up` stay bounded while the services run (cadence.service_logs), through the
real ``local.start_services``: a process prints coloured lines, its log is turned over by size while it is
still running, the colour codes are gone, and what is kept is the end of what it printed, in order."""

from __future__ import annotations

import sys
import time

import pytest

pytestmark = pytest.mark.unit

CHATTY = r"""
import pathlib, sys, time
rotated = pathlib.Path(sys.argv[1]).with_name("chatty.log.1")
for i in range(400):
    print(f"\x1b[32mline {i:04d}\x1b[0m " + "x" * 40, flush=True)
    if i % 20 == 19:
        time.sleep(0.02)  # in bursts, as a service logs
deadline = time.monotonic() + 20
while not rotated.exists():  # still running: the writer must turn the log over now, not at the next start
    if time.monotonic() > deadline:
        sys.exit("the log was not rotated while this process ran")
    time.sleep(0.05)
print("after rotation", flush=True)
"""


def _kept(logs, name: str) -> list[str]:
    files = [logs / f"{name}.log.{n}" for n in (3, 2, 1)] + [logs / f"{name}.log"]
    return [line for path in files if path.exists() for line in path.read_text().splitlines()]


def test_a_running_service_log_is_rotated_by_size_without_colour_codes(tmp_path):
    from cadence import local

    logs = tmp_path / "logs"
    started = local.start_services(
        {"chatty": [sys.executable, "-c", CHATTY, str(logs / "chatty.log")]},
        {},
        logs,
        log_max_bytes=4096,
    )
    assert started["chatty"].wait(timeout=60) == 0, (logs / "chatty.log").read_text()[-500:]

    deadline = time.monotonic() + 10  # the writer appends what is still in the pipe, then exits
    while not _kept(logs, "chatty") or _kept(logs, "chatty")[-1] != "after rotation":
        assert time.monotonic() < deadline, _kept(logs, "chatty")[-3:]
        time.sleep(0.05)

    names = sorted(path.name for path in logs.iterdir() if path.name.startswith("chatty"))
    assert names == ["chatty.log", "chatty.log.1", "chatty.log.2", "chatty.log.3"]  # the oldest went
    for path in logs.glob("chatty.log*"):
        assert path.stat().st_size <= 4096 + (1 << 16), path
        assert b"\x1b" not in path.read_bytes(), path
    kept = _kept(logs, "chatty")
    printed = [f"line {i:04d} " + "x" * 40 for i in range(400)] + ["after rotation"]
    assert len(kept) < len(printed)
    assert kept == printed[-len(kept) :]  # the newest lines, whole and in order


def test_service_logs_rotate_keeping_three_generations(tmp_path):
    from cadence.service_logs import rotate

    log = tmp_path / "scheduler.log"
    for generation in range(5):
        log.write_text(f"run {generation}\n")
        rotate(log)
        rotate(tmp_path / "missing.log")  # nothing to turn over
    kept = sorted(p.name for p in tmp_path.iterdir())
    assert kept == ["scheduler.log.1", "scheduler.log.2", "scheduler.log.3"]
    assert (tmp_path / "scheduler.log.1").read_text() == "run 4\n"
    assert (tmp_path / "scheduler.log.3").read_text() == "run 2\n"

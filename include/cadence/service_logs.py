"""Service logs of the local stack, bounded while it runs.

Each service writes to a pipe; one small writer process per start (``python -m cadence.service_logs``)
appends what arrives to ``<name>.log``, without ANSI colour codes, and turns the file over to
``<name>.log.1`` … ``.<keep>`` once it passes ``max_bytes``, so a stack left running for days keeps at most
``(keep + 1) * max_bytes`` per service. The writer exits when every service it serves has closed its output
(stopped, or died: `make up` then restarts it with a writer of its own). Only the standard library is
imported here: the writer stays a few MB. Not ``logging.handlers.RotatingFileHandler``: that one writes log
records as text, and here raw bytes from pipes are copied, turned over at a line end.
"""

from __future__ import annotations

import argparse
import os
import re
import selectors
from pathlib import Path

MAX_BYTES = 10 * 1024 * 1024  # a log is turned over once it passes this size
KEEP = 3  # generations kept besides the current file (<name>.log.1 … .3, at least 1); the oldest goes
_ANSI = re.compile(rb"\x1b\[[0-9;]*[A-Za-z]")


def rotate(path: Path, keep: int = KEEP) -> None:
    """``<name>.log`` becomes ``<name>.log.1``, ``.1`` becomes ``.2`` and so on; the oldest goes."""
    if not path.exists() or not path.stat().st_size:
        return
    for generation in range(keep - 1, 0, -1):
        older = path.with_name(f"{path.name}.{generation}")
        if older.exists():
            older.replace(path.with_name(f"{path.name}.{generation + 1}"))
    path.replace(path.with_name(f"{path.name}.1"))


class RotatingLog:
    """An append-only file turned over (:func:`rotate`) at a line end once it passes ``max_bytes`` (at any
    byte past twice that, for output without line ends)."""

    def __init__(self, path: Path, max_bytes: int = MAX_BYTES, keep: int = KEEP) -> None:
        self.path, self.max_bytes, self.keep = path, max_bytes, keep
        self._file = path.open("ab", buffering=0)

    def write(self, data: bytes) -> None:
        self._file.write(_ANSI.sub(b"", data))
        size = self._file.tell()
        if size >= self.max_bytes and (data.endswith(b"\n") or size >= 2 * self.max_bytes):
            self._file.close()
            rotate(self.path, self.keep)
            self._file = self.path.open("ab", buffering=0)

    def close(self) -> None:
        self._file.close()


def pump(logs: dict[int, RotatingLog]) -> None:
    """Copy what each readable file descriptor delivers to its log until every one of them is at its end."""
    selector = selectors.DefaultSelector()
    for fd in logs:
        selector.register(fd, selectors.EVENT_READ)
    while selector.get_map():
        for key, _ in selector.select():
            data = os.read(key.fd, 1 << 16)
            if data:
                logs[key.fd].write(data)
            else:
                selector.unregister(key.fd)
                os.close(key.fd)
                logs[key.fd].close()


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description="Append services' output to size-rotated log files.")
    parser.add_argument("pipes", nargs="+", metavar="FD=PATH", help="an inherited pipe and its log file")
    parser.add_argument("--max-bytes", type=int, default=MAX_BYTES)
    args = parser.parse_args(argv)
    logs = {}
    for pipe in args.pipes:
        fd, path = pipe.split("=", 1)
        logs[int(fd)] = RotatingLog(Path(path), args.max_bytes)
    pump(logs)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())

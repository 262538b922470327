"""Run the benchmarks in bench/ (every ``bench_*.py``, each as its own subprocess) and print their tables.

    .venv/bin/python bench/run.py                  # all of them (`make bench`)
    .venv/bin/python bench/run.py pipeline         # only bench_pipeline.py
    .venv/bin/python bench/run.py mmp pipeline     # names match bench_<name>*.py
    .venv/bin/python bench/run.py --list

A benchmark prints its markdown table(s) on stdout and its progress on stderr (passed straight through).
The exit status is non-zero when any benchmark fails; the others still run.
"""

from __future__ import annotations

import argparse
import subprocess
import sys
import time
from pathlib import Path

BENCH = Path(__file__).resolve().parent


def discover() -> dict[str, Path]:
    return {path.stem.removeprefix("bench_"): path for path in sorted(BENCH.glob("bench_*.py"))}


def select(available: dict[str, Path], names: list[str]) -> dict[str, Path]:
    if not names:
        return available
    chosen = {}
    for name in names:
        name = name.removeprefix("bench_").removesuffix(".py")
        matches = {k: v for k, v in available.items() if k == name} or {
            k: v for k, v in available.items() if k.startswith(name)
        }
        if not matches:
            raise SystemExit(f"no benchmark matches {name!r}; available: {', '.join(available)}")
        chosen.update(matches)
    return chosen


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("names", nargs="*", help="benchmarks to run (default: all), e.g. pipeline")
    parser.add_argument("--list", action="store_true", help="list the benchmarks and exit")
    args = parser.parse_args(argv)
    available = discover()
    if args.list:
        print("\n".join(available))
        return 0
    failed = []
    for name, path in select(available, args.names).items():
        print(f"running {path.name} …", file=sys.stderr, flush=True)
        started = time.monotonic()
        result = subprocess.run([sys.executable, str(path)], stdout=subprocess.PIPE, text=True)
        elapsed = time.monotonic() - started
        print(f"## {name}\n")
        if result.returncode:
            failed.append(name)
            print(f"**failed** (exit {result.returncode} after {elapsed:.0f} s; its error is on stderr)\n")
        else:
            print(result.stdout.rstrip() + f"\n\n_{path.name} took {elapsed:.0f} s._\n", flush=True)
    if failed:
        print(f"failed: {', '.join(failed)}", file=sys.stderr)
    return 1 if failed else 0


if __name__ == "__main__":
    raise SystemExit(main())

"""A local BigQuery for the dbt tier: the crucible emulator, bronze loaded into it, and dbt run against it.

crucible-emulator (`crucible serve --dialect bigquery`, DuckDB underneath) answers the BigQuery REST API
that dbt-bigquery and google-cloud-bigquery speak. It lives in its own virtualenv, `.venv-bq-emulator`
(`make bq-emulator`, lock requirements-bigquery-emulator.txt), with the same dbt-core and dbt-bigquery as
.venv: it pins duckdb and sqlglot older than the main lock. So the emulator and the BigQuery dbt run as
subprocesses from that venv; this process talks to the emulator with .venv's google-cloud-bigquery.

What the emulator cannot take (docs/bigquery_emulators.md): external tables, so each bronze source is
stood in by a table loaded from the lake's Parquet batches, with the schema BigQuery infers from Parquet
(dt, the hive partition, included), and the var create_external_tables=false skips the on-run-start
hook; table and column descriptions (tables.patch), so the var persist_docs=false.
"""

from __future__ import annotations

import json
import os
import signal
import socket
import subprocess
import time
import urllib.request
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import date, datetime
from decimal import Decimal
from pathlib import Path

import pyarrow as pa

ROOT = Path(__file__).resolve().parents[2]
VENV = ROOT / ".venv-bq-emulator"
PROJECT = "cadence-emulator"  # the emulator takes any project id
DBT_VARS = "{create_external_tables: false, persist_docs: false}"
START_TIMEOUT = 60.0  # seconds for the server to answer its health check


def missing_venv() -> str | None:
    """Why the emulator's virtualenv cannot be used, or None."""
    for tool in ("crucible", "dbt"):
        if not (VENV / "bin" / tool).exists():
            return f"{VENV / 'bin' / tool} is missing: run `make bq-emulator` (make install and make test do)"
    return None


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


@contextmanager
def running_emulator(log: Path) -> Iterator[str]:
    """Start `crucible serve --dialect bigquery` on a free port (in-memory storage) and yield its URL once
    it answers; stop it (its whole process group) on exit. Its output goes to ``log``."""
    port = _free_port()
    url = f"http://127.0.0.1:{port}"
    with log.open("wb") as out:
        server = subprocess.Popen(
            [str(VENV / "bin" / "crucible"), "serve", "--dialect", "bigquery", "--port", str(port)],
            stdout=out, stderr=subprocess.STDOUT, start_new_session=True,
        )  # fmt: skip
    try:
        deadline = time.monotonic() + START_TIMEOUT
        while True:
            if server.poll() is not None:
                raise RuntimeError(f"crucible exited with {server.returncode}: {log.read_text()[-2000:]}")
            try:
                with urllib.request.urlopen(f"{url}/_crucible/health", timeout=2) as answer:
                    if answer.status == 200:
                        break
            except OSError:
                pass
            if time.monotonic() > deadline:
                raise RuntimeError(
                    f"crucible did not answer on {url} in {START_TIMEOUT:.0f} s: {log.read_text()}"
                )
            time.sleep(0.2)
        yield url
    finally:
        if server.poll() is None:
            os.killpg(server.pid, signal.SIGTERM)
            try:
                server.wait(timeout=15)
            except subprocess.TimeoutExpired:
                os.killpg(server.pid, signal.SIGKILL)
                server.wait()


def client(url: str):
    """A google-cloud-bigquery client for the emulator (anonymous: it checks no credentials)."""
    from google.api_core.client_options import ClientOptions
    from google.auth.credentials import AnonymousCredentials
    from google.cloud import bigquery

    return bigquery.Client(
        project=PROJECT, credentials=AnonymousCredentials(), client_options=ClientOptions(api_endpoint=url)
    )


def rows_of(bq, sql: str) -> list[dict]:
    """The rows of a query as dicts (the REST API's paged results: the Storage API is not emulated)."""
    return [dict(row.items()) for row in bq.query(sql).result()]


# -- bronze: loaded tables instead of external tables --------------------------------------------------


# The BigQuery type of a Parquet (Arrow) column, as BigQuery infers it for an external table or a load.
def _bigquery_type(kind: pa.DataType) -> str:
    if pa.types.is_string(kind) or pa.types.is_large_string(kind):
        return "STRING"
    if pa.types.is_timestamp(kind):
        return "TIMESTAMP" if kind.tz else "DATETIME"
    if pa.types.is_date32(kind):
        return "DATE"
    if pa.types.is_decimal(kind):
        return "NUMERIC" if kind.precision - kind.scale <= 29 and kind.scale <= 9 else "BIGNUMERIC"
    if pa.types.is_floating(kind):
        return "FLOAT64"
    if pa.types.is_integer(kind):
        return "INT64"
    if pa.types.is_boolean(kind):
        return "BOOL"
    raise TypeError(f"no BigQuery stand-in for a Parquet column of type {kind}")


def _literal(value: object, kind: str) -> str:
    """A BigQuery literal of ``value`` typed as ``kind``, exact (floats by their shortest repr)."""
    if value is None:
        return f"cast(null as {kind})"
    if kind == "STRING":
        return "'" + str(value).replace("\\", "\\\\").replace("'", "\\'") + "'"
    if kind == "TIMESTAMP":
        assert isinstance(value, datetime) and value.utcoffset() is not None
        return f"timestamp '{value.isoformat(sep=' ')}'"
    if kind == "DATE":
        assert isinstance(value, date)
        return f"date '{value.isoformat()}'"
    if kind in ("NUMERIC", "BIGNUMERIC"):
        assert isinstance(value, Decimal)
        return f"{kind.lower()} '{value}'"
    if kind in ("FLOAT64", "INT64", "BOOL"):
        return repr(value).lower() if kind == "BOOL" else repr(value)
    raise TypeError(kind)


def bronze_table(lake_root: str, name: str) -> pa.Table:
    """Every batch of one bronze source with its hive partition column, as the external table shows it."""
    import pyarrow.dataset as ds

    folder = Path(lake_root) / "bronze" / name
    partitioning = ds.partitioning(pa.schema([("dt", pa.date32())]), flavor="hive")
    return ds.dataset(folder, format="parquet", partitioning=partitioning).to_table()


def load_bronze(bq, lake_root: str, names: tuple[str, ...] = ("purchases", "spins_hourly")) -> dict:
    """Replace each bronze source's stand-in table with every batch now in the lake; returns the row
    counts. Run after each landing, as an external table would show the new files."""
    counts = {}
    bq.query(f"create schema if not exists `{PROJECT}`.bronze").result()
    for name in names:
        table = bronze_table(lake_root, name)
        kinds = {field.name: _bigquery_type(field.type) for field in table.schema}
        target = f"`{PROJECT}`.bronze.`{name}`"
        columns = ", ".join(f"`{column}` {kind}" for column, kind in kinds.items())
        bq.query(f"create or replace table {target} ({columns})").result()
        rows = table.to_pylist()
        for start in range(0, len(rows), 500):
            values = ",\n".join(
                "(" + ", ".join(_literal(row[c], k) for c, k in kinds.items()) + ")"
                for row in rows[start : start + 500]
            )
            bq.query(f"insert into {target} ({', '.join(kinds)}) values\n{values}").result()
        (counted,) = rows_of(bq, f"select count(*) as n from {target}")
        counts[name] = counted["n"]
    return counts


# -- dbt on the emulator -------------------------------------------------------------------------------


def write_profile(folder: Path, url: str) -> Path:
    """A profiles.yml whose bigquery target is the emulator (the project's own is for real BigQuery)."""
    folder.mkdir(parents=True, exist_ok=True)
    (folder / "profiles.yml").write_text(
        "cadence:\n"
        "  target: bigquery\n"
        "  outputs:\n"
        "    bigquery:\n"
        "      type: bigquery\n"
        "      method: oauth-secrets\n"
        "      token: emulator  # any token: the emulator checks none\n"
        f"      api_endpoint: {url}\n"
        f"      project: {PROJECT}\n"
        "      dataset: cadence\n"
        "      location: US\n"
        "      threads: 4\n"
        "      job_retries: 0\n"
    )
    return folder


@dataclass
class DbtRun:
    """One dbt invocation on the emulator: its exit code, output, and each node's status and message."""

    returncode: int
    output: str
    nodes: dict[str, tuple[str, str]]  # unique_id (model.cadence.purchases) -> (status, message)

    def failed(self) -> dict[str, str]:
        """The nodes that did not succeed or pass, by name, with dbt's message."""
        return {
            uid.split(".", 2)[-1]: message
            for uid, (status, message) in self.nodes.items()
            if status not in ("success", "pass")
        }

    def built(self, kind: str) -> set[str]:
        """The names of the nodes of one kind (model, test, operation) the run went through."""
        return {uid.split(".", 2)[-1] for uid in self.nodes if uid.startswith(f"{kind}.")}


def dbt_build(
    profiles: Path,
    work: Path,
    window: tuple[datetime, datetime] | None,
    select: tuple[str, ...],
    *flags: str,
    timeout: float = 600,
) -> DbtRun:
    """`dbt build --target bigquery` of ``select`` with the emulator venv's dbt (a subprocess), the window
    in the environment as Cosmos passes it; data tests run, unit tests do not (they have their own test)."""
    env = {
        key: value
        for key, value in os.environ.items()
        if not key.startswith(("DBT_", "VIRTUAL_ENV", "PYTHON"))
    }
    env.update({"DBT_TARGET": "bigquery", "DO_NOT_TRACK": "1", "DBT_SEND_ANONYMOUS_USAGE_STATS": "false"})
    if window:
        env["DBT_WINDOW_START"], env["DBT_WINDOW_END"] = (f"{moment:%Y-%m-%d %H:%M:%S}" for moment in window)
    results = work / "target" / "run_results.json"
    results.unlink(missing_ok=True)
    finished = subprocess.run(
        [str(VENV / "bin" / "dbt"), "build", "--project-dir", str(ROOT / "dbt"),
         "--profiles-dir", str(profiles), "--target", "bigquery", "--target-path", str(work / "target"),
         "--log-path", str(work / "logs"), "--select", *select, "--exclude", "resource_type:unit_test",
         "--vars", DBT_VARS, *flags],
        env=env, capture_output=True, text=True, timeout=timeout, cwd=work,
    )  # fmt: skip
    nodes = {}
    if results.exists():
        for result in json.loads(results.read_text())["results"]:
            nodes[result["unique_id"]] = (result["status"], result.get("message") or "")
    return DbtRun(finished.returncode, finished.stdout + finished.stderr, nodes)

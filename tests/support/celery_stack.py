"""The docker-compose topology, natively: CeleryExecutor + Redis broker + Postgres metadata/result backend.

:class:`CeleryStack` extends :class:`tests.support.stack.AirflowStack` (api-server, scheduler, dag-processor,
triggerer in a temporary home) with what compose adds: a fresh Postgres metadata database (also the Celery
result backend), a Redis broker, one ``airflow celery worker``, and a Postgres *source* database that the
simulator seeds. Redis is a private ``redis-server`` on a port of the h10 range (:class:`RedisServer`), so a
test can kill and restart it without touching the machine's shared Redis on 6379. Everything is removed
on exit: both databases are dropped, the broker DB is flushed, every process is stopped.

    with RedisServer(port) as redis, CeleryStack(tmp, port=8101, redis=redis) as stack:
        stack.seed_source(until=now, hours=3)
        run_id = stack.trigger("purchases", conf={...})
        assert stack.wait("purchases", run_id) == "success"
"""

from __future__ import annotations

import contextlib
import os
import secrets
import shutil
import signal
import subprocess
import sys
import time
from datetime import datetime, timedelta
from pathlib import Path

from cadence.config import PROJECT_ROOT

from tests.support.source_dbs import POSTGRES, SourceConnection, _psql, unique_name
from tests.support.stack import AirflowStack, StackError, free_port

H10_PORTS = range(8101, 8111)
BROKER_DB = 1  # h10's Redis DB indexes are 1-3
WORKER = "celery-worker"
HEALTHCHECK_APP = "airflow.providers.celery.executors.celery_executor.app"  # as in docker-compose.yaml

PREPARE = """
import json, os
from pathlib import Path
from airflow.models.pool import Pool
from airflow.utils import db
from airflow.utils.session import create_session
db.initdb()
with create_session() as session:
    Pool.create_or_update_pool("duckdb", slots=1, include_deferred=False, session=session,
                               description="DuckDB allows one writer process")
home = Path(os.environ["AIRFLOW_HOME"])
(home / "passwords.json").write_text(json.dumps({"admin": "admin"}))
"""


class RedisServer:
    """A private, non-persistent ``redis-server`` (``--save '' --appendonly no``) that can be restarted.

    It takes a password of its own: a Celery worker left over from an interrupted run, still retrying its
    broker on this port, cannot connect and take this stack's tasks (seen: tasks "stuck in queued")."""

    def __init__(self, port: int, root: Path):
        self.port = port
        self.root = Path(root)
        self.password = secrets.token_hex(16)
        self.process: subprocess.Popen | None = None

    @property
    def url(self) -> str:
        return f"redis://:{self.password}@127.0.0.1:{self.port}/{BROKER_DB}"

    def cli(self, *args: str) -> subprocess.CompletedProcess:
        command = ["redis-cli", "-p", str(self.port), "-a", self.password, "--no-auth-warning", *args]
        return subprocess.run(command, capture_output=True, text=True)

    def start(self) -> None:
        self.root.mkdir(parents=True, exist_ok=True)
        log = (self.root / "redis.log").open("ab")
        self.process = subprocess.Popen(
            ["redis-server", "--port", str(self.port), "--bind", "127.0.0.1", "--save", "", "--appendonly",
             "no", "--dir", str(self.root), "--requirepass", self.password],
            stdout=log, stderr=subprocess.STDOUT, start_new_session=True,
        )  # fmt: skip
        deadline = time.monotonic() + 20
        while time.monotonic() < deadline:
            if self.ping():
                return
            time.sleep(0.2)
        raise StackError(f"redis-server on {self.port} did not answer; see {self.root / 'redis.log'}")

    def ping(self) -> bool:
        return self.cli("ping").stdout.strip() == "PONG"

    def keys(self) -> int:
        return int(self.cli("-n", str(BROKER_DB), "dbsize").stdout.strip() or 0)

    def kill(self) -> None:
        """SIGKILL: the broker disappears with every message it held (it never persists)."""
        if self.process is not None:
            with contextlib.suppress(ProcessLookupError):
                os.killpg(self.process.pid, signal.SIGKILL)
            self.process.wait()
            self.process = None

    def stop(self) -> None:
        if self.process is not None and self.ping():
            self.cli("-n", str(BROKER_DB), "flushdb")
        self.kill()

    def __enter__(self) -> RedisServer:
        self.start()
        return self

    def __exit__(self, *exc) -> None:
        self.stop()


class CeleryStack(AirflowStack):
    """The compose topology on this machine's Postgres and a private Redis (see the module docstring)."""

    def __init__(
        self, root: Path | str, port: int, *, redis: RedisServer, worker_concurrency: int = 2, **kwargs
    ):
        self.meta_db = unique_name("meta")
        self.source = SourceConnection("postgres", schema=unique_name("src"), **POSTGRES)
        self.redis = redis
        super().__init__(root, port, **kwargs)
        metadata = (
            f"postgresql+psycopg2://{POSTGRES['login']}@{POSTGRES['host']}:{POSTGRES['port']}/{self.meta_db}"
        )
        log_ports = [p for p in H10_PORTS if p != port]
        self.environment.pop("AIRFLOW__DATABASE__SQL_ALCHEMY_CONNECT_ARGS", None)  # sqlite-only
        self.environment.update(
            {
                "AIRFLOW__CORE__EXECUTOR": "CeleryExecutor",
                "AIRFLOW__DATABASE__SQL_ALCHEMY_CONN": metadata,
                "AIRFLOW__CELERY__RESULT_BACKEND": "db+" + metadata.replace("+psycopg2", ""),
                "AIRFLOW__CELERY__BROKER_URL": redis.url,
                "AIRFLOW__CELERY__WORKER_CONCURRENCY": str(worker_concurrency),
                # As docker-compose.yaml: the worker loads the task libraries once (cadence.preload).
                "AIRFLOW__CELERY__CELERY_CONFIG_OPTIONS": "cadence.celery_config.CELERY_CONFIG",
                "AIRFLOW__LOGGING__WORKER_LOG_SERVER_PORT": str(free_port(log_ports)),
                "AIRFLOW__LOGGING__TRIGGER_LOG_SERVER_PORT": str(free_port(log_ports[::-1])),
                "AIRFLOW_CONN_CADENCE_SOURCE": self.source.as_json(),
                **(kwargs.get("env") or {}),
            }
        )
        self.commands[WORKER] = ["airflow", "celery", "worker", "--concurrency", str(worker_concurrency)]

    # ------------------------------------------------------------------ lifecycle

    def start(self) -> None:
        if not self.redis.ping():
            raise StackError(f"no Redis on {self.redis.url}")
        _psql(f"create database {self.meta_db}")
        _psql(f"create database {self.source.schema}")
        environment = {**os.environ, **self.environment}
        prepared = subprocess.run(
            [sys.executable, "-c", PREPARE], env=environment, cwd=PROJECT_ROOT, capture_output=True, text=True
        )
        if prepared.returncode:
            raise StackError(f"preparing the metadata DB {self.meta_db} failed:\n{prepared.stderr[-3000:]}")
        from cadence import local

        self._processes = local.start_services(self.commands, environment, self.logs)
        self._wait_until_healthy()
        self._login()
        self.wait_for_worker()

    def _login(self) -> None:
        """Log in (retrying: a 2-core machine under load answers slowly) with a patient API client."""
        import httpx

        for attempt in range(3):
            try:
                super()._login()
                break
            except httpx.HTTPError:
                if attempt == 2:
                    raise
                time.sleep(5)
        self._client.timeout = httpx.Timeout(120)

    def stop(self, timeout: float = 20) -> None:
        super().stop(timeout)
        for database in (self.meta_db, self.source.schema):
            with contextlib.suppress(subprocess.CalledProcessError):
                _psql(f"drop database if exists {database} with (force)")
        if self.redis.ping():
            self.redis.cli("-n", str(BROKER_DB), "flushdb")

    # ------------------------------------------------------------------ the worker

    def ping_worker(self) -> subprocess.CompletedProcess:
        """compose's worker healthcheck, verbatim: ``celery --app … inspect ping -d celery@$HOSTNAME``."""
        import socket

        return subprocess.run(
            ["celery", "--app", HEALTHCHECK_APP, "inspect", "ping", "-d", f"celery@{socket.gethostname()}",
             "--timeout", "5"],
            env={**os.environ, **self.environment}, capture_output=True, text=True, cwd=PROJECT_ROOT,
        )  # fmt: skip

    def wait_for_worker(self, timeout: float = 90) -> str:
        deadline = time.monotonic() + timeout
        answer = None
        while time.monotonic() < deadline:
            answer = self.ping_worker()
            if answer.returncode == 0 and "pong" in answer.stdout:
                return answer.stdout
            if self._processes[WORKER].poll() is not None:
                raise StackError(f"the Celery worker exited; see {self.log_path(WORKER)}")
            time.sleep(2)
        raise StackError(f"the Celery worker did not answer ping in {timeout} s: {answer and answer.stderr}")

    def kill_worker(self) -> None:
        """SIGKILL the worker and every process under it (its pool children and their task processes)."""
        import psutil

        worker = self._processes[WORKER]
        family = [worker.pid]
        with contextlib.suppress(psutil.Error):
            family += [child.pid for child in psutil.Process(worker.pid).children(recursive=True)]
        with contextlib.suppress(ProcessLookupError):
            os.killpg(worker.pid, signal.SIGKILL)
        for pid in family:
            with contextlib.suppress(ProcessLookupError):
                os.kill(pid, signal.SIGKILL)
        worker.wait()

    def restart_worker(self, wait: bool = True) -> None:
        """Start the worker again; with ``wait``, until it answers the healthcheck (a `celery inspect` process
        per try: tens of seconds on a busy machine, time in which a run's next tasks may already be done)."""
        self._start(WORKER)
        if wait:
            self.wait_for_worker()

    def restart_scheduler(self, **environment: str) -> None:
        """Stop the scheduler and start it again with ``environment`` added (e.g. the schedule turned off)."""
        scheduler = self._processes["scheduler"]
        with contextlib.suppress(ProcessLookupError):
            os.killpg(scheduler.pid, signal.SIGTERM)
        try:
            scheduler.wait(30)
        except subprocess.TimeoutExpired:
            os.killpg(scheduler.pid, signal.SIGKILL)
            scheduler.wait()
        self.environment.update(environment)
        self._start("scheduler")
        self._wait_until_healthy()

    def _start(self, service: str) -> None:
        from cadence import local

        self._processes.update(
            local.start_services(
                {service: self.commands[service]}, {**os.environ, **self.environment}, self.logs
            )
        )

    # ------------------------------------------------------------------ the source database

    def seed_source(self, until: datetime, hours: float, streams=("purchases", "spins_hourly")) -> None:
        """The simulator seeds the Postgres source database (as compose's simulator service does);
        ``seeded_until`` remembers the end, which scenarios derive their ranges from."""
        command = [sys.executable, "-m", "cadence.simulator.cli", "seed", "--days", str(hours / 24),
                   "--until", until.isoformat(), "--streams", *streams]  # fmt: skip
        result = subprocess.run(
            command, env={**os.environ, **self.environment}, cwd=PROJECT_ROOT, capture_output=True, text=True
        )
        if result.returncode:
            raise StackError(f"seeding {self.source.schema} failed:\n{result.stderr[-3000:]}")
        self.seeded_until = until

    def empty_lake_and_warehouse(self) -> None:
        shutil.rmtree(self.data_dir / "lake", ignore_errors=True)
        for name in ("warehouse.duckdb", "warehouse.duckdb.wal"):
            (self.data_dir / name).unlink(missing_ok=True)


def running_task(
    stack: AirflowStack, dag_id: str, run_id: str, task_prefix: str, timeout: float = 420
) -> str:
    """Wait until a task whose id starts with ``task_prefix`` is running in the run; return its id. On a
    time-out the error lists the run's task states (a retry still waiting, a task that ran between polls)."""
    seen: dict[str, str | None] = {}

    def find():
        seen.update(stack.task_states(dag_id, run_id))
        return next((t for t, s in seen.items() if t.startswith(task_prefix) and s == "running"), None)

    try:
        return stack.wait_until(find, timeout, poll=0.3, what=f"{dag_id} {task_prefix}* running")
    except StackError as error:
        raise StackError(f"{error}; task states: {seen}") from error


def utc_hour(moment: datetime) -> datetime:
    return moment.replace(minute=0, second=0, microsecond=0)


__all__ = ["CeleryStack", "RedisServer", "running_task", "timedelta", "utc_hour"]

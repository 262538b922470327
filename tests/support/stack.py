"""A real Airflow stack in a temporary home, for tests and benchmarks that need a scheduler (test
machinery: it lives beside the tests, shared with bench/, and is not shipped in the image).

``dag.test()`` runs a DAG in-process; this runs it the way `make up` does — api-server, scheduler (with
LocalExecutor workers), dag-processor and triggerer as separate processes — but in its own Airflow home and
data folder on another port, so it never touches the `make up` stack::

    with AirflowStack(tmp_path, port=8095) as stack:
        run_id = stack.trigger("purchases", conf={"backfill_start": "…", "backfill_end": "…"})
        assert stack.wait("purchases", run_id, timeout=150) == "success"
        for run_id in stack.backfill("spins", from_date, to_date):  # Airflow's own backfill
            assert stack.wait("spins", run_id) == "success"

The environment, metadata-DB preparation (connections, the one-slot ``duckdb`` pool) and process start-up
are :mod:`cadence.local`'s. By default the scheduler creates no scheduled runs (``[scheduler]
use_job_schedule = False``) and DAGs are unpaused at creation, so exactly the triggered runs execute; pass
``scheduled_runs=True`` for the cron runs too. ``home``/``data_dir`` are ``<root>/airflow`` and
``<root>/data``; on a failed run or an error inside the ``with`` block the service log paths and the tail
of the scheduler log are printed to stderr.
"""

from __future__ import annotations

import contextlib
import os
import signal
import socket
import subprocess
import sys
import time
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from cadence import local
from cadence.config import PROJECT_ROOT

AIRFLOW_SERVICES = ("api-server", "scheduler", "dag-processor", "triggerer")
FINISHED = {"success", "failed"}
BACKFILL_ATTEMPTS = 5


class StackError(RuntimeError):
    """The stack did not start, a DAG did not appear, or a run did not finish in time."""


def free_port(candidates: range | None = None) -> int:
    """The first port of ``candidates`` nothing listens on (raises if all are taken); by default the range
    in TEST_STACK_PORTS (``first-last``, for several people on one machine), else 8093-8099."""
    if candidates is None:
        first, last = os.environ.get("TEST_STACK_PORTS", "8093-8099").split("-")
        candidates = range(int(first), int(last) + 1)
    for port in candidates:
        if _port_is_free(port):
            return port
    raise StackError(f"no free port in {candidates.start}-{candidates.stop - 1}")


def _port_is_free(port: int) -> bool:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as probe:
        probe.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            probe.bind(("0.0.0.0", port))
        except OSError:
            return False
    return True


def _any_free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def _tail(path: Path, lines: int) -> str:
    if not path.exists():
        return f"({path} does not exist)"
    return "\n".join(path.read_text(errors="replace").splitlines()[-lines:])


class AirflowStack:
    """api-server, scheduler, dag-processor and triggerer in ``<root>/airflow`` on ``port``.

    :param services: which of :func:`cadence.local.service_commands` to run (add ``"simulator"`` for the
        live source feed).
    :param parallelism: LocalExecutor worker processes (each is an idle ~150 MB process; 2 cores here).
    :param scheduled_runs: let the scheduler create the cron runs; off by default so only triggered runs run.
    :param paused_at_creation: DAGs start paused (their triggered runs then wait for :meth:`unpause`).
    :param env: extra environment for every process, applied last (e.g. ``CADENCE_*`` settings).
    """

    def __init__(
        self,
        root: Path | str,
        port: int = 8095,
        *,
        services: tuple[str, ...] = AIRFLOW_SERVICES,
        parallelism: int = 2,
        scheduled_runs: bool = False,
        paused_at_creation: bool = False,
        env: dict[str, str] | None = None,
        start_timeout: float = 150,
    ):
        self.root = Path(root).resolve()
        self.home = self.root / "airflow"
        self.data_dir = self.root / "data"
        self.logs = self.home / "logs"
        self.port = port
        self.url = f"http://localhost:{port}"
        self.start_timeout = start_timeout
        commands = local.service_commands(port)
        unknown = set(services) - set(commands)
        if unknown or "api-server" not in services:
            raise ValueError(f"services must include api-server and be among {sorted(commands)}: {services}")
        self.commands = {name: commands[name] for name in services}
        self.home.mkdir(parents=True, exist_ok=True)
        self.data_dir.mkdir(parents=True, exist_ok=True)
        #: The stack's own variables (Airflow config, connections, CADENCE_DATA_DIR); every process gets
        #: them on top of this process's environment.
        self.environment: dict[str, str] = {
            **local.airflow_environment(self.home, port, self.data_dir),
            "CADENCE_UI_PORT": str(port),
            "AIRFLOW__CORE__PARALLELISM": str(parallelism),
            "AIRFLOW__SCHEDULER__USE_JOB_SCHEDULE": str(scheduled_runs),
            "AIRFLOW__CORE__DAGS_ARE_PAUSED_AT_CREATION": str(paused_at_creation),
            # The `make up` stack serves task and triggerer logs on 8793/8794; take other ports.
            "AIRFLOW__LOGGING__WORKER_LOG_SERVER_PORT": str(_any_free_port()),
            "AIRFLOW__LOGGING__TRIGGER_LOG_SERVER_PORT": str(_any_free_port()),
            "AIRFLOW__COSMOS__CACHE_DIR": str(self.root / "cosmos"),
            **(env or {}),
        }
        self._processes: dict[str, subprocess.Popen] = {}
        self._client = None
        self._parsed: set[str] = set()

    # ------------------------------------------------------------------ lifecycle

    def __enter__(self) -> AirflowStack:
        try:
            self.start()
        except BaseException:
            self.report()
            self.stop()
            raise
        return self

    def __exit__(self, exc_type, exc, traceback) -> None:
        if exc_type is not None:
            self.report()
        self.stop()

    def start(self) -> None:
        if not _port_is_free(self.port):
            raise StackError(f"port {self.port} is in use; pick another (tests.support.stack.free_port())")
        environment = {**os.environ, **self.environment}
        prepared = subprocess.run(
            [sys.executable, "-m", "cadence.local", "prepare"],
            env=environment,
            cwd=PROJECT_ROOT,
            capture_output=True,
            text=True,
        )
        if prepared.returncode:
            raise StackError(f"preparing {self.home} failed:\n{prepared.stdout}\n{prepared.stderr}")
        self._processes = local.start_services(self.commands, environment, self.logs)
        self._wait_until_healthy()
        self._login()

    def _wait_until_healthy(self) -> None:
        import httpx

        wanted = {"scheduler", "dag-processor", "triggerer"} & set(self.commands)
        deadline = time.monotonic() + self.start_timeout
        status: Any = "no answer"
        while time.monotonic() < deadline:
            self._check_alive("while starting")
            with contextlib.suppress(httpx.HTTPError, ValueError):
                status = httpx.get(f"{self.url}/api/v2/monitor/health", timeout=3, trust_env=False).json()
                healthy = {
                    name
                    for name in wanted
                    if (status.get(name.replace("-", "_")) or {}).get("status") == "healthy"
                }
                if healthy == wanted:
                    return
            time.sleep(0.5)
        raise StackError(f"the stack on {self.url} was not healthy after {self.start_timeout} s: {status}")

    def _check_alive(self, when: str) -> None:
        """Raise at once if a service has exited (a dead scheduler leaves every run queued for good)."""
        for name, process in self._processes.items():
            if process.poll() is not None:
                raise StackError(
                    f"{name} exited with {process.returncode} {when}; its log "
                    f"{self.log_path(name)} ends:\n{_tail(self.log_path(name), 30)}"
                )

    def _login(self) -> None:
        import httpx

        response = httpx.post(
            f"{self.url}/auth/token",
            json={"username": local.USERNAME, "password": local.admin_password(self.home)[0]},
            timeout=10,
            trust_env=False,  # localhost: never through a proxy from the environment
        )
        response.raise_for_status()
        token = response.json()["access_token"]
        self._client = httpx.Client(
            base_url=f"{self.url}/api/v2",
            headers={"Authorization": f"Bearer {token}"},
            timeout=30,
            trust_env=False,
        )

    def stop(self, timeout: float = 3) -> None:
        """Stop every process group the stack started, and any task process that left its group; what has
        not exited ``timeout`` s after SIGTERM is killed (a throwaway stack: the triggerer alone would wait
        10 s for its triggers to clean up)."""
        import psutil

        if self._client is not None:
            self._client.close()
            self._client = None
        descendants: list[psutil.Process] = []
        for process in self._processes.values():
            with contextlib.suppress(psutil.Error):
                descendants += psutil.Process(process.pid).children(recursive=True)
        for process in self._processes.values():
            with contextlib.suppress(ProcessLookupError, PermissionError):
                os.killpg(process.pid, signal.SIGTERM)
        deadline = time.monotonic() + timeout
        for process in self._processes.values():
            with contextlib.suppress(subprocess.TimeoutExpired):
                process.wait(max(0.1, deadline - time.monotonic()))
        for process in self._processes.values():
            with contextlib.suppress(ProcessLookupError, PermissionError):
                os.killpg(process.pid, signal.SIGKILL)  # the group, even when its leader already exited
            process.wait()
        for child in descendants:  # task processes run in process groups of their own
            with contextlib.suppress(psutil.Error):
                child.kill()
        psutil.wait_procs(descendants, timeout=5)
        self._processes = {}

    # ------------------------------------------------------------------ logs

    def log_path(self, service: str) -> Path:
        return self.logs / f"{service}.log"

    def task_log_paths(self, dag_id: str, run_id: str) -> list[Path]:
        folder = self.logs / f"dag_id={dag_id}" / f"run_id={run_id}"
        return sorted(folder.rglob("*.log")) if folder.exists() else []

    def report(self, dag_id: str | None = None, run_id: str | None = None, lines: int = 40) -> None:
        """Print where the logs are and the tail of the scheduler log (and failed task logs) to stderr."""
        out = [f"Airflow stack on {self.url}, home {self.home}; service logs:"]
        out += [f"  {self.log_path(name)}" for name in self.commands]
        if dag_id and run_id:
            states: dict[str, str | None] = {}
            with contextlib.suppress(Exception):
                states = self.task_states(dag_id, run_id)
                out.append(f"task states of {dag_id} {run_id}: {states}")
            for path in self.task_log_paths(dag_id, run_id):
                out.append(f"task log {path}")
                if any(f"task_id={task}" in str(path) for task, state in states.items() if state == "failed"):
                    out.append(_tail(path, lines))
        out.append(f"--- last {lines} lines of {self.log_path('scheduler')}:")
        out.append(_tail(self.log_path("scheduler"), lines))
        print("\n".join(out), file=sys.stderr)

    # ------------------------------------------------------------------ REST API

    @property
    def api(self):
        """An ``httpx.Client`` on ``/api/v2`` with the admin's token."""
        if self._client is None:
            raise StackError("the stack is not running (use it as a context manager)")
        return self._client

    def _call(self, method: str, path: str, **kwargs) -> Any:
        response = self.api.request(method, path, **kwargs)
        if response.is_error:
            raise StackError(f"{method} {path} -> {response.status_code}: {response.text}")
        return response.json() if response.content else None

    def wait_for_dag(self, dag_id: str, timeout: float = 120) -> dict:
        """Wait until the dag-processor has parsed ``dag_id``; fail at once on an import error of its file
        (``dags/<dag_id>.py``; errors in other files are reported only if it never appears)."""
        deadline = time.monotonic() + timeout
        errors: list[dict] = []
        while time.monotonic() < deadline:
            response = self.api.get(f"/dags/{dag_id}")
            if response.status_code == 200:
                self._parsed.add(dag_id)
                return response.json()
            errors = self.api.get("/importErrors").json().get("import_errors", [])
            own = [e for e in errors if Path(e.get("filename") or "").stem == dag_id]
            if own:
                raise StackError(f"{dag_id} failed to import: {own[0].get('stack_trace')}")
            time.sleep(0.5)
        raise StackError(
            f"DAG {dag_id} was not parsed in {timeout} s; see {self.log_path('dag-processor')}"
            + (f"; import errors: {errors}" if errors else "")
        )

    def pause(self, dag_id: str) -> None:
        self._set_paused(dag_id, True)

    def unpause(self, dag_id: str) -> None:
        self._set_paused(dag_id, False)

    def is_paused(self, dag_id: str) -> bool:
        return self._call("GET", f"/dags/{dag_id}")["is_paused"]

    def _set_paused(self, dag_id: str, paused: bool) -> None:
        if dag_id not in self._parsed:
            self.wait_for_dag(dag_id)
        self._call(
            "PATCH", f"/dags/{dag_id}", params={"update_mask": "is_paused"}, json={"is_paused": paused}
        )

    def trigger(self, dag_id: str, conf: dict | None = None, logical_date: datetime | None = None) -> str:
        """Create a manual run (logical date now unless given) and return its run id.

        A paused DAG's runs stay queued until :meth:`unpause`.
        """
        if dag_id not in self._parsed:
            self.wait_for_dag(dag_id)
        body = {"logical_date": (logical_date or datetime.now(UTC)).isoformat(), "conf": conf or {}}
        return self._call("POST", f"/dags/{dag_id}/dagRuns", json=body)["dag_run_id"]

    def reparse(self, dag_id: str) -> None:
        """Have the dag-processor parse ``dag_id``'s file now (the UI's Reparse button)."""
        token = self._call("GET", f"/dags/{dag_id}")["file_token"]
        self._call("PUT", f"/parseDagFile/{token}")

    def run(self, dag_id: str, run_id: str) -> dict:
        return self._call("GET", f"/dags/{dag_id}/dagRuns/{run_id}")

    def runs(self, dag_id: str) -> list[dict]:
        """Every run of ``dag_id``, oldest first: run_id, state, run_type, conf, start/end dates, …"""
        runs: list[dict] = []
        while True:
            page = self._call(
                "GET",
                f"/dags/{dag_id}/dagRuns",
                params={"order_by": "id", "limit": 100, "offset": len(runs)},
            )
            runs += page["dag_runs"]
            if not page["dag_runs"] or len(runs) >= page["total_entries"]:
                return runs

    def wait(self, dag_id: str, run_id: str, timeout: float = 300, poll: float = 0.5) -> str:
        """Wait for the run to finish and return its state; on failure or timeout print the logs' tails."""
        deadline = time.monotonic() + timeout
        state = None
        while time.monotonic() < deadline:
            self._check_alive(f"while {dag_id} {run_id} was {state or 'starting'}")
            state = self.run(dag_id, run_id)["state"]
            if state in FINISHED:
                if state != "success":
                    self.report(dag_id, run_id)
                return state
            time.sleep(poll)
        self.report(dag_id, run_id)
        paused = self.is_paused(dag_id)
        raise StackError(
            f"{dag_id} {run_id} still {state} after {timeout} s"
            + (" (the DAG is paused: unpause it)" if paused else "")
        )

    def wait_until(self, predicate, timeout: float, poll: float = 0.5, what: str = "a condition"):
        """Poll ``predicate()`` until it returns something truthy, and return that; raise on timeout."""
        deadline = time.monotonic() + timeout
        while True:
            self._check_alive(f"while waiting for {what}")
            result = predicate()
            if result:
                return result
            if time.monotonic() >= deadline:
                raise StackError(f"{what} did not happen within {timeout} s")
            time.sleep(poll)

    def delete_run(self, dag_id: str, run_id: str) -> None:
        """Delete a run (e.g. one queued behind a paused DAG that a test does not want to execute)."""
        self._call("DELETE", f"/dags/{dag_id}/dagRuns/{run_id}")

    def backfill(
        self,
        dag_id: str,
        from_date: datetime,
        to_date: datetime,
        *,
        max_active_runs: int = 1,
        reprocess_behavior: str = "none",
        dag_run_conf: dict | None = None,
    ) -> list[str]:
        """Create an Airflow backfill (``POST /backfills``, what `airflow backfill create` and the UI do) and
        return the ids of the runs it created, oldest logical date first.

        ``from_date``/``to_date`` bound the runs' logical dates (both inclusive; for a data-interval
        timetable the logical date is the interval start). The scheduler runs them, at most
        ``max_active_runs`` at a time and apart from the DAG's own ``max_active_runs``.
        """
        if dag_id not in self._parsed:
            self.wait_for_dag(dag_id)
        body = {
            "dag_id": dag_id,
            "from_date": from_date.isoformat(),
            "to_date": to_date.isoformat(),
            "max_active_runs": max_active_runs,
            "reprocess_behavior": reprocess_behavior,
            "dag_run_conf": dag_run_conf,
        }
        # On SQLite, Airflow refuses (503) a backfill while another process holds the write lock and
        # deletes the runs it had already created: asking again is what a user would do. A scheduler that
        # started one of those runs meanwhile dies on the deleted row (Airflow 3.3), so the DAG stays
        # paused until the backfill exists (queued runs of a paused DAG are not started).
        was_paused = self.is_paused(dag_id)
        self.pause(dag_id)
        try:
            for attempt in range(BACKFILL_ATTEMPTS):
                response = self.api.post("/backfills", json=body)
                if response.status_code != 503 or attempt == BACKFILL_ATTEMPTS - 1:
                    break
                time.sleep(3)
        finally:
            if not was_paused:
                self.unpause(dag_id)
        if response.is_error:
            raise StackError(f"POST /backfills -> {response.status_code}: {response.text}")
        created = response.json()
        low, high = from_date.astimezone(UTC), to_date.astimezone(UTC)
        runs = [
            run
            for run in self.runs(dag_id)
            if run["run_type"] == "backfill"
            and low <= datetime.fromisoformat(run["logical_date"].replace("Z", "+00:00")) <= high
        ]
        if not runs:
            raise StackError(f"backfill {created['id']} of {dag_id} created no runs: {created}")
        return [run["dag_run_id"] for run in sorted(runs, key=lambda run: run["logical_date"])]

    def task_instances(self, dag_id: str, run_id: str) -> list[dict]:
        """The run's task instances as the API gives them (state, start/end dates, duration, …)."""
        path = f"/dags/{dag_id}/dagRuns/{run_id}/taskInstances"
        return self._call("GET", path, params={"limit": 1000})["task_instances"]

    def task_states(self, dag_id: str, run_id: str) -> dict[str, str | None]:
        return {
            ti["task_id"] if ti["map_index"] < 0 else f"{ti['task_id']}[{ti['map_index']}]": ti["state"]
            for ti in self.task_instances(dag_id, run_id)
        }

"""The embedded local stack behind `make up` / `make down`: Airflow on SQLite + LocalExecutor, no Docker.

``up`` prepares a project-local Airflow home (.airflow/), creates the connections and the one-slot DuckDB
pool, seeds the source database with recent history, then starts api-server, scheduler, dag-processor,
triggerer and the simulator's live feed as background processes, and waits until the UI answers.
``down`` stops them. Everything is idempotent: a second ``up`` reuses the home and starts in seconds.

The environment, preparation and process start-up are shared with :mod:`cadence.stack`, which runs the same
stack in a temporary home on another port for tests and benchmarks.
"""

from __future__ import annotations

import argparse
import json
import os
import secrets
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

from cadence import processes
from cadence.config import PROJECT_ROOT, Settings, get_settings, load_settings

HOME = Path(os.environ.get("AIRFLOW_HOME", PROJECT_ROOT / ".airflow"))
PIDS = HOME / "cadence-pids.json"
PORT = int(os.environ.get("CADENCE_UI_PORT", "8080"))
USERNAME, PASSWORD = "admin", "admin"


def service_commands(port: int = PORT) -> dict[str, list[str]]:
    """The long-running processes of the stack, by name (the api-server listens on ``port``)."""
    return {
        "api-server": ["airflow", "api-server", "--port", str(port)],
        "scheduler": ["airflow", "scheduler"],
        "dag-processor": ["airflow", "dag-processor"],
        "triggerer": ["airflow", "triggerer"],
        "simulator": ["cadence-simulate", "run", "--every", "60"],
    }


SERVICES = service_commands()


def _secret(name: str, home: Path = HOME) -> str:
    """A per-install random secret kept in the Airflow home, so every process agrees on it."""
    path = home / f".{name}"
    if not path.exists():
        path.write_text(secrets.token_urlsafe(32))
    return path.read_text().strip()


# Four Airflow processes share one SQLite file: a writer waits up to 30 s for the lock instead of failing
# after sqlite3's default 5 s (seen once under load: a REST trigger lost to a 7 s task-state update).
SQLITE_CONNECT_ARGS = {"timeout": 30}

# Seconds without a task heartbeat (sent every 5 s) before the scheduler fails the task; detection runs
# every 5 s, so a dead supervisor is seen within 50 s.
HEARTBEAT_TIMEOUT = 45


def airflow_environment(home: Path = HOME, port: int = PORT, data_dir: Path | None = None) -> dict[str, str]:
    """The Airflow configuration of the local stack, as environment variables for every process.

    ``home``, ``port`` and ``data_dir`` default to the `make up` stack (AIRFLOW_HOME, CADENCE_UI_PORT,
    CADENCE_DATA_DIR); :mod:`cadence.stack` passes its own to run a second stack beside it.
    """
    settings = get_settings() if data_dir is None else load_settings(data_dir=data_dir)
    bin_dir = Path(sys.executable).parent
    return {
        "PATH": f"{bin_dir}{os.pathsep}{os.environ.get('PATH', '')}",
        "AIRFLOW_HOME": str(home),
        "AIRFLOW__CORE__DAGS_FOLDER": str(PROJECT_ROOT / "dags"),
        "AIRFLOW__CORE__LOAD_EXAMPLES": "False",
        "AIRFLOW__CORE__EXECUTOR": "LocalExecutor",
        "AIRFLOW__CORE__PARALLELISM": "4",  # four worker processes: enough for the cadences, light on RAM
        "AIRFLOW__CORE__DAGS_ARE_PAUSED_AT_CREATION": "False",
        "AIRFLOW__DATABASE__SQL_ALCHEMY_CONN": f"sqlite:///{home / 'airflow.db'}",
        "AIRFLOW__DATABASE__SQL_ALCHEMY_CONNECT_ARGS": "cadence.local.SQLITE_CONNECT_ARGS",
        "AIRFLOW__CORE__SIMPLE_AUTH_MANAGER_USERS": f"{USERNAME}:admin",
        "AIRFLOW__CORE__SIMPLE_AUTH_MANAGER_PASSWORDS_FILE": str(home / "passwords.json"),
        "AIRFLOW__API_AUTH__JWT_SECRET": _secret("jwt_secret", home),
        "AIRFLOW__API__SECRET_KEY": _secret("api_secret", home),
        "AIRFLOW__CORE__EXECUTION_API_SERVER_URL": f"http://localhost:{port}/execution/",
        # A task whose supervisor died (killed, machine slept) is failed within a minute, not after 5.
        "AIRFLOW__SCHEDULER__TASK_INSTANCE_HEARTBEAT_TIMEOUT": str(HEARTBEAT_TIMEOUT),
        "AIRFLOW__SCHEDULER__TASK_INSTANCE_HEARTBEAT_TIMEOUT_DETECTION_INTERVAL": "5",
        "AIRFLOW__COSMOS__ENABLE_TELEMETRY": "False",
        "DO_NOT_TRACK": "1",
        "SCARF_NO_ANALYTICS": "true",
        "CADENCE_DATA_DIR": str(settings.data_dir),
        **{f"AIRFLOW_CONN_{c.conn_id.upper()}": c.as_json() for c in local_connections(settings)},
    }


def local_connections(settings: Settings | None = None) -> list:
    """The local stack's connections. Every process gets them as AIRFLOW_CONN_* variables (the CLI and
    the live feed cannot read the metadata DB through the Task SDK); they are stored in the DB too, so the
    UI lists them."""
    from airflow.models import Connection

    settings = settings or get_settings()
    return [
        Connection(
            conn_id=settings.source_conn_id,
            conn_type="sqlite",
            host=str(settings.source_db_path),
            description="Game backend (simulated): SQLite in WAL mode",
        ),
        Connection(
            conn_id=settings.warehouse_conn_id,
            conn_type="duckdb",
            host=str(settings.duckdb_path),
            description="DuckDB warehouse; every task opening it uses the duckdb pool",
        ),
    ]


def prepare() -> None:
    """Migrate the metadata DB and create the connections and pool (in-process: the CLI is slow)."""
    HOME.mkdir(parents=True, exist_ok=True)
    os.environ.update(airflow_environment())
    (HOME / "passwords.json").write_text(json.dumps({USERNAME: PASSWORD}))
    settings = get_settings()
    settings.data_dir.mkdir(parents=True, exist_ok=True)

    from airflow.models import Connection
    from airflow.models.pool import Pool
    from airflow.utils import db
    from airflow.utils.session import create_session

    db.initdb()
    with create_session() as session:
        for connection in local_connections():
            session.query(Connection).filter(Connection.conn_id == connection.conn_id).delete()
            session.add(connection)
        Pool.create_or_update_pool(
            settings.duckdb_pool,
            slots=1,
            include_deferred=False,
            session=session,
            description="DuckDB allows one writer process: every task that opens the file runs here",
        )
    print(f"Airflow home ready: {HOME} (connections {settings.source_conn_id}, {settings.warehouse_conn_id})")


def seed_source() -> None:
    """Create recent history for every stream not started yet, and catch the others up to now."""
    from cadence.simulator import cli

    cli.main(["seed"])


def _running() -> dict[str, int]:
    """The recorded services still alive, by name."""
    return {name: entry["pid"] for name, entry in processes.read(PIDS).items() if processes.is_alive(entry)}


def wait_for_health(port: int = PORT, timeout: float = 120) -> bool:
    """Wait until the api-server on ``port`` answers its health endpoint."""
    url = f"http://localhost:{port}/api/v2/monitor/health"
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            with urllib.request.urlopen(url, timeout=2) as response:
                if response.status == 200:
                    return True
        except OSError:
            pass
        time.sleep(1)
    return False


def up() -> int:
    recorded, running = processes.read(PIDS), _running()
    if set(running) == set(SERVICES):
        print(f"already running: {', '.join(running)}; http://localhost:{PORT}  (make down to stop)")
        return 0
    dead = {name: recorded[name] for name in recorded if name not in running}
    if dead:  # what a dead service left behind (orphaned workers, a log server on its port) goes first
        processes.stop(list(dead.values()))
        print(f"restarting {', '.join(dead)} (not running); still running: {', '.join(running) or 'nothing'}")
    prepare()
    seed_source()
    logs = HOME / "logs"
    missing = {name: command for name, command in SERVICES.items() if name not in running}
    started = start_services(missing, {**os.environ, **airflow_environment()}, logs)
    recorded = {name: recorded[name] for name in running} | {
        name: processes.started(process.pid) for name, process in started.items()
    }
    processes.write(PIDS, recorded)
    print("starting " + ", ".join(missing) + f" (logs in {logs}) …")
    if not wait_for_health():
        print(f"Airflow did not become healthy in time; see {logs}/api-server.log", file=sys.stderr)
        return 1
    print(
        f"\n  Cadence is running: http://localhost:{PORT}   login {USERNAME} / {PASSWORD}\n"
        f"  DAGs run on their schedules; the simulator adds source rows every minute.\n"
        f"  Stop with `make down`.\n"
    )
    return 0


def start_services(
    commands: dict[str, list[str]], environment: dict[str, str], logs: Path
) -> dict[str, subprocess.Popen]:
    """Start each command in its own session (so its process group can be stopped as a whole), appending
    its output to ``logs/<name>.log``."""
    logs.mkdir(parents=True, exist_ok=True)
    processes = {}
    for name, command in commands.items():
        with (logs / f"{name}.log").open("ab") as log:
            processes[name] = subprocess.Popen(
                command,
                env=environment,
                stdout=log,
                stderr=subprocess.STDOUT,
                start_new_session=True,
                cwd=PROJECT_ROOT,
            )
    return processes


def down() -> int:
    """Stop every process the stack started: services, their workers and log servers, task processes
    (SIGTERM, then SIGKILL after a grace period)."""
    recorded = processes.read(PIDS)
    running = _running()
    killed = processes.stop(list(recorded.values()))
    PIDS.unlink(missing_ok=True)
    print(f"stopped: {', '.join(running) or 'nothing was running'}")
    if killed:
        print(f"  ({len(killed)} process(es) ignored SIGTERM and were killed: {killed})")
    return 0


def print_env() -> None:
    """Shell exports of the local stack, for `eval "$(python -m cadence.local env)"` before using the CLIs."""
    import shlex

    for name, value in airflow_environment().items():
        print(f"export {name}={shlex.quote(value)}")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("command", choices=["up", "down", "prepare", "env"])
    command = parser.parse_args(argv).command
    if command in ("prepare", "env"):
        prepare() if command == "prepare" else print_env()
        return 0
    return up() if command == "up" else down()


if __name__ == "__main__":
    raise SystemExit(main())

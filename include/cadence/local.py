"""The embedded local stack behind `make up` / `make down`: Airflow on SQLite + LocalExecutor, no Docker.

``up`` prepares a project-local Airflow home (.airflow/), creates the connections and the one-slot DuckDB
pool, seeds the source database with recent history, then starts api-server, scheduler, dag-processor,
triggerer and the simulator's live feed as background processes, and waits until the UI answers.
``down`` stops them. Everything is idempotent: a second ``up`` reuses the home and starts in seconds.

The environment, preparation and process start-up are shared with ``tests/support/stack.py``, which runs the
same stack in a temporary home on another port for tests and benchmarks.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import secrets
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

from cadence import docs, processes, service_logs
from cadence.config import PROJECT_ROOT, Settings, get_settings, load_settings
from cadence.preload import forkserver_preload

HOME = Path(os.environ.get("AIRFLOW_HOME", PROJECT_ROOT / ".airflow"))
PIDS = HOME / "cadence-pids.json"
PORT = int(os.environ.get("CADENCE_UI_PORT", "8080"))
#: The interface the UI/API listens on: this machine only, unless CADENCE_UI_HOST says otherwise (0.0.0.0).
HOST = os.environ.get("CADENCE_UI_HOST", "127.0.0.1")
USERNAME = "admin"
PASSWORDS_FILE = "passwords.json"  # in the Airflow home: the simple auth manager's users and passwords


def service_commands(port: int = PORT) -> dict[str, list[str]]:
    """The long-running processes of the stack, by name (the api-server listens on ``port``)."""
    return {
        "api-server": ["airflow", "api-server", "--host", HOST, "--port", str(port)],
        # No log servers (~150 MB): every process shares this machine's log folder, which the api-server
        # reads directly (a running task's page notes that no log server answered).
        "scheduler": ["airflow", "scheduler", "--skip-serve-logs"],
        "dag-processor": ["airflow", "dag-processor"],
        "triggerer": ["airflow", "triggerer", "--skip-serve-logs"],
        # One short-lived tick a minute rather than a resident process (~200 MB between ticks).
        "simulator": ["sh", "-c", "while :; do cadence-simulate tick; sleep 60; done"],
    }


SERVICES = service_commands()


def admin_password(home: Path = HOME) -> tuple[str, bool]:
    """The admin's password, generated on first start and kept in the Airflow home (as `airflow standalone`
    does); returns it and whether it was generated just now (so `up` prints it once)."""
    path = home / PASSWORDS_FILE
    if path.exists():
        with contextlib.suppress(ValueError):
            stored = json.loads(path.read_text()).get(USERNAME)
            if stored:
                return stored, False
    password = secrets.token_urlsafe(12)
    home.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps({USERNAME: password}))
    path.chmod(0o600)
    return password, True


def _secret(name: str, home: Path = HOME, make=lambda: secrets.token_urlsafe(32)) -> str:
    """A per-install random secret kept in the Airflow home, so every process agrees on it."""
    path = home / f".{name}"
    if not path.exists():
        home.mkdir(parents=True, exist_ok=True)
        path.write_text(make())
    return path.read_text().strip()


def _fernet_key() -> str:
    from cryptography.fernet import Fernet

    return Fernet.generate_key().decode()


# Four Airflow processes share one SQLite file: a writer waits up to 30 s for the lock instead of failing
# after sqlite3's default 5 s (seen once under load: a REST trigger lost to a 7 s task-state update).
SQLITE_CONNECT_ARGS = {"timeout": 30}

# Seconds without a task heartbeat (sent every 5 s) before the scheduler fails the task; detection runs
# every 5 s, so a dead supervisor is seen within 50 s.
HEARTBEAT_TIMEOUT = 45


#: What keeps the local stack small (bench/bench_memory.py measures it): LocalExecutor forks `parallelism`
#: worker processes up front and each running task adds a supervisor and a task process, so two are
#: enough here (one DuckDB writer at a time anyway); one DAG-file parsing process; one api-server worker.
MEMORY_SETTINGS = {
    "AIRFLOW__CORE__PARALLELISM": "2",
    "AIRFLOW__DAG_PROCESSOR__PARSING_PROCESSES": "1",
    "AIRFLOW__API__WORKERS": "1",
}


def airflow_environment(home: Path = HOME, port: int = PORT, data_dir: Path | None = None) -> dict[str, str]:
    """The Airflow configuration of the local stack, as environment variables for every process.

    ``home``, ``port`` and ``data_dir`` default to the `make up` stack (AIRFLOW_HOME, CADENCE_UI_PORT,
    CADENCE_DATA_DIR); the test harness (``tests/support/stack.py``) passes its own to run a second stack
    beside it.
    """
    settings = get_settings() if data_dir is None else load_settings(data_dir=data_dir)
    bin_dir = Path(sys.executable).parent
    return {
        "PATH": f"{bin_dir}{os.pathsep}{os.environ.get('PATH', '')}",
        "AIRFLOW_HOME": str(home),
        "AIRFLOW__CORE__DAGS_FOLDER": str(PROJECT_ROOT / "dags"),
        # The Cadence UI plugin: the analysts' dashboard and the Data Docs, inside the Airflow UI.
        "AIRFLOW__CORE__PLUGINS_FOLDER": str(PROJECT_ROOT / "plugins"),
        # Cosmos's dbt docs view, on the site the pipeline publishes into the lake (cadence.docs).
        "AIRFLOW__COSMOS__DBT_DOCS_PROJECTS": json.dumps(docs.cosmos_docs_projects(settings)),
        # Service logs are files: no ANSI colour codes in them.
        "AIRFLOW__LOGGING__COLORED_CONSOLE_LOG": "False",
        "AIRFLOW__CORE__LOAD_EXAMPLES": "False",
        "AIRFLOW__CORE__EXECUTOR": "LocalExecutor",
        # Workers forked from a forkserver that loaded the task libraries once (cadence.preload).
        "AIRFLOW__SCHEDULER__MP_START_METHOD": "forkserver",
        "AIRFLOW__CORE__MP_FORKSERVER_PRELOAD": forkserver_preload(),
        # An idle scheduler loop looks again after 0.5 s, not 1 s: the next task of a 5-minute window is
        # queued sooner (each of a run's ~5 hand-offs waited ~0.5 s more on average).
        "AIRFLOW__SCHEDULER__SCHEDULER_IDLE_SLEEP_TIME": "0.5",
        # A DAG file is parsed again when it changes (its mtime) and otherwise every 5 minutes, not every
        # 30 s: each parse is a forked process importing the DAG and rendering its dbt task groups (~0.5 s
        # of CPU per file). A rebuilt dbt manifest (`make manifest`) shows within 5 minutes.
        "AIRFLOW__DAG_PROCESSOR__MIN_FILE_PROCESS_INTERVAL": "300",
        # A task's supervisor notices its task has ended within 1 s, not 5 s (it waits on the task's sockets
        # up to this long): the executor slot is free sooner (measured: half of a backfill's tasks held their
        # slot 5 s after finishing). It also heartbeats every 1 s: one small write per running task.
        "AIRFLOW__WORKERS__MIN_HEARTBEAT_INTERVAL": "1",
        **MEMORY_SETTINGS,
        "AIRFLOW__CORE__DAGS_ARE_PAUSED_AT_CREATION": "False",
        "AIRFLOW__DATABASE__SQL_ALCHEMY_CONN": f"sqlite:///{home / 'airflow.db'}",
        "AIRFLOW__DATABASE__SQL_ALCHEMY_CONNECT_ARGS": "cadence.local.SQLITE_CONNECT_ARGS",
        "AIRFLOW__CORE__SIMPLE_AUTH_MANAGER_USERS": f"{USERNAME}:admin",
        "AIRFLOW__CORE__SIMPLE_AUTH_MANAGER_PASSWORDS_FILE": str(home / PASSWORDS_FILE),
        "AIRFLOW__API_AUTH__JWT_SECRET": _secret("jwt_secret", home),
        "AIRFLOW__API__SECRET_KEY": _secret("api_secret", home),
        # Trigger kwargs (the telemetry AssetWatcher's) are encrypted by the dag-processor and decrypted by
        # the triggerer: both must hold the same key, never one each.
        "AIRFLOW__CORE__FERNET_KEY": _secret("fernet_key", home, _fernet_key),
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


def prepare() -> bool:
    """Migrate the metadata DB and create the connections and pool (in-process: the CLI is slow).

    Returns whether the admin password was generated now (first start)."""
    HOME.mkdir(parents=True, exist_ok=True)
    os.environ.update(airflow_environment())
    _, generated = admin_password()
    settings = get_settings()
    settings.data_dir.mkdir(parents=True, exist_ok=True)

    from airflow.models import Connection
    from airflow.utils import db
    from airflow.utils.session import create_session

    from cadence.warehouse import ensure_pool

    db.initdb()
    with create_session() as session:
        for connection in local_connections():
            session.query(Connection).filter(Connection.conn_id == connection.conn_id).delete()
            session.add(connection)
        ensure_pool(settings, session)
    print(f"Airflow home ready: {HOME} (connections {settings.source_conn_id}, {settings.warehouse_conn_id})")
    return generated


def seed_source() -> None:
    """Create recent history for every stream not started yet (from the start of the range the first run
    backfills, a midnight: cadence.first_run.seeded_range), and catch the others up to now."""
    from cadence import first_run
    from cadence.simulator import cli

    start, _ = first_run.seeded_range(get_settings().simulator.seed_days)
    cli.main(["seed", "--since", start.isoformat()])


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


#: Simulator rates of the `make up` feed, unless set in the environment: rich enough that every
#: 5-minute purchases window and every hourly spins window has rows (the library defaults are thinner).
LIVE_FEED = {"CADENCE_SIMULATOR__PURCHASES_PER_HOUR": "300", "CADENCE_SIMULATOR__SPINS_ACTIVE_SHARE": "0.05"}


def rotate_logs(logs: Path, names) -> None:
    """Start every service on a fresh log (<name>.log becomes <name>.log.1, …; cadence.service_logs)."""
    for name in names:
        service_logs.rotate(logs / f"{name}.log")


def _ui_url() -> str:
    return f"http://{'localhost' if HOST in ('127.0.0.1', 'localhost') else HOST}:{PORT}"


def up() -> int:
    url = _ui_url()
    recorded, running = processes.read(PIDS), _running()
    if set(running) == set(SERVICES):
        print(f"already running: {', '.join(running)}; {url}  (make down to stop)")
        return 0
    dead = {name: recorded[name] for name in recorded if name not in running}
    if dead:  # what a dead service left behind (orphaned workers, a log server on its port) goes first
        processes.stop(list(dead.values()))
        print(f"restarting {', '.join(dead)} (not running); still running: {', '.join(running) or 'nothing'}")
    for name, value in LIVE_FEED.items():
        os.environ.setdefault(name, value)
    print("1/4 preparing the Airflow home (metadata DB, connections, pool) …", flush=True)
    generated = prepare()
    print("2/4 seeding the source database with recent history …", flush=True)
    seed_source()
    logs = HOME / "logs"
    missing = {name: command for name, command in SERVICES.items() if name not in running}
    rotate_logs(logs, missing)
    service_env = {**os.environ, **airflow_environment()}
    service_env.pop("AIRFLOW__LOGGING__LOGGING_LEVEL", None)  # `up` itself is quiet; the services are not
    service_env.update({k: v for k, v in _QUIET_SAVED.items() if v is not None})
    from cadence import first_run

    first = not first_run.already_done(HOME)
    # On the first start the scheduler starts after the history backfills are queued (cadence.first_run).
    later = ("scheduler",) if first and "scheduler" in missing else ()

    def start(names) -> None:
        started = start_services({name: missing[name] for name in names}, service_env, logs)
        recorded.update({name: processes.started(process.pid) for name, process in started.items()})
        processes.write(PIDS, {name: pid for name, pid in recorded.items() if name in SERVICES})

    start([name for name in missing if name not in later])
    print(f"3/4 starting {', '.join(missing)} (logs in {logs}) …", flush=True)
    if not wait_for_health():
        print(f"Airflow did not become healthy in time; see {logs}/api-server.log", file=sys.stderr)
        return 1
    password, _ = admin_password()
    backfills = _first_run(url, password) if first else ""
    if later:
        start(later)
    login = (
        f"{USERNAME} / {password}   (generated now, kept in {HOME / PASSWORDS_FILE})"
        if generated
        else f"{USERNAME} / the password in {HOME / PASSWORDS_FILE}"
    )
    settings = get_settings()
    print(
        f"""
  Cadence is running: {url}
    login       {login}
    dashboard   {url}/cadence/dashboard        (also under Browse in the Airflow UI)
    dbt docs    {url}/cosmos/cadence/dbt_docs_index.html
    Data Docs   {url}/cadence/data-docs/       (Great Expectations validations of every cadence)

  What runs: purchases every 5 minutes, spins hourly (silver + gold), mmp hourly, daily_kpis daily
  (KPIs, anomaly verdicts, pipeline health), telemetry whenever client files land (sessions, users,
  traffic alerts); the simulator adds source rows and telemetry files every minute
  ({settings.simulator.purchases_per_hour:g} purchases/hour at peak; CADENCE_SIMULATOR__* to change).
{backfills}
  Logs: {logs}/<service>.log (rotated at each start and every {service_logs.MAX_BYTES >> 20} MB).
  Stop with `make down`.
""",
        flush=True,
    )
    return 0


def _first_run(url: str, password: str) -> str:
    """On the first start, backfill the seeded history (the ``first_run`` DAG, see cadence.first_run)."""
    from cadence import first_run

    settings = get_settings()
    print("4/4 first start: triggering the backfill of the seeded history …", flush=True)
    line = first_run.trigger(url, USERNAME, password, settings.simulator.seed_days)
    first_run.mark_done(HOME, line)
    return (
        f"\n  First start: the first_run DAG backfills the {settings.simulator.seed_days} seeded days"
        " (purchases, mmp, then spins\n  and gold, then daily_kpis), so KPIs, the MMP marts, anomaly"
        f" verdicts and the dashboard fill\n  within about ten minutes:\n      {line}\n"
    )


def start_services(
    commands: dict[str, list[str]],
    environment: dict[str, str],
    logs: Path,
    log_max_bytes: int = service_logs.MAX_BYTES,
) -> dict[str, subprocess.Popen]:
    """Start each command in its own session (so its process group can be stopped as a whole), its output
    piped to one writer process that keeps ``logs/<name>.log`` rotated by size (cadence.service_logs)."""
    logs.mkdir(parents=True, exist_ok=True)
    pipes = {name: os.pipe() for name in commands}
    with (logs / "log-writer.log").open("ab") as errors:
        subprocess.Popen(
            [sys.executable, "-m", "cadence.service_logs", f"--max-bytes={log_max_bytes}"]
            + [f"{read}={logs / name}.log" for name, (read, _) in pipes.items()],
            pass_fds=[read for read, _ in pipes.values()],
            stdin=subprocess.DEVNULL,
            stdout=errors,
            stderr=subprocess.STDOUT,
            start_new_session=True,  # lives until the last service it serves has stopped
            cwd=PROJECT_ROOT,
        )
    processes = {}
    try:
        for name, command in commands.items():
            processes[name] = subprocess.Popen(
                command,
                env=environment,
                stdout=pipes[name][1],
                stderr=subprocess.STDOUT,
                start_new_session=True,
                cwd=PROJECT_ROOT,
            )
    finally:
        for read, write in pipes.values():  # the services and the writer hold their own ends now
            os.close(read)
            os.close(write)
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
        print(f"  killed after {processes.GRACE_SECONDS:g} s without exiting on SIGTERM: {'; '.join(killed)}")
    return 0


def print_env() -> None:
    """Shell exports of the local stack, for `eval "$(python -m cadence.local env)"` before using the CLIs."""
    import shlex

    for name, value in airflow_environment().items():
        print(f"export {name}={shlex.quote(value)}")


_QUIET_SAVED: dict[str, str | None] = {}


def _quiet_terminal() -> None:
    """`make up` prints progress, not SQL statements or library warnings: Airflow logs only errors in this
    process (the services keep their own level) and Python warnings are not shown."""
    import warnings

    _QUIET_SAVED["AIRFLOW__LOGGING__LOGGING_LEVEL"] = os.environ.get("AIRFLOW__LOGGING__LOGGING_LEVEL")
    os.environ["AIRFLOW__LOGGING__LOGGING_LEVEL"] = "ERROR"
    warnings.filterwarnings("ignore")
    import logging

    logging.disable(logging.WARNING)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("command", choices=["up", "down", "prepare", "env"])
    command = parser.parse_args(argv).command
    if command == "up":
        _quiet_terminal()
    if command in ("prepare", "env"):
        prepare() if command == "prepare" else print_env()
        return 0
    return up() if command == "up" else down()


if __name__ == "__main__":
    raise SystemExit(main())

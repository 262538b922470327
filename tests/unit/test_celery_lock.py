"""The lock works under the CeleryExecutor: what the scheduler, the worker and compose's healthcheck import.

celery 5.7.0 removed ``celery.backends.database.retry``, which the Celery provider's executor utils import,
so the scheduler and worker crashed at start and compose crash-looped. A re-lock that brings such a pair
back fails here (statically, in a fresh interpreter); the stack tier also starts a worker against Redis.
"""

from __future__ import annotations

import re
import subprocess
import sys
from pathlib import Path

import pytest
import yaml

pytestmark = pytest.mark.unit

ROOT = Path(__file__).resolve().parents[2]

# What each process imports when it starts with AIRFLOW__CORE__EXECUTOR=CeleryExecutor:
# the scheduler loads the executor class, `airflow celery worker` the utils' app, the healthcheck the app.
IMPORTS = """
from airflow.executors.executor_loader import ExecutorLoader
from airflow.providers.celery.executors.celery_executor import CeleryExecutor
from airflow.providers.celery.executors import celery_executor_utils
from airflow.providers.celery.executors.celery_executor import app
from airflow.providers.celery.cli import celery_command
executor = ExecutorLoader.import_default_executor_cls()[0]  # as the scheduler resolves it
assert executor is CeleryExecutor, executor
assert app.main == "airflow.providers.celery.executors.celery_executor", app.main
print("ok", executor.__name__)
"""


def test_the_celery_executor_worker_and_healthcheck_modules_import(tmp_path):
    result = subprocess.run(
        [sys.executable, "-c", IMPORTS],
        capture_output=True,
        text=True,
        env={"AIRFLOW__CORE__EXECUTOR": "CeleryExecutor", "PATH": "", "HOME": str(tmp_path),
             "AIRFLOW_HOME": str(tmp_path),
             "AIRFLOW__CELERY__BROKER_URL": "redis://127.0.0.1:6379/1"},
    )  # fmt: skip
    assert result.returncode == 0, result.stderr[-3000:]
    assert "ok CeleryExecutor" in result.stdout


def test_the_compose_worker_healthcheck_names_the_module_that_imports():
    """The healthcheck's ``--app`` is the module tested above (the one the official compose file uses)."""
    worker = yaml.safe_load((ROOT / "docker-compose.yaml").read_text())["services"]["airflow-worker"]
    command = " ".join(worker["healthcheck"]["test"])
    assert re.search(
        r"celery --app airflow\.providers\.celery\.executors\.celery_executor\.app inspect ping", command
    )


def test_the_lock_pins_celery_and_kombu_to_a_working_pair():
    pins = dict(re.findall(r"^(celery|kombu)==(\S+)", (ROOT / "requirements.txt").read_text(), re.MULTILINE))
    assert pins.get("celery", "").startswith("5.6."), f"celery {pins.get('celery')}: 5.7 breaks the provider"
    import celery
    import kombu

    assert celery.__version__ == pins["celery"] and kombu.__version__ == pins["kombu"], (
        "venv differs from the lock"
    )

"""Cloud Composer packaging: requirements-composer.txt holds only what Composer lacks, at the lock's
versions; the bundle parses from Composer's layout with zero import errors and Cosmos renders from the
manifest where Composer mounts the data folder (a folder standing in for /home/airflow/gcs/data)."""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
from pathlib import Path

import pytest

pytestmark = pytest.mark.static

ROOT = Path(__file__).resolve().parents[2]
COMPOSER_MANAGED = re.compile(
    r"^(apache-airflow(-providers-.*)?|pandas|pyarrow|numpy|pyyaml|pydantic|celery)$"
)
# Third-party imports of include/cadence and dags/ that Composer's image provides itself.
COMPOSER_PROVIDES = {
    "airflow",
    "croniter",
    "pandas",
    "pyarrow",
    "numpy",
    "yaml",
    "pydantic",
    "google",
    "sqlalchemy",
    "fastapi",  # Airflow 3's own API server framework (the dashboard plugin's routes)
    "cryptography",  # Airflow's own dependency (Fernet)
}
# Only used off Composer: the embedded default's DuckDB warehouse and the test/dev tooling.
LOCAL_ONLY = {"duckdb", "dbt_duckdb", "sqlglot", "httpx", "psutil"}
IMPORT_NAMES = {"astronomer-cosmos": "cosmos", "dbt-core": "dbt", "great-expectations": "great_expectations",
                "python-calamine": "python_calamine", "pydantic-settings": "pydantic_settings"}  # fmt: skip


def _pins(path: Path) -> dict[str, str]:
    text = path.read_text()
    return {m[0].lower(): m[1] for m in re.findall(r"^([A-Za-z0-9_.\-]+)==(\S+)", text, re.MULTILINE)}


def test_composer_requirements_pin_the_locks_versions_and_nothing_composer_manages():
    composer, lock = _pins(ROOT / "requirements-composer.txt"), _pins(ROOT / "requirements.txt")
    lines = [line for line in (ROOT / "requirements-composer.txt").read_text().splitlines()
             if line.strip() and not line.startswith("#")]  # fmt: skip
    assert len(lines) == len(composer), f"every requirement is pinned with ==: {lines}"
    for name, version in composer.items():
        assert not COMPOSER_MANAGED.match(name), f"{name} is Composer's own: never pin it"
        assert lock.get(name) == version, f"{name}=={version} but requirements.txt has {lock.get(name)}"
    assert {"astronomer-cosmos", "dbt-core", "dbt-bigquery", "great-expectations", "python-calamine"} <= set(
        composer
    )


def _third_party_imports() -> set[str]:
    import ast

    names = set()
    for path in [*(ROOT / "include" / "cadence").rglob("*.py"), *(ROOT / "dags").glob("*.py")]:
        for node in ast.walk(ast.parse(path.read_text())):
            if isinstance(node, ast.Import):
                names |= {alias.name.split(".")[0] for alias in node.names}
            elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
                names.add(node.module.split(".")[0])
    return {n for n in names if n not in sys.stdlib_module_names and n not in ("cadence", "__future__")}


def test_every_package_the_code_imports_is_in_composer_or_the_composer_requirements():
    shipped = {
        IMPORT_NAMES.get(name, name.replace("-", "_")) for name in _pins(ROOT / "requirements-composer.txt")
    }
    missing = _third_party_imports() - shipped - COMPOSER_PROVIDES - LOCAL_ONLY
    assert missing == set(), f"imported but neither shipped nor provided by Composer: {missing}"


@pytest.fixture(scope="module")
def bundle(tmp_path_factory) -> Path:
    out = tmp_path_factory.mktemp("composer") / "bundle"
    result = subprocess.run([sys.executable, "-m", "cadence.composer_bundle", str(out)], capture_output=True,
                            text=True, cwd=ROOT)  # fmt: skip
    assert result.returncode == 0, result.stderr
    return out


def test_the_bundle_holds_dags_package_dbt_project_and_manifest(bundle):
    assert sorted(p.name for p in (bundle / "dags").glob("*.py")) == sorted(
        p.name for p in (ROOT / "dags").glob("*.py")
    )
    assert (bundle / "dags" / "cadence" / "config.py").is_file()
    assert (bundle / "dags" / "cadence" / "kpi_rules.yaml").is_file(), "package data travels with the package"
    assert (bundle / "dags" / ".airflowignore").read_text().split() == ["cadence/"]
    assert (bundle / "data" / "dbt" / "manifest" / "manifest.json").is_file()
    assert (bundle / "requirements-composer.txt").read_bytes() == (
        ROOT / "requirements-composer.txt"
    ).read_bytes()
    assert not list(bundle.rglob("__pycache__")) and not list(bundle.rglob("target"))


PARSE = """
import json, sys
import cadence
from airflow.dag_processing.dagbag import DagBag
bag = DagBag(dag_folder=sys.argv[1])
task = bag.dags["purchases"].get_task("silver.purchases_model_build")
errors = {k: str(v)[-400:] for k, v in bag.import_errors.items()}
print(json.dumps({"errors": errors, "dags": sorted(bag.dag_ids),
                  "cadence": cadence.__file__, "project_dir": str(task.project_dir)}))
"""


def test_dags_parse_from_the_bundle_and_cosmos_reads_the_manifest_from_the_data_folder(bundle, tmp_path):
    """As on Composer: the DAGs folder on sys.path (no installed cadence), production settings, and the
    dbt project under a folder standing in for /home/airflow/gcs/data."""
    gcs_data = tmp_path / "home" / "airflow" / "gcs" / "data"
    (bundle / "data").rename(gcs_data.parent.mkdir(parents=True) or gcs_data)
    manifest = gcs_data / "dbt" / "manifest" / "manifest.json"
    dags = bundle / "dags"
    environment = {
        "PATH": os.environ["PATH"], "HOME": str(tmp_path), "PYTHONPATH": str(dags),
        "AIRFLOW_HOME": str(tmp_path / "airflow"), "AIRFLOW__CORE__DAGS_FOLDER": str(dags),
        "AIRFLOW__CORE__LOAD_EXAMPLES": "False", "AIRFLOW__COSMOS__ENABLE_TELEMETRY": "False",
        "CADENCE_DBT_PROJECT_DIR": str(gcs_data / "dbt"), "CADENCE_WAREHOUSE": "bigquery",
        "CADENCE_LAKE_URL": "gs://cadence-lake/lake", "CADENCE_LAKE_CONN_ID": "google_cloud_default",
        # on a gs:// lake telemetry arrivals come through Pub/Sub (GCS notifications), not a file watcher
        "CADENCE_TELEMETRY__TRIGGER": "pubsub", "CADENCE_TELEMETRY__PUBSUB_PROJECT": "cadence-prod",
        "CADENCE_TELEMETRY__PUBSUB_SUBSCRIPTION": "telemetry-landing",
    }  # fmt: skip
    result = subprocess.run([sys.executable, "-c", PARSE, str(dags)], capture_output=True, text=True,
                            env=environment, cwd=tmp_path)  # fmt: skip
    assert result.returncode == 0, result.stderr[-3000:]
    parsed = json.loads(result.stdout.strip().splitlines()[-1])
    assert parsed["errors"] == {}, parsed["errors"]
    assert {"purchases", "spins", "daily_kpis", "mmp", "workbook_import"} <= set(parsed["dags"])
    assert parsed["cadence"].startswith(str(dags)), (
        f"cadence imported from {parsed['cadence']}, not the bundle"
    )
    assert Path(parsed["project_dir"]) == gcs_data / "dbt", parsed["project_dir"]
    assert manifest.is_file()

"""The environment of a throwaway Airflow home and of a Cadence data folder (tests and bench/ alike).

Pure: nothing here imports Airflow, so tests/conftest.py can set it before Airflow reads its config.
"""

from __future__ import annotations

import json
from pathlib import Path

DAGS = Path(__file__).resolve().parents[2] / "dags"


def airflow_environment(work: Path) -> dict[str, str]:
    """An Airflow home and Cosmos cache under ``work``, the project's DAGs, no examples, no telemetry."""
    return {
        "AIRFLOW_HOME": str(work / "airflow"),
        "AIRFLOW__CORE__DAGS_FOLDER": str(DAGS),
        "AIRFLOW__CORE__LOAD_EXAMPLES": "False",
        "AIRFLOW__COSMOS__ENABLE_TELEMETRY": "False",
        "AIRFLOW__COSMOS__CACHE_DIR": str(work / "cosmos"),
        "DO_NOT_TRACK": "1",
        "SCARF_NO_ANALYTICS": "true",
    }


def data_environment(data: Path) -> dict[str, str]:
    """Cadence (lake, DuckDB) and its two Airflow connections pointed at files in ``data``."""
    connections = {"SOURCE": ("sqlite", "source.sqlite"), "WAREHOUSE": ("duckdb", "warehouse.duckdb")}
    return {
        "CADENCE_DATA_DIR": str(data),
        **{
            f"AIRFLOW_CONN_CADENCE_{name}": json.dumps({"conn_type": conn_type, "host": str(data / file)})
            for name, (conn_type, file) in connections.items()
        },
    }

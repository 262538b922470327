"""Fixtures of the dags tier (``dag.test()`` runs): the parsed DAG folder, the MMP cadence's settings."""

from __future__ import annotations

import pytest

from tests.support.environment import DAGS


@pytest.fixture(scope="module")
def dagbag(airflow_db):
    """All DAGs as production configures them (without the test suite's retries=0 override)."""
    from airflow.dag_processing.dagbag import DagBag

    with pytest.MonkeyPatch.context() as patch:
        patch.delenv("CADENCE_PURCHASES__RETRIES", raising=False)
        return DagBag(dag_folder=str(DAGS))


@pytest.fixture
def mmp_env(cadence_env, monkeypatch):
    """The test data folder, with the mmp cadence failing at once instead of retrying."""
    monkeypatch.setenv("CADENCE_MMP_CADENCE__RETRIES", "0")  # fail now, not after a retry delay
    from cadence.config import get_settings

    return get_settings()

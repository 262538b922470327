"""Shared fixtures: a throwaway Airflow home per session (per xdist worker), a fresh lake, DuckDB and source
per test, and the tier marker of every test from its folder.

Airflow reads its configuration when first imported, so the environment is set here, before any test
module imports it. Under pytest-xdist every worker is its own process with its own session: it gets its
own Airflow home and SQLite metadata DB (named after PYTEST_XDIST_WORKER), so workers never share one.
Connections come from AIRFLOW_CONN_* variables pointing at per-test files. Helpers live in tests/support.
"""

from __future__ import annotations

import os
import shutil
import tempfile
from pathlib import Path

import pytest

from tests.support.behavior_flags import label_flags_without_reading_sources
from tests.support.environment import airflow_environment, data_environment

TIERS = ("unit", "dbt", "dags", "stack", "static")
_WORKER = os.environ.get("PYTEST_XDIST_WORKER", "main")
_SESSION_DIR = Path(tempfile.mkdtemp(prefix=f"cadence-tests-{_WORKER}-"))

os.environ.update(
    {
        **airflow_environment(_SESSION_DIR),
        # A failing task in a test should fail now, not after a one-minute retry delay.
        "CADENCE_PURCHASES__RETRIES": "0",
    }
)
for variable in [v for v in os.environ if v.startswith("CADENCE_") and "__RETRIES" not in v]:
    del os.environ[variable]  # a developer's own overrides must not leak into the tests


# The order modules start in (`make test` keeps it: --no-loadscope-reorder): the longest first, so that no
# long module starts last and holds the run open on one worker. The scheduler lanes take ~6.5 minutes each.
RUN_ORDER = ("scheduler", "dags", "dbt", "stack", "static", "unit")


@pytest.hookimpl(tryfirst=True)  # before pytest-xdist reads the xdist_group marks
def pytest_collection_modifyitems(config, items):
    """Mark every test with its tier, the folder it lives in (tests/<tier>/...), and its xdist group, and
    order the modules by :data:`RUN_ORDER`.

    A module is a group (pytest-xdist runs it on one worker, so its module fixtures are built once);
    the modules marked ``scheduler(lane)`` are one group per lane: a lane's Airflow stacks run one at a
    time, so no more stacks run at once than there are lanes (each starts in ~15 s of CPU and runs its
    tasks in processes of its own; more at once on 2 cores starve each other)."""
    root = Path(__file__).resolve().parent
    distributed = config.pluginmanager.hasplugin("xdist")  # `-p no:xdist` leaves its marker unknown
    for item in items:
        parts = Path(item.fspath).resolve().relative_to(root).parts
        if parts and parts[0] in TIERS:
            item.add_marker(parts[0])
        if distributed:
            lane = item.get_closest_marker("scheduler")
            group = f"scheduler-lane-{lane.kwargs['lane']}" if lane else "/".join(parts)
            item.add_marker(pytest.mark.xdist_group(group))
    items.sort(key=_run_rank)  # stable: a module's tests stay together, in their order


def _run_rank(item) -> int:
    if item.get_closest_marker("scheduler"):
        return 0
    tier = next((name for name in TIERS if item.get_closest_marker(name)), "unit")
    return RUN_ORDER.index(tier)


@pytest.fixture(scope="session")
def airflow_db():
    """A migrated Airflow metadata DB (this worker's) with the warehouse's pool (one slot on DuckDB)."""
    from airflow.utils import db
    from airflow.utils.session import create_session
    from cadence.config import load_settings
    from cadence.warehouse import ensure_pool

    db.initdb()
    with create_session() as session:
        ensure_pool(load_settings(), session)
    return True


def _fresh_data_folder(name: str) -> Path:
    """An empty data folder at the same path for every test of this worker (``name``: one per fixture).

    The same path keeps dbt's partial parsing valid from one test to the next: dbt parses the whole project
    again whenever the profile (the DuckDB file's path) or an env var the project reads (the lake's root)
    changes, ~4 s per Cosmos task under ``dag.test()``. dbt-duckdb reuses its open DuckDB environment while
    the profile is unchanged, so the fixtures release it after each test: no test can read a previous
    test's (deleted) warehouse through it."""
    data = _SESSION_DIR / name
    shutil.rmtree(data, ignore_errors=True)
    data.mkdir()
    return data


@pytest.fixture
def cadence_env(monkeypatch):
    """Point Cadence and its Airflow connections at a fresh data folder; returns the settings."""
    from cadence.config import get_settings
    from cadence.dbt_group import release_dbt_duckdb

    for name, value in data_environment(_fresh_data_folder("data")).items():
        monkeypatch.setenv(name, value)
    yield get_settings()
    release_dbt_duckdb()


@pytest.fixture(scope="module")
def module_cadence_env(airflow_db):
    """Like ``cadence_env``, for state one module builds once and several tests read (a backfill)."""
    from cadence.config import get_settings
    from cadence.dbt_group import release_dbt_duckdb

    with pytest.MonkeyPatch.context() as patch:
        for name, value in data_environment(_fresh_data_folder("module-data")).items():
            patch.setenv(name, value)
        yield get_settings()
    release_dbt_duckdb()


@pytest.fixture
def load_dag(airflow_db):
    """Parse a DAG afresh from its file (Params set by one dag.test() would leak into the next)."""
    from tests.support.dags import load_dag

    return load_dag


@pytest.fixture
def run_dag(airflow_db):
    """Run one DAG run in-process with dag.test() and return it (:func:`tests.support.dags.run_dag`)."""
    from tests.support.dags import run_dag

    return run_dag


@pytest.fixture
def slack(monkeypatch):
    """Collect what would go to Slack; the monitoring settings point at a Slack connection."""
    from airflow.providers.slack.hooks.slack_webhook import SlackWebhookHook

    sent: list[str] = []
    monkeypatch.setenv("CADENCE_MONITORING__SLACK_CONN_ID", "cadence_slack")
    monkeypatch.setattr(SlackWebhookHook, "send", lambda self, **kwargs: sent.append(kwargs["text"]))
    return sent


def pytest_sessionstart(session):
    """Import the task libraries once (as a stack's workers do, cadence.preload) and freeze them out of the
    garbage collector's view, so the full ``gc.collect()`` Cosmos runs after every dbt invocation of a
    ``dag.test()`` scans only what the test created (~0.4 s less per dbt task); label dbt's behaviour flags
    without a source-reading stack walk (tests/support/behavior_flags.py)."""
    import gc
    import importlib
    import logging

    from cadence.preload import TASK_LIBRARIES

    logging.getLogger("great_expectations").setLevel(logging.WARNING)  # its import logs at INFO
    importlib.import_module("airflow.sdk")
    for name in TASK_LIBRARIES:
        importlib.import_module(name)
    label_flags_without_reading_sources()
    gc.freeze()


def pytest_unconfigure(config):
    import gc

    gc.unfreeze()  # objects still frozen at exit would be reported as leaks by nanobind (duckdb)

"""What the pipeline publishes for the UI, under dag.test(): GX Data Docs of a landing, and the end of
daily_kpis (dashboard snapshot, dbt docs site) in the lake where the plugins read them."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta

import pytest

from tests.support.data import SIM_NOW, seed_source

pytestmark = pytest.mark.dags


def test_a_landing_publishes_its_data_docs_page(airflow_db, cadence_env):
    """The landing step of every cadence (cadence.ingest) renders its validation as a Data Docs page."""
    from cadence import docs, ingest, sources
    from cadence.dashboard.app import create_app
    from cadence.lake import Window
    from fastapi.testclient import TestClient

    seed_source(0.05, streams=("purchases",))
    window = Window(SIM_NOW - timedelta(minutes=5), SIM_NOW)
    spec = sources.get_spec("purchases", cadence_env)
    record = ingest.ingest_window(cadence_env, spec, window, timedelta(0), run_id="test")
    assert record.status == "success" and record.rows_extracted > 0
    pages = docs.validation_pages(cadence_env)
    assert list(pages) == ["purchases"] and len(pages["purchases"]) == 1
    (name,) = pages["purchases"]
    assert name == f"{window.label}.html"
    client = TestClient(create_app())
    index = client.get("/data-docs/")
    assert index.status_code == 200 and f"/data-docs/purchases/{name}" in index.text
    page = client.get(f"/data-docs/purchases/{name}")
    assert page.status_code == 200 and "Validation" in page.text
    assert client.get("/data-docs/purchases/..%2F..%2Fsecret.html").status_code == 404


def test_daily_kpis_ends_by_publishing_the_snapshot_and_the_dbt_docs(run_dag, cadence_env):
    from cadence import docs
    from cadence.dashboard import snapshot

    publishers = {"publish_dashboard", "publish_dbt_docs"}
    others = r"^(?!publish_dashboard$|publish_dbt_docs$).*"
    run = run_dag("daily_kpis", datetime(2026, 3, 10, tzinfo=UTC), mark_success=others)
    states = {ti.task_id: ti.state for ti in run.get_task_instances() if ti.task_id in publishers}
    assert states == dict.fromkeys(publishers, "success")
    manifest, tables = snapshot.read(cadence_env)
    assert manifest["rows"] == dict.fromkeys(snapshot.QUERIES, 0)  # no model built: empty, not an error
    assert set(tables) == set(snapshot.QUERIES)
    site = docs.docs_root(cadence_env) / "dbt"
    assert {p.name for p in site.iterdir()} == set(docs.DBT_DOCS_FILES)
    nodes = json.loads((site / "manifest.json").read_text())["nodes"]
    assert "model.cadence.daily_kpis" in nodes

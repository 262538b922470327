"""What the pipeline publishes for the UI, under dag.test(): GX Data Docs of a landing, and the end of
daily_kpis (dashboard snapshot, dbt docs site) in the lake where the plugins read them."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta

import pytest

from tests.conftest import SIM_NOW, seed_source

pytestmark = pytest.mark.dags


def test_a_landing_publishes_its_data_docs_page(run_dag, cadence_env):
    from cadence import docs
    from cadence.dashboard.app import create_app
    from fastapi.testclient import TestClient

    seed_source(0.05, streams=("purchases",))
    run = run_dag("purchases", SIM_NOW, mark_success=r"^(silver\.|check_spins|trigger_spins)")
    assert run.get_task_instance("land").state == "success"
    pages = docs.validation_pages(cadence_env)
    assert list(pages) == ["purchases"] and len(pages["purchases"]) == 1
    (name,) = pages["purchases"]
    assert name.startswith((SIM_NOW - timedelta(minutes=5)).strftime("%Y"))
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

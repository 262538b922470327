"""What the pipeline publishes for the UI, under dag.test(): GX Data Docs of a landing, and the end of
daily_kpis (dashboard snapshot, dbt docs site) in the lake where the plugins read them."""

from __future__ import annotations

import json
import re
from datetime import UTC, datetime, timedelta

import pytest

from tests.support.data import SIM_NOW, seed_source

pytestmark = pytest.mark.dags


def test_a_landing_publishes_its_data_docs_page(airflow_db, cadence_env):
    """The landing step of every cadence (cadence.ingest) renders its validation as a Data Docs page: one
    page for the chunks it validates together, one per chunk when a batch holds one chunk."""
    from cadence import docs, ingest, sources
    from cadence.dashboard.app import create_app
    from cadence.lake import Window
    from fastapi.testclient import TestClient

    seed_source(0.05, streams=("purchases",))
    window, chunk = Window(SIM_NOW - timedelta(minutes=15), SIM_NOW), timedelta(minutes=5)
    spec = sources.get_spec("purchases", cadence_env)
    records = ingest.ingest(cadence_env, spec, window, lookback=timedelta(0), chunk=chunk, run_id="test")
    assert [r.status for r in records] == ["success"] * 3 and sum(r.rows_extracted for r in records) > 0
    pages = docs.validation_pages(cadence_env)
    assert pages == {"purchases": [f"{window.label}.html"]}  # three chunks, one validation
    # one row per batch: a batch closes at its first chunk with rows (quiet chunks join the next one)
    again = ingest.ingest(cadence_env, spec, window, lookback=timedelta(0), chunk=chunk, batch_rows=1)
    batches, start = [], window.start
    for record in again:
        if record.rows_extracted or record is again[-1]:
            batches.append(f"{Window(start, record.window_end).label}.html")
            start = record.window_end
    assert len(batches) > 1
    assert set(docs.validation_pages(cadence_env)["purchases"]) == {*pages["purchases"], *batches}
    (name,) = pages["purchases"]
    client = TestClient(create_app())
    index = client.get("/data-docs/")
    assert index.status_code == 200 and f"/data-docs/purchases/{name}" in index.text
    page = client.get(f"/data-docs/purchases/{name}")
    assert page.status_code == 200 and "Validation" in page.text
    assert client.get("/data-docs/purchases/..%2F..%2Fsecret.html").status_code == 404
    # GX's page loads its scripts and styles from CDNs; served, it loads every one from the plugin
    loaded = re.compile(r'<(?:script|link)\b[^>]*?\b(?:src|href)="([^"]+)"')
    stored = (docs.docs_root(cadence_env) / "gx" / "purchases" / name).read_text()
    from_cdn = [url for url in loaded.findall(stored) if url.startswith("https://")]
    served = loaded.findall(page.text)
    assert len(from_cdn) >= 10 and not [url for url in served if "://" in url]
    local = [url for url in served if url.startswith("/data-docs/assets/")]
    assert len(local) == len(from_cdn)
    for url in local:
        asset = client.get(url)
        installed = docs.ASSETS_DIR / url.removeprefix("/data-docs/assets/")
        assert asset.status_code == 200 and asset.content == installed.read_bytes() != b"", url
    # what a stylesheet loads by a relative address (Font Awesome's fonts), and nothing else
    fonts = "/data-docs/assets/@fortawesome/fontawesome-free/webfonts/fa-solid-900.woff2"
    assert (
        "../webfonts/fa-solid-900.woff2"
        in client.get(fonts.replace("webfonts/fa-solid-900.woff2", "css/all.min.css")).text
    )
    assert client.get(fonts).status_code == 200
    for outside in ("d3-array/package.json", "bootstrap/..%2F..%2Fpackage.json", "..%2Fpackage.json"):
        assert client.get(f"/data-docs/assets/{outside}").status_code == 404, outside


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

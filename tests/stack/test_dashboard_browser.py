"""The analysts' dashboard in a real browser, served by a real api-server through the Cadence plugin.

A small DuckDB warehouse with the dashboard's source tables (shaped like the dbt models) is published by
:func:`cadence.dashboard.snapshot.publish` into the stack's lake; headless Chromium then loads the page,
every chart must hold data points equal to a pandas computation from the same rows, and changing the
country filter must redraw them with that country's numbers. Screenshots are kept in the folder printed.
"""

from __future__ import annotations

import json
import os
import time
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from tests.support.stack import AirflowStack, free_port

pytestmark = [pytest.mark.stack, pytest.mark.browser]

PORTS = range(8151, 8161)
DAYS = pd.date_range("2026-03-01", "2026-03-07", freq="D")
COUNTRIES, PLATFORMS = ["DE", "US"], ["android", "ios"]
ARTIFACTS = Path(os.environ.get("CADENCE_TEST_ARTIFACTS", Path(__file__).resolve().parents[2] / ".artifacts"))


def _tables() -> dict[str, pd.DataFrame]:
    rng = np.random.default_rng(14)
    slices = []
    for day in DAYS:
        for country in COUNTRIES:
            for platform in PLATFORMS:
                dau = int(rng.integers(50, 500))
                installs = int(rng.integers(5, 50))
                slices.append(
                    {
                        "kpi_date": day.date(),
                        "country": country,
                        "platform": platform,
                        "dau": dau,
                        "new_installs": installs,
                        "revenue_usd": round(float(rng.uniform(10, 900)), 2),
                        "paying_users": int(rng.integers(1, 30)),
                        "retained_d1": int(rng.integers(0, installs)),
                        "retained_d7": int(rng.integers(0, installs)),
                    }
                )
    kpis = pd.DataFrame(slices)
    total = kpis.groupby("kpi_date", as_index=False)[
        ["dau", "new_installs", "revenue_usd", "paying_users", "retained_d1", "retained_d7"]
    ].sum()
    total["country"] = total["platform"] = "all"
    kpis = pd.concat([kpis, total], ignore_index=True)
    kpis["arpdau"] = kpis["revenue_usd"] / kpis["dau"]
    kpis["retention_d1"] = kpis["retained_d1"] / kpis["new_installs"]
    kpis["retention_d7"] = (kpis["retained_d7"] / kpis["new_installs"]).where(
        kpis["kpi_date"] <= DAYS[-1].date() - pd.Timedelta(days=7)
    )
    anomalies = pd.DataFrame(
        [
            {
                "kpi_date": DAYS[3].date(),
                "kpi": "dau",
                "slice": "all",
                "rule": "dau_day_over_day",
                "severity": "warn",
                "value": 1.0,
                "baseline": 2.0,
                "is_anomaly": True,
            },
            {
                "kpi_date": DAYS[4].date(),
                "kpi": "revenue_usd",
                "slice": "all",
                "rule": "ok_rule",
                "severity": "warn",
                "value": 1.0,
                "baseline": 1.0,
                "is_anomaly": False,
            },
        ]
    )
    gold = pd.DataFrame(
        [
            {
                "app_date": day.date(),
                "app_hour": hour,
                "country": country,
                "user_id": f"u{user}",
                "total_revenue_hourly": round(float(rng.uniform(0, 20)), 2),
                "total_spins_hourly": int(rng.integers(0, 40)),
            }
            for day in DAYS
            for hour in range(0, 24, 3)
            for country in COUNTRIES
            for user in range(3)
        ]
    )
    mmp = pd.DataFrame(
        [
            {
                "grain": "day",
                "period_start": day.date(),
                "partner": partner,
                "platform": platform,
                "country": country,
                "impressions": int(rng.integers(1000, 5000)),
                "clicks": int(rng.integers(10, 300)),
                "total_spend_usd": round(float(rng.uniform(50, 500)), 2),
                "installs": int(rng.integers(1, 40)),
            }
            for day in DAYS
            for partner in ("adnet_a", "adnet_b")
            for platform in PLATFORMS
            for country in COUNTRIES
        ]
    )
    health = pd.DataFrame(
        [
            {
                "job": job,
                "check_name": check,
                "status": "ok" if job != "gold" else "stale",
                "value": 0.5,
                "threshold": 1.0,
                "window_end": pd.Timestamp("2026-03-07 23:00"),
                "severity": "warn",
                "is_alert": job == "gold",
                "checked_at": pd.Timestamp("2026-03-08"),
            }
            for job in ("purchases", "spins_hourly", "gold")
            for check in ("freshness", "quarantine")
        ]
    )
    return {"kpis": kpis, "anomalies": anomalies, "gold": gold, "mmp": mmp, "health": health}


def _build_warehouse(path: Path, t: dict[str, pd.DataFrame]) -> None:
    import duckdb

    with duckdb.connect(str(path)) as con:
        for schema in ("kpis", "ops", "gold", "mmp"):
            con.execute(f"create schema {schema}")
        for name, frame in t.items():
            con.register(f"frame_{name}", frame)
        con.execute("create table kpis.daily_kpis as select * from frame_kpis")
        con.execute("create table ops.kpi_anomalies as select * from frame_anomalies")
        con.execute("create table gold.aggregated_final_table as select * from frame_gold")
        con.execute("create table mmp.mmp_ctr as select * from frame_mmp")
        con.execute("create table mmp.mmp_cpi as select * from frame_mmp")
        con.execute("create table ops.pipeline_health as select * from frame_health")


@pytest.fixture(scope="module")
def published(tmp_path_factory):
    root = tmp_path_factory.mktemp("h14-dashboard")
    tables = _tables()
    with AirflowStack(root, port=free_port(PORTS), services=("api-server",), start_timeout=120) as stack:
        from airflow.providers.duckdb.hooks.duckdb import DuckDBHook
        from cadence.config import load_settings
        from cadence.dashboard import snapshot

        settings = load_settings(data_dir=stack.data_dir)
        _build_warehouse(settings.duckdb_path, tables)
        connection = json.loads(stack.environment["AIRFLOW_CONN_CADENCE_WAREHOUSE"])
        assert connection["host"] == str(settings.duckdb_path)
        os.environ["AIRFLOW_CONN_CADENCE_WAREHOUSE"] = stack.environment["AIRFLOW_CONN_CADENCE_WAREHOUSE"]
        hook = DuckDBHook(duckdb_conn_id="cadence_warehouse")
        now = pd.Timestamp("2026-03-08", tz="UTC").to_pydatetime()
        manifest = snapshot.publish(settings, hook=hook, now=now)
        assert manifest["rows"]["daily_kpis"] == len(tables["kpis"])
        _publish_data_docs_page(settings)
        yield stack, tables


DOCS_WINDOW = ("2026-03-07T10:00:00+00:00", "2026-03-07T11:00:00+00:00")


def _publish_data_docs_page(settings) -> None:
    """One GX validation of a few purchases (one breaks a rule), rendered into the lake as a landing does."""
    from datetime import datetime

    from cadence import docs, quality
    from cadence.lake import Window
    from cadence.sources import purchases_spec

    from tests.support.data import extracted_purchases, purchase_row

    spec = purchases_spec(settings)
    window = Window(*(datetime.fromisoformat(moment) for moment in DOCS_WINDOW))
    rows = [purchase_row(n, window.start + pd.Timedelta(minutes=n)) for n in range(3)]
    rows[2]["revenue_usd"] = -5  # quarantined: the page shows a failed expectation
    result = quality.validate(extracted_purchases(settings, *rows), spec.name, spec.rules)
    assert docs.publish_validation(settings, spec.name, window, result.gx_result)


@pytest.fixture(scope="module")
def browser():
    from selenium import webdriver
    from selenium.webdriver.chrome.service import Service

    options = webdriver.ChromeOptions()
    options.binary_location = "/usr/bin/chromium"
    for flag in (
        "--headless",
        "--no-sandbox",
        "--disable-gpu",
        "--disable-background-networking",
        "--disable-component-update",
        "--disable-sync",
        "--no-first-run",
        "--window-size=1400,2600",
    ):
        options.add_argument(flag)
    driver = webdriver.Chrome(service=Service("/usr/bin/chromedriver"), options=options)
    yield driver
    driver.quit()


def _wait_rendered(driver, count: int, timeout: float = 30) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if int(driver.execute_script("return document.body.dataset.rendered || 0")) >= count:
            return
        time.sleep(0.2)
    raise AssertionError(f"the page did not render {count} time(s); console: {driver.get_log('browser')}")


def _trace(driver, div: str, index: int = 0) -> dict:
    return driver.execute_script(
        "const d = document.getElementById(arguments[0]).data[arguments[1]];"
        "return {x: d.x, y: d.y, name: d.name};",
        div,
        index,
    )


def test_the_dashboard_draws_the_snapshot_and_filters_redraw_it(published, browser):
    stack, tables = published
    folder = ARTIFACTS / "dashboard"
    folder.mkdir(parents=True, exist_ok=True)
    print(f"\ndashboard screenshots: {folder}")
    kpis = tables["kpis"]

    browser.get(f"{stack.url}/cadence/dashboard")
    _wait_rendered(browser, 1)
    browser.save_screenshot(str(folder / "1-all.png"))
    assert "Snapshot published 2026-03-08" in browser.find_element("id", "snapshot").text

    whole = kpis[kpis["country"] == "all"].sort_values("kpi_date")
    dau = _trace(browser, "kpi-dau")
    assert dau["x"] == [d.isoformat() for d in whole["kpi_date"]]
    assert dau["y"] == whole["dau"].tolist()
    flags = _trace(browser, "kpi-dau", 1)
    assert flags["x"] == [DAYS[3].date().isoformat()]  # the anomaly, not the healthy verdict
    assert _trace(browser, "kpi-revenue_usd", 1)["x"] == []
    arpdau = _trace(browser, "kpi-arpdau")["y"]
    assert arpdau == pytest.approx((whole["revenue_usd"] / whole["dau"]).tolist())

    gold = tables["gold"]
    revenue_us = gold[gold["country"] == "US"].groupby("app_hour")["total_revenue_hourly"].sum()
    us_trace = [_trace(browser, "gold-revenue", i) for i in range(2)]
    (us,) = [t for t in us_trace if t["name"] == "US"]
    assert us["y"][0] == pytest.approx(revenue_us[0]) and us["y"][3] == pytest.approx(revenue_us[3])
    mmp = tables["mmp"]
    ios = mmp[mmp["platform"] == "ios"].groupby("partner")[["clicks", "impressions"]].sum()
    ctr = next(t for t in (_trace(browser, "mmp-ctr", i) for i in range(2)) if t["name"] == "ios")
    assert ctr["x"] == ["adnet_a", "adnet_b"]
    assert ctr["y"] == pytest.approx((ios["clicks"] / ios["impressions"]).tolist())
    health = browser.find_element("id", "health-table").text
    assert "stale" in health and "spins_hourly" in health

    # Filter: country DE -> the KPI series are DE's (both platforms summed), ratios recomputed.
    browser.execute_script(
        "const s = document.getElementById('country'); s.value = 'DE';"
        "s.dispatchEvent(new Event('change', {bubbles: true}));"
    )
    _wait_rendered(browser, 2)
    browser.save_screenshot(str(folder / "2-country-DE.png"))
    de = kpis[kpis["country"] == "DE"].groupby("kpi_date")[["dau", "revenue_usd"]].sum().sort_index()
    assert _trace(browser, "kpi-dau")["y"] == de["dau"].tolist()
    assert _trace(browser, "kpi-arpdau")["y"] == pytest.approx((de["revenue_usd"] / de["dau"]).tolist())
    assert [t["name"] for t in (_trace(browser, "gold-revenue", 0),)] == ["DE"]

    # Filter: a shorter date range -> fewer points.
    browser.execute_script(
        "const s = document.getElementById('start'); s.value = '2026-03-05';"
        "s.dispatchEvent(new Event('change', {bubbles: true}));"
    )
    _wait_rendered(browser, 3)
    browser.save_screenshot(str(folder / "3-DE-from-03-05.png"))
    assert _trace(browser, "kpi-dau")["x"] == ["2026-03-05", "2026-03-06", "2026-03-07"]
    shots = sorted(p.name for p in folder.glob("*.png"))
    assert shots == ["1-all.png", "2-country-DE.png", "3-DE-from-03-05.png"]


def test_the_plugin_links_the_dashboard_in_the_ui(published):
    stack, _ = published
    plugins = stack.api.get("/plugins").json()["plugins"]
    (cadence,) = [p for p in plugins if p["name"] == "cadence_ui"]
    assert {v["href"] for v in cadence["external_views"]} >= {"/cadence/dashboard"}


def test_a_data_docs_page_renders_with_the_plugins_own_scripts_and_styles(published, browser):
    """GX's page, as the plugin serves it: Bootstrap styles it, jQuery, bootstrap-table and Vega run, and
    the browser asks no other host for anything (the page works offline)."""
    from cadence import docs
    from cadence.config import load_settings
    from cadence.lake import Window

    stack, _ = published
    folder = ARTIFACTS / "data-docs"
    folder.mkdir(parents=True, exist_ok=True)
    (name,) = docs.validation_pages(load_settings(data_dir=stack.data_dir))["purchases"]
    assert name == f"{Window(*(pd.Timestamp(m).to_pydatetime() for m in DOCS_WINDOW)).label}.html"
    browser.get(f"{stack.url}/cadence/data-docs/purchases/{name}")
    deadline = time.monotonic() + 30
    while browser.execute_script("return document.readyState") != "complete" and time.monotonic() < deadline:
        time.sleep(0.2)
    browser.save_screenshot(str(folder / "data-docs-page.png"))
    loaded = browser.execute_script(
        "return {jquery: typeof window.jQuery, table: typeof (window.jQuery && jQuery.fn.bootstrapTable),"
        " tooltip: typeof (window.jQuery && jQuery.fn.tooltip), vega: typeof window.vega,"
        " embed: typeof window.vegaEmbed, font: getComputedStyle(document.body).fontFamily,"
        " hosts: performance.getEntriesByType('resource').map(e => new URL(e.name).host)};"
    )
    libraries = {k: loaded[k] for k in ("jquery", "table", "tooltip", "vega", "embed")}
    assert libraries == {
        **dict.fromkeys(("jquery", "table", "tooltip", "embed"), "function"),
        "vega": "object",
    }
    assert "apple-system" in loaded["font"]  # Bootstrap 4's font stack: its stylesheet applied
    assert len(loaded["hosts"]) >= 10 and set(loaded["hosts"]) == {stack.url.split("//")[1]}
    assert "Unsuccessful Expectations" in browser.page_source and "revenue_usd" in browser.page_source


def test_the_dbt_docs_link_shows_the_published_site(published, browser):
    """`make up`'s dbt docs link: Cosmos's docs view reads the site the pipeline publishes into the lake (a
    file:// lake URL there was a 404 under `make up`). dbt's own page, the committed manifest and an empty
    catalog are published as daily_kpis publishes them; the page must list the project's models."""
    import dbt.task.docs
    from cadence import docs, lake
    from cadence.config import load_settings
    from cadence.dbt_group import MANIFEST_PATH

    stack, _ = published
    settings = load_settings(data_dir=stack.data_dir)
    site = {
        "index.html": (Path(dbt.task.docs.__file__).parent / "index.html").read_bytes(),
        "manifest.json": (settings.dbt_project_dir / MANIFEST_PATH).read_bytes(),
        "catalog.json": json.dumps({"metadata": {}, "nodes": {}, "sources": {}, "errors": None}).encode(),
    }
    assert set(site) == set(docs.DBT_DOCS_FILES)
    for name, content in site.items():
        lake.write_atomic(docs.docs_root(settings) / "dbt" / name, content)
    folder = ARTIFACTS / "dbt-docs"
    folder.mkdir(parents=True, exist_ok=True)
    browser.get(f"{stack.url}/cosmos/cadence/dbt_docs")
    browser.switch_to.frame(browser.find_element("tag name", "iframe"))
    deadline = time.monotonic() + 30
    while "daily_kpis" not in browser.page_source and time.monotonic() < deadline:
        time.sleep(0.5)
    browser.save_screenshot(str(folder / "dbt-docs.png"))
    page = browser.page_source
    browser.switch_to.default_content()
    assert "Cosmos dbt docs error" not in page
    assert all(model in page for model in ("daily_kpis", "aggregated_final_table", "mmp_cpi")), page[:2000]

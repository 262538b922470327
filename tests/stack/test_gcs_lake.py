"""The lake on gs://, against a local GCS emulator (gcp-storage-emulator), through the same
ObjectStoragePath code as production: ingest with quarantine, the run log, freshness, MMP JSON lines and
the workbook upload location. The Airflow connection of type google_cloud_platform points at the emulator
(`gcs.endpoint`, anonymous credentials), exactly as a real bucket's connection would carry its own."""

from __future__ import annotations

import io
import json
import socket
import subprocess
import sys
import time
from datetime import timedelta
from pathlib import Path

import pyarrow.parquet as pq
import pytest

pytestmark = [pytest.mark.stack, pytest.mark.timeout(300)]

BUCKET = "cadence-lake"
PORTS = range(8111, 8121)  # h11's range


def _free_port() -> int:
    for port in PORTS:
        with socket.socket() as probe:
            if probe.connect_ex(("127.0.0.1", port)) != 0:
                return port
    raise RuntimeError(f"no free port in {PORTS}")


@pytest.fixture(scope="module")
def emulator():
    port = _free_port()
    process = subprocess.Popen(
        [str(Path(sys.executable).with_name("gcp-storage-emulator")), "start", "--host", "127.0.0.1",
         "--port", str(port), "--in-memory", "--default-bucket", BUCKET, "--quiet"],
        stdout=subprocess.DEVNULL, stderr=subprocess.PIPE,
    )  # fmt: skip
    try:
        deadline = time.monotonic() + 30
        while socket.socket().connect_ex(("127.0.0.1", port)) != 0:
            assert process.poll() is None, process.stderr.read().decode()
            assert time.monotonic() < deadline, "the GCS emulator did not start"
            time.sleep(0.2)
        yield f"http://127.0.0.1:{port}"
    finally:
        process.terminate()
        process.wait(timeout=10)


@pytest.fixture(scope="module")
def gcs_settings(emulator, tmp_path_factory):
    """Settings whose lake is gs://cadence-lake/lake through the cadence_lake connection."""
    from cadence.config import get_settings

    data = tmp_path_factory.mktemp("gcs_data")
    with pytest.MonkeyPatch.context() as patch:
        patch.setenv("CADENCE_DATA_DIR", str(data))
        patch.setenv("CADENCE_LAKE_URL", f"gs://{BUCKET}/lake")
        patch.setenv("CADENCE_LAKE_CONN_ID", "cadence_lake")
        patch.setenv("AIRFLOW_CONN_CADENCE_LAKE", json.dumps({
            "conn_type": "google_cloud_platform",
            "extra": {"project": "cadence-test", "is_anonymous": True, "gcs.endpoint": emulator},
        }))  # fmt: skip
        patch.setenv(
            "AIRFLOW_CONN_CADENCE_SOURCE",
            json.dumps({"conn_type": "sqlite", "host": str(data / "source.sqlite")}),
        )
        patch.setenv("CADENCE_SIMULATOR__MALFORMED_RATE", "0.05")
        yield get_settings()


def _objects(settings) -> dict[str, bytes]:
    from cadence import lake

    root = lake.root(settings)
    prefix = str(root).rstrip("/") + "/"
    found = {}
    for path in root.rglob("*"):
        if path.is_file():
            with path.open("rb") as handle:
                found[str(path).removeprefix(prefix)] = handle.read()
    return found


@pytest.fixture(scope="module")
def landed(gcs_settings):
    """Six hours of purchases and an hour of MMP events landed on gs://, twice (the second run a rerun)."""
    from cadence import ingest, sources
    from cadence.lake import Window
    from cadence.mmp.pipeline import land_windows

    from tests.support.data import SIM_NOW, seed_source

    seed_source(days=0.25, streams=("purchases",))
    day = Window(SIM_NOW - timedelta(hours=6), SIM_NOW)
    hour = Window(SIM_NOW - timedelta(hours=1), SIM_NOW)
    runs = []
    for _ in range(2):
        records = ingest.ingest(gcs_settings, sources.get_spec("purchases", gcs_settings), day,
                                lookback=timedelta(0), chunk=timedelta(hours=3))  # fmt: skip
        records += land_windows(gcs_settings, [hour])
        runs.append((records, _objects(gcs_settings)))
    return runs


def test_ingest_lands_bronze_quarantine_and_run_log_on_gs(landed):
    records, objects = landed[0]
    purchases = [r for r in records if r.job == "purchases"]
    bronze = {name: blob for name, blob in objects.items() if name.startswith("bronze/purchases/")}
    assert len(bronze) == len(purchases) == 2
    landed_rows = sum(pq.read_table(io.BytesIO(blob)).num_rows for blob in bronze.values())
    assert landed_rows == sum(r.rows_landed for r in purchases) > 0
    quarantined = [name for name in objects if name.startswith("quarantine/purchases/")]
    assert sum(r.rows_quarantined for r in purchases) > 0 and quarantined
    log = {
        name: json.loads(blob) for name, blob in objects.items() if name.startswith("ops/run_log/purchases/")
    }
    assert sorted(r["rows_extracted"] for r in log.values()) == sorted(r.rows_extracted for r in purchases)
    assert all(r["status"] == "success" for r in log.values())


def test_mmp_events_land_as_json_lines_on_gs(landed):
    records, objects = landed[0]
    (mmp,) = [r for r in records if r.job != "purchases"]
    (events,) = [blob for name, blob in objects.items() if name.startswith("mmp/events/dt=")]
    lines = events.decode().splitlines()
    assert len(lines) == mmp.rows_landed > 0
    assert {"event_id", "event_time", "cost_usd"} <= set(json.loads(lines[0]))
    assert any(name.startswith("ops/run_log/mmp/") for name in objects)


def test_freshness_reads_the_gs_lake(landed, gcs_settings):
    from cadence import freshness

    from tests.support.data import SIM_NOW

    fresh = freshness.check(gcs_settings, "purchases", SIM_NOW, timedelta(hours=1))
    assert fresh.latest_window_end == SIM_NOW and not fresh.is_stale
    stale = freshness.check(gcs_settings, "purchases", SIM_NOW + timedelta(hours=3), timedelta(hours=1))
    assert stale.is_stale


def test_a_rerun_replaces_objects_whole_and_leaves_no_temporaries(landed):
    (_, first), (_, second) = landed
    assert not [name for name in second if name.rsplit("/", 1)[-1].startswith(".") or name.endswith(".tmp")]
    assert sorted(first) == sorted(second), "same objects, none added"
    for name in first:
        if name.startswith(("bronze/", "quarantine/", "mmp/")):
            assert first[name] == second[name], f"{name} changed on a rerun"


def test_a_workbook_uploaded_to_the_lake_is_imported_from_gs(landed, gcs_settings):
    from datetime import datetime

    from cadence import lake
    from cadence.workbook.importer import import_workbook, outputs, resolve
    from openpyxl import Workbook

    book = Workbook()
    book.remove(book.active)
    spins = book.create_sheet("Spins Hourly")
    spins.append(["date", "userId", "country", "total_spins", "total revenue", "total purchases",
                  "Average revenue per purchase", "Total Daily Revenue"])  # fmt: skip
    spins.append([datetime(2026, 3, 2, 10), "u1", "US", 10.0])
    spins.append([datetime(2026, 3, 2, 11), "u2", "XX", 3.0])  # country not allowed: quarantined
    purchases = book.create_sheet("Purchases")
    purchases.append(["date", "userId", "revenue", "transaction_id"])
    purchases.append([datetime(2026, 3, 2, 10, 15), "u1", "PriceInUSD=4.99", "t1"])
    buffer = io.BytesIO()
    book.save(buffer)
    upload = lake.root(gcs_settings) / "uploads" / "moc.xlsx"
    lake.write_atomic(upload, buffer.getvalue())

    workbook = resolve("uploads/moc.xlsx", gcs_settings)
    assert (workbook.protocol, workbook.path) == ("gs", f"{BUCKET}/lake/uploads/moc.xlsx")
    assert outputs(workbook)["csv"].path == f"{BUCKET}/lake/uploads/moc_gold.csv"
    result = import_workbook(gcs_settings, "uploads/moc.xlsx", data_docs=False)
    sheets = result.summary()["sheets"]
    objects = _objects(gcs_settings)
    landed = [name for name in objects if name.startswith("bronze/") and "purchases" not in name]
    assert landed, sorted(objects)
    assert any(name.startswith("quarantine/") and "spins" in name for name in objects), sheets


def test_cosmos_reads_the_dbt_docs_site_published_on_gs(gcs_settings, tmp_path):
    """Production's dbt docs link: daily_kpis publishes the site into the gs:// lake and Cosmos's docs view
    reads it with its own reader (ObjectStoragePath through the lake's connection), configured as
    ``cadence.docs.cosmos_docs_projects`` says."""
    from cadence import docs
    from cosmos.plugin.airflow3 import open_file

    target = tmp_path / "target"
    target.mkdir()
    for name in docs.DBT_DOCS_FILES:
        (target / name).write_text(f"<!-- {name} of this run -->")
    assert docs.publish_dbt_docs_site(str(tmp_path)) == list(docs.DBT_DOCS_FILES)
    project = docs.cosmos_docs_projects(gcs_settings)["cadence"]
    assert project == {
        "dir": f"gs://{BUCKET}/lake/docs/dbt",
        "conn_id": "cadence_lake",
        "name": project["name"],
    }
    for name in docs.DBT_DOCS_FILES:
        assert (
            open_file(f"{project['dir']}/{name}", conn_id=project["conn_id"])
            == f"<!-- {name} of this run -->"
        )

"""The workbook import: a small MOC-style workbook with every quirk through the CLI, the DAG, the cadences.

Expected numbers come from an independent pandas computation over the rows the test writes into the
workbook, never from the pipeline. The bad-file cases each fail with their own message and leave no file.
"""

from __future__ import annotations

import contextlib
import csv
import io
import json
from datetime import datetime
from decimal import ROUND_HALF_UP, Decimal
from pathlib import Path
from types import SimpleNamespace

import pandas as pd
import pytest

from tests.support.data import SIM_NOW, warehouse_query
from tests.support.workbook import (
    HOME,
    OUTPUT_HEADERS,
    PURCHASE_ROWS,
    SPINS_HEADER,
    SPINS_ROWS,
    at,
    lake_files,
    write_workbook,
)

# --- the independent computation ----------------------------------------------------------------------------


def expected_gold(
    start: datetime | None = None,
    end: datetime | None = None,
    spins_rows=SPINS_ROWS,
    purchase_rows=PURCHASE_ROWS,
) -> pd.DataFrame:
    """Gold rows computed with pandas from the test's own rows (the documented semantics)."""
    spins = pd.DataFrame(spins_rows, columns=["date", "user_id", "country", "spins", "reason"])
    spins = spins[spins["reason"].isna()].assign(app_hour=lambda f: pd.to_datetime(f["date"]))
    purchases = pd.DataFrame(purchase_rows, columns=["date", "user_id", "revenue", "tx", "reason"])
    purchases = purchases[purchases["reason"].isna()].drop_duplicates("tx")
    purchases = purchases.assign(
        app_hour=pd.to_datetime(purchases["date"]).dt.floor("h"),
        revenue=purchases["revenue"].str.split("=").str[1].map(Decimal),
    )
    if start is not None:
        spins = spins[(spins["app_hour"] >= start) & (spins["app_hour"] < end)]
        purchases = purchases[(purchases["app_hour"] >= start) & (purchases["app_hour"] < end)]
    spins = spins.groupby(["app_hour", "user_id", "country"], as_index=False)["spins"].sum()
    best = spins.sort_values("spins", ascending=False).drop_duplicates(["app_hour", "user_id"])
    country = best.set_index(["app_hour", "user_id"])["country"]
    purchases["country"] = [
        country.get((h, u), "UNKNOWN") for h, u in zip(purchases.app_hour, purchases.user_id, strict=True)
    ]
    bought = purchases.groupby(["app_hour", "user_id", "country"]).agg(
        purchases=("tx", "size"), revenue=("revenue", lambda r: sum(r, Decimal(0)))
    )
    gold = spins.set_index(["app_hour", "user_id", "country"]).join(bought, how="outer").reset_index()
    gold["spins"] = gold["spins"].fillna(0.0)
    gold["purchases"] = gold["purchases"].fillna(0).astype(int)
    gold["revenue"] = [Decimal(0) if pd.isna(r) else r for r in gold["revenue"]]
    gold["avg"] = [
        (r / n).quantize(Decimal("0.0001"), ROUND_HALF_UP) if n else None
        for r, n in zip(gold["revenue"], gold["purchases"], strict=True)
    ]
    gold["day"] = gold["app_hour"].dt.date
    daily = gold.groupby(["user_id", "day"])["revenue"].apply(lambda r: sum(r, Decimal(0)))
    gold["daily"] = [daily[(u, d)] for u, d in zip(gold["user_id"], gold["day"], strict=True)]
    return gold.sort_values(["app_hour", "user_id", "country"], ignore_index=True)


def read_csv(path: Path) -> list[dict]:
    return list(csv.DictReader(io.StringIO(path.read_text())))


def assert_csv_matches(path: Path, expected: pd.DataFrame) -> None:
    rows = read_csv(path)
    assert len(rows) == len(expected) > 0
    for row, (_, want) in zip(rows, expected.iterrows(), strict=True):
        assert row["app_hour"] == f"{want.app_hour:%Y-%m-%d %H:%M:%S}"
        assert row["app_date"] == want.day.isoformat()
        assert (row["user_id"], row["country"]) == (want.user_id, want.country)
        assert float(row["total_spins_hourly"]) == want.spins
        assert row["total_coins_bet_hourly"] == row["total_coins_won_hourly"] == "0"
        assert int(row["total_purchases_hourly"]) == want.purchases
        assert Decimal(row["total_revenue_hourly"]) == want.revenue
        assert row["total_revenue_hourly"] == f"{want.revenue:.2f}"  # exact cents, as text
        assert row["avg_revenue_per_purchase_hourly"] == ("" if want.avg is None else str(want.avg))
        assert Decimal(row["total_revenue_per_user_daily"]) == want.daily


def assert_xlsx_matches(path: Path, expected: pd.DataFrame) -> None:
    from openpyxl import load_workbook

    book = load_workbook(path, read_only=True)
    assert book.sheetnames == ["Spins Hourly"]
    rows = list(book["Spins Hourly"].iter_rows(values_only=True))
    assert list(rows[0]) == SPINS_HEADER + OUTPUT_HEADERS  # the analyst's own headers
    assert len(rows) - 1 == len(expected)
    for row, (_, want) in zip(rows[1:], expected.iterrows(), strict=True):
        hour, user, country, spins, revenue, purchases, avg, daily = row
        assert (hour, user, country) == (want.app_hour.to_pydatetime(), want.user_id, want.country)
        assert spins == want.spins
        assert purchases == want.purchases
        assert Decimal(str(revenue)) == want.revenue
        assert (avg is None) if want.avg is None else Decimal(str(avg)) == want.avg
        assert Decimal(str(daily)) == want.daily


def quarantine_reasons(settings, source: str) -> dict[int, str]:
    paths = list((settings.data_dir / "lake/quarantine" / source).rglob("*.parquet"))
    frame = pd.concat(pd.read_parquet(p) for p in paths)
    return dict(zip(frame["sheet_row"], frame["_reject_reason"], strict=True))


def expected_reasons(rows) -> dict[int, str]:
    return {number: row[-1] for number, row in enumerate(rows, start=2) if row[-1]}


# --- the CLI: one import of the workbook, reused by several assertions ------------------------------------


def use_data_dir(monkeypatch, data: Path):
    """Point Cadence and its Airflow connections at ``data`` (like conftest's cadence_env); the settings."""
    from cadence.config import get_settings

    from tests.support.environment import data_environment

    data.mkdir(parents=True, exist_ok=True)
    for name, value in data_environment(data).items():
        monkeypatch.setenv(name, value)
    return get_settings()


@pytest.fixture(scope="module")
def imported(tmp_path_factory, airflow_db):
    """The workbook imported once through the CLI (its own days): silver/gold built, outputs exported."""
    from cadence.workbook.cli import main

    folder = tmp_path_factory.mktemp("imported")
    with pytest.MonkeyPatch.context() as monkeypatch:
        settings = use_data_dir(monkeypatch, folder / "data")
        workbook = write_workbook(folder / "moc.xlsx")
        output = io.StringIO()
        with contextlib.redirect_stdout(output):
            assert main([str(workbook)]) == 0
    return SimpleNamespace(settings=settings, workbook=workbook, output=output.getvalue())


def test_cli_import_exports_gold_that_matches_pandas_cell_by_cell(imported):
    settings, workbook = imported.settings, imported.workbook
    expected = expected_gold()
    assert set(expected["country"]) >= {"UNKNOWN", "IN"} and (expected["spins"] == 0).any()
    assert_csv_matches(workbook.with_name("moc_gold.csv"), expected)
    assert_xlsx_matches(workbook.with_name("moc_gold.xlsx"), expected)

    gold = warehouse_query(settings, "select count(*) n from gold.aggregated_final_table")
    assert gold["n"][0] == len(expected)
    silver = warehouse_query(
        settings, "select transaction_id, country, platform, status from silver.purchases order by 1"
    )
    assert silver["transaction_id"].tolist() == ["t1", "t2", "t3", "t4", "t5", "t7"]  # t1 once
    assert set(silver["platform"]) == {"unknown"} and set(silver["status"]) == {"completed"}
    assert silver.set_index("transaction_id")["country"].to_dict() == {
        "t1": "US",
        "t2": "US",
        "t3": "UNKNOWN",
        "t4": "UNKNOWN",
        "t5": "IN",
        "t7": "US",
    }
    out = imported.output
    assert "2026-03-02 00:00:00 → 2026-03-04 00:00:00 UTC" in out and "gold rows" in out


def test_bad_rows_are_quarantined_with_their_reasons_and_counted(imported):
    settings = imported.settings
    for source, rows in (("spins_hourly", SPINS_ROWS), ("purchases", PURCHASE_ROWS)):
        actual, expected = quarantine_reasons(settings, source), expected_reasons(rows)
        assert actual.keys() == expected.keys(), source  # Excel row numbers
        for row, reason in expected.items():
            assert actual[row].startswith(reason), (source, row, actual[row])
    raw = pd.read_parquet(next((settings.data_dir / "lake/quarantine/spins_hourly").rglob("*.parquet")))
    assert raw.set_index("sheet_row").loc[14, "total_spins"] == "n/a"  # kept as the workbook had it

    log = {
        p.parent.parent.name: json.loads(p.read_text())
        for p in (settings.data_dir / "lake/ops").rglob("*.json")
    }
    spins, purchases = log["workbook_spins_hourly"], log["workbook_purchases"]
    assert (spins["rows_read"], spins["rows_valid"], spins["rows_quarantined"]) == (14, 8, 6)
    assert (spins["rows_merged"], spins["rows_landed"]) == (1, 7)  # the two partial u1 rows became one
    assert spins["warnings"] == {"total_spins is not a whole number (kept as delivered, never rounded)": 2}
    assert (purchases["rows_read"], purchases["rows_valid"], purchases["rows_quarantined"]) == (11, 6, 5)
    assert (
        purchases["rule_failures"]["repeats the transaction_id of an earlier row (the purchase counts once)"]
        == 1
    )
    assert spins["window_start"] == "2026-03-02T00:00:00+00:00" and spins["status"] == "success"

    bronze = pd.read_parquet(
        next((settings.data_dir / "lake/bronze/spins_hourly").rglob("*workbook*.parquet"))
    )
    u1 = bronze[(bronze["user_id"] == "u1") & (bronze["app_hour"] == pd.Timestamp(at(10), tz="UTC"))]
    assert u1["total_spins"].tolist() == [15.5]  # summed, the fraction kept
    purchases_bronze = pd.read_parquet(next((settings.data_dir / "lake/bronze/purchases").rglob("*.parquet")))
    assert sorted(map(str, purchases_bronze["revenue_usd"])) == [
        "0.99",
        "1.99",
        "19.99",
        "2.50",
        "4.99",
        "9.99",
    ]


def test_data_docs_are_written_next_to_the_workbook(imported):
    workbook = imported.workbook
    docs = workbook.with_name("moc_data_docs")
    assert (docs / "index.html").is_file()
    pages = "".join(p.read_text(errors="ignore") for p in docs.rglob("*.html"))
    for suite in ("workbook_spins_hourly", "workbook_spins_hourly_warnings", "workbook_purchases"):
        assert suite in pages
    assert "seconds_past_hour" in pages and "total_spins_fraction" in pages


def test_a_rerun_is_idempotent_and_a_corrected_workbook_replaces_the_first(imported, monkeypatch):
    from cadence.workbook.cli import main

    settings, workbook = imported.settings, imported.workbook
    use_data_dir(monkeypatch, settings.data_dir)
    root, csv_path = settings.data_dir / "lake", workbook.with_name("moc_gold.csv")
    before = {p: p.read_bytes() for p in root.rglob("*.parquet")}
    csv_before = csv_path.read_bytes()
    assert main([str(workbook)]) == 0
    assert {p: p.read_bytes() for p in root.rglob("*.parquet")} == before
    assert csv_path.read_bytes() == csv_before

    # The analyst corrects a spin count and a price and imports the same range again (no full refresh).
    spins = [(*r[:3], 3.0, r[4]) if r[1] == "u3" else r for r in SPINS_ROWS]
    purchases = [(*r[:2], "PriceInUSD=2.99", *r[3:]) if r[3] == "t2" else r for r in PURCHASE_ROWS]
    try:
        assert main([str(write_workbook(workbook, spins, purchases))]) == 0
        corrected = expected_gold(spins_rows=spins, purchase_rows=purchases)
        assert not corrected.equals(expected_gold())
        assert_csv_matches(csv_path, corrected)
        bronze = pd.read_parquet(next((root / "bronze/purchases").rglob("*.parquet")))
        assert set(bronze["updated_at"]) == {pd.Timestamp("2026-03-04 00:00:00.000001", tz="UTC")}
    finally:
        assert main([str(write_workbook(workbook))]) == 0  # the original again, for the other tests
    assert_csv_matches(csv_path, expected_gold())


# --- bad files --------------------------------------------------------------------------------------------


# --- the DAG --------------------------------------------------------------------------------------------


def test_the_dag_imports_a_range_of_a_workbook_in_the_lake(cadence_env, run_dag, monkeypatch):
    monkeypatch.setenv("CADENCE_WORKBOOK__RETRIES", "0")
    uploads = cadence_env.data_dir / "lake" / "uploads"
    uploads.mkdir(parents=True)
    workbook = write_workbook(uploads / "moc.xlsx")
    conf = {
        "workbook": "uploads/moc.xlsx",
        "range_start": "2026-03-02T00:00:00Z",
        "range_end": "2026-03-03T00:00:00Z",
    }
    dag_run = run_dag("workbook_import", SIM_NOW, conf=conf)
    states = {ti.task_id: ti.state for ti in dag_run.get_task_instances()}
    assert dag_run.state == "success", states
    assert any(t.startswith("gold.") for t in states) and states["export"] == "success"

    expected = expected_gold(at(0), at(0, day=1))
    assert expected["app_hour"].max() < at(0, day=1)  # the next day's rows were left out
    assert_csv_matches(workbook.with_name("moc_gold.csv"), expected)
    assert_xlsx_matches(workbook.with_name("moc_gold.xlsx"), expected)
    assert (uploads / "moc_data_docs" / "index.html").is_file()
    log = json.loads(
        next((cadence_env.data_dir / "lake/ops/run_log/workbook_spins_hourly").rglob("*.json")).read_text()
    )
    assert log["rows_outside_range"] == 1 and log["run_id"] == dag_run.run_id


def test_the_dag_refuses_a_bad_file_without_retrying_or_writing(cadence_env, run_dag, tmp_path):
    workbook = tmp_path / "moc.xlsx"
    write_workbook(workbook, drop="userId")
    dag_run = run_dag("workbook_import", SIM_NOW, conf={"workbook": str(workbook)})
    instances = {ti.task_id: ti for ti in dag_run.get_task_instances()}
    states = {task: ti.state for task, ti in instances.items()}
    assert dag_run.state == "failed" and states["land"] == "failed"
    assert instances["land"].try_number == 1 and instances["land"].max_tries >= 1  # retries left, unused
    assert states["export"] == "upstream_failed"
    assert lake_files(cadence_env) == [] and not cadence_env.duckdb_path.exists()
    assert sorted(p.name for p in tmp_path.iterdir() if p.name.startswith("moc")) == ["moc.xlsx"]


# --- the same data through the cadences -------------------------------------------------------------------


def _source_rows(expected_spins: pd.DataFrame, purchases: pd.DataFrame) -> dict[str, list[tuple]]:
    """The rows the game backend would hold: one per spins key (arrived 10 minutes after the hour), one per
    purchase (arrived when made), in the source's text formats."""
    stamp = "%Y-%m-%dT%H:%M:%SZ"
    spins = []
    for r in expected_spins.itertuples():
        arrived = f"{r.app_hour + pd.Timedelta(minutes=10):{stamp}}"
        spins.append((f"{r.app_hour:{stamp}}", r.user_id, r.country, r.spins, 0, 0, arrived, arrived))
    bought = []
    for r in purchases.itertuples():
        made = f"{r.date:{stamp}}"
        bought.append(
            (r.tx, r.user_id, made, r.revenue, "USD", HOME[r.user_id], "ios", "completed", made, made)
        )
    return {"spins_hourly": spins, "purchases": bought}


def test_the_same_data_through_the_cadences_gives_the_same_gold(imported, tmp_path, monkeypatch):
    """The backend's version of the workbook (one row per spins key, one per purchase, the player's home
    country on purchases) through the cadences' land tasks and the same dbt build gives the same gold; the
    only difference is the country label of purchases the workbook cannot place (UNKNOWN)."""
    import sqlite3

    from cadence.ingest import land_for_run
    from cadence.planning import RunContext
    from cadence.simulator.source import SCHEMA
    from cadence.workbook.cli import build

    workbook_settings = imported.settings
    imported_gold = warehouse_query(workbook_settings, "select * from gold.aggregated_final_table")

    settings = use_data_dir(monkeypatch, tmp_path / "cadences")
    spins = pd.DataFrame(SPINS_ROWS, columns=["date", "user_id", "country", "spins", "reason"])
    spins = spins[spins["reason"].isna()].assign(app_hour=lambda f: pd.to_datetime(f["date"]))
    spins = spins.groupby(["app_hour", "user_id", "country"], as_index=False)["spins"].sum()
    purchases = pd.DataFrame(PURCHASE_ROWS, columns=["date", "user_id", "revenue", "tx", "reason"])
    purchases = purchases[purchases["reason"].isna()].drop_duplicates("tx")
    purchases["revenue"] = purchases["revenue"].str.split("=").str[1]
    with sqlite3.connect(settings.source_db_path) as connection:
        for statement in SCHEMA:
            connection.execute(statement)
        for table, rows in _source_rows(spins, purchases).items():
            connection.executemany(f"insert into {table} values ({', '.join('?' * len(rows[0]))})", rows)

    backfill = {"backfill_start": "2026-03-02T00:00:00Z", "backfill_end": "2026-03-04T00:00:00Z"}
    run = RunContext("test", backfill, data_interval_start=at(0), data_interval_end=at(0), run_after=at(0))
    for source, cadence in (("purchases", settings.purchases), ("spins_hourly", settings.spins)):
        landed = land_for_run(source, cadence, run)
        assert landed["rows_quarantined"] == 0 and landed["rows_landed"] > 0
    build(settings, {"window_start": "2026-03-02 00:00:00", "window_end": "2026-03-04 00:00:00"})
    cadence_gold = warehouse_query(settings, "select * from gold.aggregated_final_table")

    placed = imported_gold.assign(
        country=[
            HOME[u] if c == "UNKNOWN" else c
            for u, c in zip(imported_gold.user_id, imported_gold.country, strict=True)
        ]
    )
    key = ["app_hour", "user_id", "country"]
    assert len(cadence_gold) == len(imported_gold) > 0
    pd.testing.assert_frame_equal(
        cadence_gold.sort_values(key, ignore_index=True), placed.sort_values(key, ignore_index=True)
    )

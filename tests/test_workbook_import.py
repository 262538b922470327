"""The workbook import: a small MOC-style workbook with every quirk through the CLI, the DAG, the cadences.

Expected numbers come from an independent pandas computation over the rows the test writes into the
workbook, never from the pipeline. The bad-file cases each fail with their own message and leave no file.
"""

from __future__ import annotations

import contextlib
import csv
import io
import json
import re
import struct
from datetime import datetime
from decimal import ROUND_HALF_UP, Decimal
from pathlib import Path
from types import SimpleNamespace

import pandas as pd
import pytest

from tests.conftest import SIM_NOW, warehouse_query

SPINS_HEADER = ["date", "userId", "country", "total_spins"]
OUTPUT_HEADERS = ["total revenue", "total purchases", "Average revenue per purchase", "Total Daily Revenue"]
INSTRUCTIONS = (
    "Please fill in the four columns on the left: total revenue and total purchases of the user in the hour, "
    "the average revenue per purchase, and the user's total revenue over the whole day. " * 3
)
D = datetime(2026, 3, 2)


def at(hour: int, minute: int = 0, second: int = 0, day: int = 0) -> datetime:
    return D.replace(day=D.day + day, hour=hour, minute=minute, second=second)


# (date, userId, country, total_spins, why the row is rejected or None)
SPINS_ROWS = [
    (at(10), "u1", "US", 10.0, None),  # partial rows of one key: summed
    (at(10), "u1", "US", 5.5, None),  # ... with a fractional count (a warning, kept)
    (at(10), "u2", "GB", 7.0, None),
    (at(11), "u1", "US", 3.0, None),
    (at(12), "u3", "DE", 2.25, None),
    (at(10), "u6", "JP", 1.0, None),  # u6 plays in two countries in one hour
    (at(10), "u6", "IN", 6.0, None),
    (at(9, day=1), "u1", "US", 8.0, None),  # the next day
    (at(13, 30), "u2", "GB", 4.0, "date is not on the hour"),
    (at(14), None, "FR", 1.0, "userId is empty"),
    (at(15), "u4", "XX", 3.0, "country not in the allowed set"),
    (at(16), "u5", "BR", -2.0, "total_spins is negative"),
    (at(17), "u5", "BR", "n/a", "total_spins is empty or not a number"),
    ("yesterday", "u5", "BR", 1.0, "date is empty or not a date-time"),
]
# (date, userId, revenue, transaction_id, why the row is rejected or None)
PURCHASE_ROWS = [
    (at(10, 15), "u1", "PriceInUSD=4.99", "t1", None),
    (at(10, 15), "u1", "PriceInUSD=4.99", "t1", "repeats the transaction_id"),  # identical duplicate
    (at(10, 45, 30), "u1", "PriceInUSD=1.99", "t2", None),
    (at(11, 59, 59), "u2", "PriceInUSD=9.99", "t3", None),  # u2 has no spins at 11: UNKNOWN, 0 spins
    (at(18, 20), "u7", "PriceInUSD=0.99", "t4", None),  # u7 never spins: UNKNOWN
    (at(10, 5), "u6", "PriceInUSD=2.5", "t5", None),  # u6's country with most spins that hour: IN
    (at(12, 30), "u3", "4,99", "t6", "revenue is empty or not 'PriceInUSD="),
    (at(9, 10, day=1), "u1", "PriceInUSD=19.99", "t7", None),
    (at(13), "u2", "PriceInUSD=1000", "t8", "revenue is outside [0, 500"),
    (at(13), "u2", "PriceInUSD=3.00", None, "transaction_id is empty"),
    (at(12, 10), "u3", "PriceInUSD=4.999", "t9", "revenue is empty or not 'PriceInUSD="),
]
ALLOWED = {"US", "GB", "DE", "FR", "BR", "JP", "IN", "CA", "AU", "MX"}
HOME = {"u1": "US", "u2": "GB", "u3": "DE", "u6": "IN", "u7": "MX"}  # for the cadences' source rows


# --- building workbooks -------------------------------------------------------------------------------------


def write_workbook(path: Path, spins=SPINS_ROWS, purchases=PURCHASE_ROWS, *, sheets=None, drop=None) -> Path:
    """A workbook in the hand-off format (openpyxl), optionally without a sheet or a column."""
    from openpyxl import Workbook

    book = Workbook()
    book.remove(book.active)
    content = {
        "Spins Hourly": [SPINS_HEADER + OUTPUT_HEADERS]
        + [[*row[:4], None, None, None, INSTRUCTIONS if i == 0 else None] for i, row in enumerate(spins)],
        "Purchases": [["date", "userId", "revenue", "transaction_id"]] + [list(row[:4]) for row in purchases],
    }
    for name in sheets or content:
        sheet = book.create_sheet(name)
        rows = content[name]
        keep = [i for i, h in enumerate(rows[0]) if h != drop] if rows else []
        for row in rows:
            sheet.append([row[i] for i in keep])
    book.save(path)
    return path


def compound_file(streams: dict[str, bytes]) -> bytes:
    """A minimal OLE compound file (v3, 512-byte sectors) holding ``streams`` (each padded to >= 4096 bytes),
    which is what Excel writes for a password-protected workbook: EncryptionInfo + EncryptedPackage."""
    sector, end, free, fat_sector = 512, 0xFFFFFFFE, 0xFFFFFFFF, 0xFFFFFFFD
    fat, body, entries, cursor = [fat_sector, end], b"", [], 2
    for name, data in streams.items():
        data = data.ljust(max(4096, -(-len(data) // sector) * sector), b"\0")
        count = len(data) // sector
        entries.append((name, cursor, len(data)))
        fat += [*range(cursor + 1, cursor + count), end]
        cursor, body = cursor + count, body + data

    def entry(name, kind, start, size, child=free, right=free):
        encoded = (name + "\0").encode("utf-16-le")
        return (
            encoded.ljust(64, b"\0")
            + struct.pack("<HBBIII", len(encoded), kind, 1, free, right, child)
            + b"\0" * 36
            + struct.pack("<IQ", start, size)
        )

    directory = entry("Root Entry", 5, end, 0, child=1) + b"".join(
        entry(name, 2, start, size, right=index + 2 if index + 1 < len(entries) else free)
        for index, (name, start, size) in enumerate(entries)
    )
    header = (
        b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1"
        + b"\0" * 16
        + struct.pack("<HHHHH", 0x3E, 3, 0xFFFE, 9, 6)
        + b"\0" * 6
        + struct.pack("<9I", 0, 1, 1, 0, 4096, end, 0, end, 0)
        + struct.pack("<I", 0)
        + struct.pack("<I", free) * 108
    )
    fat_bytes = b"".join(struct.pack("<I", v) for v in fat).ljust(sector, b"\xff")
    return header + fat_bytes + directory.ljust(sector, b"\0") + body


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


def lake_files(settings) -> list[str]:
    root = settings.data_dir / "lake"
    return sorted(str(p.relative_to(root)) for p in root.rglob("*") if p.is_file()) if root.exists() else []


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

    data.mkdir(parents=True, exist_ok=True)
    monkeypatch.setenv("CADENCE_DATA_DIR", str(data))
    for name, conn_type, file in (
        ("SOURCE", "sqlite", "source.sqlite"),
        ("WAREHOUSE", "duckdb", "warehouse.duckdb"),
    ):
        monkeypatch.setenv(
            f"AIRFLOW_CONN_CADENCE_{name}", json.dumps({"conn_type": conn_type, "host": str(data / file)})
        )
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


def _truncated(path: Path) -> None:
    data = write_workbook(path).read_bytes()
    path.write_bytes(data[: len(data) // 2])


BAD_FILES = {
    "not_excel": (lambda p: p.write_text("date,userId\n2026-03-02,u1\n"), "is not an Excel workbook"),
    "missing_sheet": (lambda p: write_workbook(p, sheets=["Spins Hourly"]), "has no sheet 'Purchases'"),
    "missing_column": (lambda p: write_workbook(p, drop="revenue"), "has no column 'revenue'"),
    "empty_sheet": (lambda p: write_workbook(p, spins=[]), "sheet 'Spins Hourly' of .* is empty"),
    "password": (
        lambda p: p.write_bytes(
            compound_file({"EncryptionInfo": b"\4\0\4\0", "EncryptedPackage": b"x" * 5000})
        ),
        "is password-protected",
    ),
    "truncated": (_truncated, "is truncated or damaged"),
    "missing_file": (lambda p: None, "does not exist"),
}


@pytest.mark.parametrize("case", BAD_FILES, ids=str)
def test_a_bad_file_fails_with_its_message_and_changes_nothing(case, cadence_env, tmp_path, capsys):
    from cadence.workbook.cli import main

    make, message = BAD_FILES[case]
    workbook = tmp_path / "uploads" / "moc.xlsx"
    workbook.parent.mkdir()
    make(workbook)
    assert main([str(workbook)]) == 2
    err = capsys.readouterr().err
    assert err.startswith("error: ")
    assert re.search(message, err), err
    assert lake_files(cadence_env) == []
    assert sorted(p.name for p in workbook.parent.iterdir()) == (
        [] if case == "missing_file" else ["moc.xlsx"]
    )
    assert not cadence_env.duckdb_path.exists()


BAD_RANGES = {
    "not_on_the_hour": (
        ["--start", "2026-03-02T00:30:00Z", "--end", "2026-03-03T00:00:00Z"],
        "is not on the hour",
    ),
    "end_before_start": (
        ["--start", "2026-03-03T00:00:00Z", "--end", "2026-03-02T00:00:00Z"],
        "is not after",
    ),
    "no_rows": (["--start", "2026-04-01T00:00:00Z", "--end", "2026-04-02T00:00:00Z"], "has no rows from"),
    "start_only": (["--start", "2026-03-02T00:00:00Z"], "needs both a start and an end"),
}


@pytest.mark.parametrize("case", BAD_RANGES, ids=str)
def test_a_bad_range_is_refused_and_changes_nothing(case, cadence_env, tmp_path, capsys):
    from cadence.workbook.cli import main

    options, message = BAD_RANGES[case]
    (tmp_path / "uploads").mkdir()
    workbook = write_workbook(tmp_path / "uploads" / "moc.xlsx")
    assert main([str(workbook), *options]) == 2
    assert message in capsys.readouterr().err
    assert lake_files(cadence_env) == [] and [p.name for p in workbook.parent.iterdir()] == ["moc.xlsx"]


def test_openpyxl_reads_what_calamine_reads(tmp_path, monkeypatch):
    """The fallback reader: same rows, same typed columns (openpyxl gives ints and None where calamine gives
    floats and '', and datetimes where calamine gives dates at midnight)."""
    from cadence.workbook import mapping, reader

    data = write_workbook(tmp_path / "moc.xlsx").read_bytes()
    fast = reader.read_workbook(data, "moc.xlsx")

    def broken(*args):
        raise RuntimeError("calamine cannot read this file")

    monkeypatch.setattr(reader, "_read_calamine", broken)
    slow = reader.read_workbook(data, "moc.xlsx")
    assert (fast.engine, slow.engine) == ("calamine", "openpyxl")
    for sheet, frame in (("spins", mapping.spins_frame), ("purchases", mapping.purchases_frame)):
        a, b = getattr(fast, sheet), getattr(slow, sheet)
        assert a.rows == b.rows and a.headers == b.headers and len(a) > 10
        pd.testing.assert_frame_equal(frame(a), frame(b))


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

    from cadence.orchestration import land_for_run
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
    context = {"params": backfill, "data_interval_start": at(0), "data_interval_end": at(0), "run_id": "test"}
    for source, cadence in (("purchases", settings.purchases), ("spins_hourly", settings.spins)):
        landed = land_for_run(source, cadence, context)
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

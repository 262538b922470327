"""Export the gold rows of an import's range next to the workbook: a CSV and a filled-in ``.xlsx``.

The rows come from ``gold.aggregated_final_table`` through the warehouse's Airflow connection (DuckDB
locally, BigQuery in production), read as records so money stays exact decimals end to end. The CSV has
every gold column; the ``.xlsx`` (written with openpyxl) is the ``Spins Hourly`` sheet the analyst was asked
to fill in: one row per hour x user x country with the four columns under the analyst's own headers.
If the cadences also landed data for the same range, gold holds both (one row per key) and so do these.
"""

from __future__ import annotations

import csv
import io
from datetime import UTC, date, datetime
from decimal import Decimal

from cadence import lake
from cadence.config import Settings
from cadence.dbt_group import release_dbt_duckdb
from cadence.lake import Window
from cadence.workbook.reader import SPINS

GOLD_COLUMNS = [
    "app_hour",
    "app_date",
    "user_id",
    "country",
    "total_spins_hourly",
    "total_coins_bet_hourly",
    "total_coins_won_hourly",
    "total_purchases_hourly",
    "total_revenue_hourly",
    "avg_revenue_per_purchase_hourly",
    "total_revenue_per_user_daily",
]
CENT, TEN_THOUSANDTH = Decimal("0.01"), Decimal("0.0001")
MONEY_COLUMNS = {
    "total_revenue_hourly": CENT,
    "total_revenue_per_user_daily": CENT,
    "avg_revenue_per_purchase_hourly": TEN_THOUSANDTH,  # gold rounds it to 4 decimals
}
SHEET_COLUMNS = [  # the filled-in Spins Hourly sheet: (gold column, header key in the workbook)
    ("app_hour", "app_hour"),
    ("user_id", "user_id"),
    ("country", "country"),
    ("total_spins_hourly", "total_spins"),
    *[(gold, gold) for gold in SPINS.outputs.values()],
]


def _hook(settings: Settings):
    from airflow.exceptions import AirflowNotFoundException
    from airflow.sdk import BaseHook

    try:
        connection = BaseHook.get_connection(settings.warehouse_conn_id)
    except AirflowNotFoundException:
        if settings.warehouse != "duckdb":
            raise
        # The CLI without the local stack's environment: the warehouse file the CLI's dbt run wrote.
        import logging

        from airflow.providers.duckdb.hooks.duckdb import DuckDBHook

        logging.getLogger(__name__).info(
            "No Airflow connection %r; reading the warehouse file %s directly",
            settings.warehouse_conn_id,
            settings.duckdb_path,
        )
        hook = DuckDBHook(database=str(settings.duckdb_path), read_only=True)
        # There is no connection to read extras from: say so, or the hook looks up 'duckdb_default' and logs
        # that it uses an in-memory database, although `database` makes it open the file.
        hook.airflow_connection = None
        return hook
    if connection.conn_type == "duckdb":
        return connection.get_hook(hook_params={"read_only": True})
    if settings.warehouse == "bigquery":  # BigQueryHook speaks legacy SQL unless told otherwise
        return connection.get_hook(hook_params={"use_legacy_sql": False})
    return connection.get_hook()


def _utc_naive(value):
    if isinstance(value, datetime) and value.tzinfo is not None:
        return value.astimezone(UTC).replace(tzinfo=None)
    return value


def gold_rows(settings: Settings, window: Window) -> list[dict]:
    """Every gold row with app_hour in the window, ordered by hour, user and country."""
    release_dbt_duckdb()
    sql = (
        f"select {', '.join(GOLD_COLUMNS)} from gold.aggregated_final_table "
        f"where app_hour >= timestamp '{window.start:%Y-%m-%d %H:%M:%S}' "
        f"and app_hour < timestamp '{window.end:%Y-%m-%d %H:%M:%S}' "
        "order by app_hour, user_id, country"
    )
    rows = []
    for record in _hook(settings).get_records(sql):
        row = dict(zip(GOLD_COLUMNS, (_utc_naive(v) for v in record), strict=True))
        for column, step in MONEY_COLUMNS.items():
            if row[column] is not None:  # exact: DuckDB/BigQuery decimals, or gold's 4-decimal double
                row[column] = Decimal(str(row[column])).quantize(step)
        rows.append(row)
    return rows


def _csv_cell(value) -> str:
    if value is None:
        return ""
    if isinstance(value, datetime):
        return f"{value:%Y-%m-%d %H:%M:%S}"
    if isinstance(value, date):
        return value.isoformat()
    if isinstance(value, float):
        return str(int(value)) if value.is_integer() else repr(value)
    return str(value)


def to_csv(rows: list[dict]) -> bytes:
    buffer = io.StringIO()
    writer = csv.writer(buffer, lineterminator="\n")
    writer.writerow(GOLD_COLUMNS)
    for row in rows:
        writer.writerow([_csv_cell(row[column]) for column in GOLD_COLUMNS])
    return buffer.getvalue().encode()


def to_xlsx(rows: list[dict], headers: dict[str, str]) -> bytes:
    """The ``Spins Hourly`` sheet, filled in: one row per hour x user x country, headers as the analyst's."""
    from openpyxl import Workbook
    from openpyxl.cell import WriteOnlyCell

    book = Workbook(write_only=True)
    sheet = book.create_sheet(SPINS.name)
    formats = {"app_hour": "yyyy-mm-dd hh:mm", **dict.fromkeys(MONEY_COLUMNS, "0.00")}
    formats["avg_revenue_per_purchase_hourly"] = "0.0000"
    sheet.append([headers.get(key) or key for _, key in SHEET_COLUMNS])
    for row in rows:
        cells = []
        for gold, _ in SHEET_COLUMNS:
            cell = WriteOnlyCell(sheet, value=row[gold])
            if gold in formats:
                cell.number_format = formats[gold]
            cells.append(cell)
        sheet.append(cells)
    book.properties.created = DOCUMENT_TIME
    buffer = io.BytesIO()
    book.save(buffer)
    return _reproducible(buffer.getvalue())


# An .xlsx is a zip: openpyxl stamps the document's modified time and every zip entry with "now", so two
# exports of the same rows would differ. Both get this fixed time instead (the zip format's epoch).
DOCUMENT_TIME = datetime(1980, 1, 1)


def _reproducible(xlsx: bytes) -> bytes:
    """The same workbook with fixed document and zip-entry timestamps: the same rows give the same bytes."""
    import re
    import zipfile

    stamp = f"{DOCUMENT_TIME:%Y-%m-%dT%H:%M:%SZ}".encode()
    out = io.BytesIO()
    with (
        zipfile.ZipFile(io.BytesIO(xlsx)) as source,
        zipfile.ZipFile(out, "w", zipfile.ZIP_DEFLATED) as target,
    ):
        for entry in source.infolist():
            data = source.read(entry)
            if entry.filename == "docProps/core.xml":
                data = re.sub(
                    rb"(<dcterms:modified[^>]*>)[^<]*(</dcterms:modified>)",
                    rb"\g<1>" + stamp + rb"\g<2>",
                    data,
                )
            fixed = zipfile.ZipInfo(entry.filename, date_time=DOCUMENT_TIME.timetuple()[:6])
            fixed.compress_type, fixed.external_attr = zipfile.ZIP_DEFLATED, entry.external_attr
            target.writestr(fixed, data)
    return out.getvalue()


def export(settings: Settings, workbook, window: Window, headers: dict[str, str]) -> dict:
    """Write the CSV and the ``.xlsx`` next to ``workbook`` (each atomically); return where and how many."""
    from cadence.workbook.importer import outputs

    rows = gold_rows(settings, window)
    targets = outputs(workbook)
    lake.write_atomic(targets["csv"], to_csv(rows))
    lake.write_atomic(targets["xlsx"], to_xlsx(rows, headers))
    return {"rows": len(rows), "csv": str(targets["csv"]), "xlsx": str(targets["xlsx"])}

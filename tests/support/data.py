"""Seeding the simulated source and reading back what the pipeline wrote (source, warehouse, run log)."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from decimal import Decimal

import pandas as pd

# A fixed "now" for simulated history, so every number in the tests is reproducible.
SIM_NOW = datetime(2026, 3, 10, 12, 0, tzinfo=UTC)


def purchase_row(number: int, moment: datetime, **changes) -> dict:
    """One purchase as the source holds it (text timestamps), made at ``moment``; ``changes`` alter or break
    it (a foreign country, a bad timestamp, ...)."""
    at = f"{moment:%Y-%m-%dT%H:%M:%SZ}"
    row = dict(transaction_id=f"t{number}", user_id=f"u{number % 3}", purchased_at=at, revenue_usd=1.99,
               currency="USD", country="US", platform="ios", status="completed",
               created_at=at, updated_at=at)  # fmt: skip
    return {**row, **changes}


def extracted_purchases(settings, *rows: dict) -> pd.DataFrame:
    """Rows as ingest extracts them (the source's columns): object columns, None for NULL."""
    from cadence.sources import purchases_spec

    return pd.DataFrame(list(rows), columns=purchases_spec(settings).columns).astype(object)


def seed_source(days: float, until: datetime = SIM_NOW, streams: tuple[str, ...] = ("purchases",)):
    from cadence.simulator import cli

    return cli.seed(list(streams), days, until)


def warehouse_query(settings, sql: str) -> pd.DataFrame:
    import duckdb

    with duckdb.connect(str(settings.duckdb_path), read_only=True) as connection:
        return connection.sql(sql).df()


def source_frame(settings, table: str = "purchases") -> pd.DataFrame:
    import sqlite3

    with sqlite3.connect(settings.source_db_path) as connection:
        return pd.read_sql(f"select * from {table}", connection)


def silver(settings) -> pd.DataFrame:
    """silver.purchases with exact (Decimal) revenue, as the pandas oracle computes it."""
    frame = warehouse_query(
        settings,
        "select transaction_id, status, cast(revenue_usd as varchar) as revenue_usd, purchase_hour "
        "from silver.purchases order by transaction_id",
    )
    frame["revenue_usd"] = frame["revenue_usd"].map(Decimal)  # exact, to the cent
    frame["purchase_hour"] = frame["purchase_hour"].astype("datetime64[us]")
    return frame


def run_log(settings, job: str | None = None) -> list[dict]:
    """The run-log records in the lake (of one job, or all), in path order."""
    folder = settings.data_dir / "lake/ops/run_log" / (job or "")
    return [json.loads(p.read_text()) for p in sorted(folder.rglob("*.json"))]


def gold_records(settings) -> list[dict]:
    return run_log(settings, "gold")

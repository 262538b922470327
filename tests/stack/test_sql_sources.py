"""Any SQL source through its Airflow connection: SQLite, PostgreSQL and MariaDB (this machine's servers).

The simulator writes the same history into a fresh database of each kind; one window of both streams is
extracted, validated, landed and modelled (dbt silver on DuckDB) from each, and the lake files and silver
tables must equal those from SQLite. The bad-input tests break a source on purpose: an unreachable server, a
table missing a column, a column of the wrong type. The land step must fail naming the connection, table
and column, write a ``failed`` run-log record, and leave no bronze file.
"""

from __future__ import annotations

import json
from datetime import timedelta
from pathlib import Path

import pandas as pd
import pyarrow.parquet as pq
import pytest

from tests.support.data import SIM_NOW, seed_source
from tests.support.local_dbt import invoke
from tests.support.source_dbs import (
    SourceConnection,
    execute,
    mariadb_database,
    postgres_database,
    read_frame,
)

pytestmark = pytest.mark.stack

WINDOW_HOURS = 3
STREAMS = ("purchases", "spins_hourly")
KINDS = ("sqlite", "postgres", "mysql")


def use_source(monkeypatch, data_dir: Path, connection: SourceConnection):
    """Point Cadence (data folder) and the source connection at ``connection``; returns the settings."""
    from cadence.config import get_settings

    data_dir.mkdir(parents=True, exist_ok=True)
    monkeypatch.setenv("CADENCE_DATA_DIR", str(data_dir))
    monkeypatch.setenv("AIRFLOW_CONN_CADENCE_SOURCE", connection.as_json())
    monkeypatch.setenv(
        "AIRFLOW_CONN_CADENCE_WAREHOUSE",
        json.dumps({"conn_type": "duckdb", "host": str(data_dir / "warehouse.duckdb")}),
    )
    return get_settings()


def dbt_silver(settings, window):
    """dbt build of both silver models (and their tests) on the window, as the DAGs' Cosmos tasks run it."""
    dbt_vars = {
        "window_start": f"{window.start:%Y-%m-%d %H:%M:%S}",
        "window_end": f"{window.end:%Y-%m-%d %H:%M:%S}",
    }
    result = invoke(
        settings, "build", "--select", "tag:purchases,path:models/silver", "tag:spins,path:models/silver",
        "--vars", json.dumps(dbt_vars),
    )  # fmt: skip
    assert result.success, result.exception or [str(r.status) for r in result.result.results]
    return result


def silver_tables(settings) -> dict[str, pd.DataFrame]:
    import duckdb

    with duckdb.connect(str(settings.duckdb_path), read_only=True) as connection:
        return {
            table: connection.sql(f"select * from silver.{table} order by all").df()
            for table in ("purchases", "spins_hourly")
        }


def lake_tables(settings) -> dict[str, object]:
    root = settings.data_dir / "lake"
    return {str(p.relative_to(root)): pq.read_table(p) for p in sorted(root.rglob("*.parquet"))}


@pytest.fixture(scope="module")
def landed(tmp_path_factory):
    """Each kind of source seeded by the simulator, then one window landed and modelled from it."""
    from cadence import ingest, sources
    from cadence.lake import Window

    root = tmp_path_factory.mktemp("sql-sources")
    window = Window(SIM_NOW - timedelta(hours=WINDOW_HOURS), SIM_NOW)
    results = {}
    with postgres_database("src") as postgres, mariadb_database("src") as mariadb:
        connections = {
            "sqlite": SourceConnection("sqlite", host=str(root / "sqlite" / "source.sqlite")),
            "postgres": postgres,
            "mysql": mariadb,
        }
        for kind, connection in connections.items():
            with pytest.MonkeyPatch.context() as patch:
                settings = use_source(patch, root / kind, connection)
                seed_source(days=0.5, streams=STREAMS)
                records = {
                    name: ingest.ingest(
                        settings,
                        sources.get_spec(name, settings),
                        window,
                        lookback=timedelta(0),
                        chunk=timedelta(hours=1),
                    )
                    for name in STREAMS
                }
                dbt_silver(settings, window)
                source_rows = {
                    name: read_frame(
                        connection,
                        f"select count(*) as n from {name} "
                        f"where updated_at >= '{window.start:%Y-%m-%dT%H:%M:%SZ}' "
                        f"and updated_at < '{window.end:%Y-%m-%dT%H:%M:%SZ}'",
                    )["n"][0]
                    for name in STREAMS
                }
                results[kind] = {
                    "records": records,
                    "lake": lake_tables(settings),
                    "silver": silver_tables(settings),
                    "source_rows": source_rows,
                }
    return results


@pytest.mark.parametrize("kind", KINDS)
def test_every_source_row_is_landed_or_quarantined(landed, kind):
    """The counts add up against a direct count on the source database (SQLAlchemy, not the hook)."""
    for name in STREAMS:
        records = landed[kind]["records"][name]
        assert all(r.status == "success" for r in records)
        extracted = sum(r.rows_extracted for r in records)
        assert extracted == landed[kind]["source_rows"][name] > 0, name
        assert extracted == sum(r.rows_landed + r.rows_quarantined for r in records)


@pytest.mark.parametrize("kind", ["postgres", "mysql"])
def test_lake_files_equal_those_from_sqlite(landed, kind):
    expected, actual = landed["sqlite"]["lake"], landed[kind]["lake"]
    assert sorted(actual) == sorted(expected)
    for path, table in expected.items():
        assert actual[path].equals(table), path


@pytest.mark.parametrize("kind", ["postgres", "mysql"])
def test_silver_equals_silver_from_sqlite(landed, kind):
    for table, frame in landed["sqlite"]["silver"].items():
        assert len(frame) > 0, table
        pd.testing.assert_frame_equal(landed[kind]["silver"][table], frame, check_exact=True, obj=table)


# ------------------------------------------------------------------------------------------ bad input


@pytest.fixture(params=KINDS)
def broken_source(request, tmp_path):
    """An empty database of each kind, for a table broken on purpose."""
    if request.param == "sqlite":
        yield SourceConnection("sqlite", host=str(tmp_path / "broken.sqlite"))
        return
    database = postgres_database if request.param == "postgres" else mariadb_database
    with database("bad") as connection:
        yield connection


def land_fails(monkeypatch, tmp_path, connection: SourceConnection, stream: str = "purchases"):
    """Run the land step on one window; return the error, the run-log record and the bronze files."""
    from cadence import ingest, sources
    from cadence.lake import Window, run_log_path

    settings = use_source(monkeypatch, tmp_path / "data", connection)
    window = Window(SIM_NOW - timedelta(hours=1), SIM_NOW)
    with pytest.raises(sources.SourceError) as error:
        ingest.ingest(settings, sources.get_spec(stream, settings), window,
                      lookback=timedelta(0), chunk=timedelta(hours=1))  # fmt: skip
    record = json.loads(run_log_path(settings, stream, window).read_text())
    bronze = [p for p in (settings.data_dir / "lake").rglob("*") if p.is_file() and "bronze" in p.parts]
    return str(error.value), record, bronze


def test_an_unreachable_source_fails_naming_the_connection(monkeypatch, tmp_path):
    from tests.support.celery_ports import closed_port

    nowhere = SourceConnection("postgres", host="127.0.0.1", port=closed_port(), login="postgres", schema="x")
    message, record, bronze = land_fails(monkeypatch, tmp_path, nowhere)
    assert "'cadence_source'" in message and "'purchases'" in message and "127.0.0.1" in message, message
    assert record["status"] == "failed" and "cadence_source" in record["error"], record
    assert bronze == []


def test_a_missing_column_fails_naming_table_and_column(monkeypatch, tmp_path, broken_source):
    execute(broken_source, "create table purchases (transaction_id text, user_id text, updated_at text)")
    message, record, bronze = land_fails(monkeypatch, tmp_path, broken_source)
    assert "'purchases'" in message and "'cadence_source'" in message, message
    assert "purchased_at" in message and "revenue_usd" in message, message
    assert record["status"] == "failed" and "purchased_at" in record["error"], record
    assert bronze == []


def test_a_column_of_the_wrong_type_fails_naming_it(monkeypatch, tmp_path, broken_source):
    """coins_bet as text (a number stored as '680') cannot be typed as bronze's int64."""
    from cadence.simulator.source import COLUMN_TYPES, schema_statements

    kind = broken_source.conn_type
    text = COLUMN_TYPES.get(kind, COLUMN_TYPES["default"])["text"]
    ddl = [s.replace("coins_bet integer", f"coins_bet {text}") for s in schema_statements(kind)]
    execute(broken_source, *ddl)
    execute(
        broken_source,
        "insert into spins_hourly values ('2026-03-10T11:00:00Z', 'u1', 'US', 3, '680', 12, "
        "'2026-03-10T11:10:00Z', '2026-03-10T11:10:00Z')",
    )
    message, record, bronze = land_fails(monkeypatch, tmp_path, broken_source, stream="spins_hourly")
    assert "'coins_bet'" in message and "'spins_hourly'" in message and "'cadence_source'" in message
    assert "integer" in message, message
    assert record["status"] == "failed" and "coins_bet" in record["error"], record
    assert bronze == []

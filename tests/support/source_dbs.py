"""Throw-away source databases on this machine's PostgreSQL and MariaDB, as Airflow connections.

Each database gets a unique name (``h10_<purpose>_<random>``) and is dropped on exit, so parallel test runs
and other helpers' databases never collide::

    with postgres_database("src") as conn, mariadb_database("src") as other:
        os.environ["AIRFLOW_CONN_CADENCE_SOURCE"] = conn.as_json()
"""

from __future__ import annotations

import contextlib
import json
import subprocess
import uuid
from collections.abc import Iterator
from dataclasses import dataclass

POSTGRES = {"host": "127.0.0.1", "port": 5432, "login": "postgres"}
MARIADB = {"host": "127.0.0.1", "port": 3306, "login": "root"}


@dataclass(frozen=True)
class SourceConnection:
    """An Airflow connection (as its JSON form) to one database."""

    conn_type: str
    host: str
    port: int | None = None
    login: str | None = None
    schema: str | None = None  # the database name

    def as_json(self) -> str:
        return json.dumps({k: v for k, v in self.__dict__.items() if v is not None})

    @property
    def sqlalchemy_url(self) -> str:
        if self.conn_type == "sqlite":
            return f"sqlite:///{self.host}"
        driver = {"postgres": "postgresql+psycopg2", "mysql": "mysql+mysqldb"}[self.conn_type]
        return f"{driver}://{self.login}@{self.host}:{self.port}/{self.schema}"


def unique_name(purpose: str) -> str:
    return f"h10_{purpose}_{uuid.uuid4().hex[:8]}"


def _psql(sql: str, database: str = "postgres") -> None:
    subprocess.run(
        ["psql", "-h", POSTGRES["host"], "-p", str(POSTGRES["port"]), "-U", POSTGRES["login"], "-d", database,
         "-v", "ON_ERROR_STOP=1", "-qc", sql],
        check=True, capture_output=True, text=True,
    )  # fmt: skip


def _mariadb(sql: str) -> None:
    subprocess.run(
        ["mariadb", "-h", MARIADB["host"], "-P", str(MARIADB["port"]), "-u", MARIADB["login"], "-e", sql],
        check=True, capture_output=True, text=True,
    )  # fmt: skip


@contextlib.contextmanager
def _database(
    purpose: str, run_sql, conn_type: str, server: dict, drop_options: str = ""
) -> Iterator[SourceConnection]:
    """A database created through ``run_sql`` on ``server``, dropped on exit whatever happened."""
    name = unique_name(purpose)
    run_sql(f"create database {name}")
    try:
        yield SourceConnection(conn_type, schema=name, **server)
    finally:
        run_sql(f"drop database if exists {name}{drop_options}")


def postgres_database(purpose: str) -> contextlib.AbstractContextManager[SourceConnection]:
    return _database(purpose, _psql, "postgres", POSTGRES, drop_options=" with (force)")


def mariadb_database(purpose: str) -> contextlib.AbstractContextManager[SourceConnection]:
    return _database(purpose, _mariadb, "mysql", MARIADB)


def execute(connection: SourceConnection, *statements: str) -> None:
    """Run DDL/DML on the database directly (not through Airflow), e.g. to break a table on purpose."""
    import sqlalchemy as sa

    engine = sa.create_engine(connection.sqlalchemy_url)
    try:
        with engine.begin() as conn:
            for statement in statements:
                conn.execute(sa.text(statement))
    finally:
        engine.dispose()


def read_frame(connection: SourceConnection, sql: str):
    """A query's rows as a pandas frame, read directly with SQLAlchemy (independent of the hooks)."""
    import pandas as pd
    import sqlalchemy as sa

    engine = sa.create_engine(connection.sqlalchemy_url)
    try:
        with engine.connect() as conn:
            return pd.read_sql(sa.text(sql), conn)
    finally:
        engine.dispose()

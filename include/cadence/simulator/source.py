"""Writes simulated versions into the source database behind an Airflow connection.

The database keeps one state row per stream: when the simulation started and up to which change time it
has applied versions. ``tick(until)`` applies every version whose ``updated_at`` lies in
(applied_until, until], so a live process calling it every minute and a one-off seed of N days produce the
same table. Each tick is one transaction: a crash leaves the previous state intact.

A paused stream is a feed that went quiet: its ticks move on without writing, and the versions that came
due while it was paused are never delivered (as in an outage of the game's event pipeline).
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from contextlib import closing, contextmanager
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

import pandas as pd

from cadence.config import Settings
from cadence.simulator import purchases, spins
from cadence.simulator.population import build_population
from cadence.sources import TIMESTAMP_FORMAT

_SCHEMA_TEMPLATE = [
    """create table if not exists purchases (
        transaction_id {text}, user_id {text}, purchased_at {text}, revenue_usd numeric(12, 2),
        currency {text}, country {text}, platform {text}, status {text}, created_at {text},
        updated_at {text} not null)""",
    "create index if not exists purchases_updated_at on purchases (updated_at)",
    "create index if not exists purchases_transaction_id on purchases (transaction_id)",
    """create table if not exists spins_hourly (
        app_hour {text}, user_id {text}, country {text}, total_spins {number}, coins_bet integer,
        coins_won integer, created_at {text}, updated_at {text} not null)""",
    "create index if not exists spins_hourly_updated_at on spins_hourly (updated_at)",
    "create index if not exists spins_hourly_key on spins_hourly (app_hour, user_id, country)",
    """create table if not exists simulator_state (
        stream {text} primary key, started_at {text} not null, applied_until {text} not null)""",
    "create table if not exists simulator_paused (stream {text} primary key, paused_at {text} not null)",
]
# Column types per dialect. MySQL/MariaDB cannot index unbounded text, and its bare `numeric` has no
# fraction digits (spins totals can be fractional). `create index if not exists` needs MariaDB (or
# SQLite/Postgres); MySQL 8 lacks it.
COLUMN_TYPES = {
    "mysql": {"text": "varchar(64)", "number": "double"},
    "default": {"text": "text", "number": "numeric"},
}


def schema_statements(conn_type: str) -> list[str]:
    """The simulator's DDL for a connection type (sqlite, postgres, mysql, ...)."""
    types = COLUMN_TYPES.get(conn_type, COLUMN_TYPES["default"])
    return [statement.format(**types) for statement in _SCHEMA_TEMPLATE]


SCHEMA = schema_statements("sqlite")  # the embedded default's DDL


@dataclass(frozen=True)
class Stream:
    """One simulated source table and how its versions are generated and applied."""

    name: str
    columns: list[str]
    key: list[str]
    update_columns: list[str]
    generate: Callable[..., pd.DataFrame]
    max_change_delay: Callable[..., timedelta]


STREAMS = {
    "purchases": Stream(
        name="purchases",
        columns=purchases.COLUMNS,
        key=["transaction_id"],
        update_columns=["status", "updated_at"],
        generate=purchases.generate,
        max_change_delay=purchases.max_change_delay,
    ),
    "spins_hourly": Stream(
        name="spins_hourly",
        columns=spins.COLUMNS,
        key=spins.KEY,
        update_columns=["total_spins", "coins_bet", "updated_at"],
        generate=spins.generate,
        max_change_delay=spins.max_change_delay,
    ),
}


@dataclass(frozen=True)
class TickSummary:
    stream: str
    applied_from: datetime
    applied_until: datetime
    inserted: int
    updated: int
    paused: bool = False


@contextmanager
def _transaction(hook) -> Iterator:
    with closing(hook.get_conn()) as conn:
        try:
            yield conn
            conn.commit()
        except BaseException:
            conn.rollback()
            raise


def ensure_schema(hook) -> None:
    with _transaction(hook) as conn, closing(conn.cursor()) as cur:
        if hook.conn_type == "sqlite":
            # WAL lets extracts read while the simulator writes; the mode persists in the file.
            cur.execute("pragma journal_mode=wal")
        for statement in schema_statements(hook.conn_type):
            cur.execute(statement)


def state(hook, stream: str) -> tuple[datetime, datetime] | None:
    """When the simulation of ``stream`` started and up to which change time it applied (None: not begun)."""
    row = hook.get_first(
        f"select started_at, applied_until from simulator_state where stream = {hook.placeholder}", [stream]
    )
    if not row:
        return None
    return tuple(datetime.fromisoformat(value).astimezone(UTC) for value in row)  # type: ignore[return-value]


def start(hook, stream: str, started_at: datetime) -> None:
    """Begin a simulation at ``started_at`` (nothing applied yet); a no-op if it already started."""
    ensure_schema(hook)
    if state(hook, stream) is None:
        p = hook.placeholder
        hook.run(
            f"insert into simulator_state values ({p}, {p}, {p})",
            parameters=[stream, started_at.isoformat(), started_at.isoformat()],
        )


def paused_streams(hook) -> dict[str, datetime]:
    """The paused streams and when each was paused."""
    ensure_schema(hook)
    rows = hook.get_records("select stream, paused_at from simulator_paused")
    return {stream: datetime.fromisoformat(at).astimezone(UTC) for stream, at in rows}


def pause(hook, stream: str, at: datetime) -> None:
    """Stop delivering ``stream`` (a no-op if it is paused already)."""
    if stream not in paused_streams(hook):
        hook.run(
            f"insert into simulator_paused values ({hook.placeholder}, {hook.placeholder})",
            parameters=[stream, at.isoformat()],
        )


def resume(hook, stream: str) -> None:
    """Deliver ``stream`` again from the next tick on."""
    ensure_schema(hook)
    hook.run(f"delete from simulator_paused where stream = {hook.placeholder}", parameters=[stream])


def tick(hook, settings: Settings, stream_name: str, until: datetime) -> TickSummary:
    """Apply every version of ``stream_name`` that changed after the last tick and up to ``until``."""
    stream = STREAMS[stream_name]
    current = state(hook, stream_name)
    if current is None:
        raise RuntimeError(
            f"simulation of {stream_name!r} has not started: run `cadence-simulate seed` first"
        )
    started_at, applied_until = current
    if until <= applied_until:
        return TickSummary(stream_name, applied_until, applied_until, 0, 0)
    if stream_name in paused_streams(hook):
        with _transaction(hook) as conn, closing(conn.cursor()) as cur:
            _advance(cur, hook.placeholder, stream_name, until)
        return TickSummary(stream_name, applied_until, until, 0, 0, paused=True)

    population = build_population(settings.simulator)
    horizon = max(started_at, applied_until - stream.max_change_delay(settings.simulator))
    versions = stream.generate(horizon, until, population, settings.simulator)
    changed_from = applied_until.strftime(TIMESTAMP_FORMAT)
    changed_until = until.strftime(TIMESTAMP_FORMAT)
    due = versions[(versions["updated_at"] > changed_from) & (versions["updated_at"] <= changed_until)]
    inserts = due[due["op"] == "insert"]
    updates = due[due["op"] == "update"]

    p = hook.placeholder
    insert_sql = (
        f"insert into {stream_name} ({', '.join(stream.columns)}) "
        f"values ({', '.join([p] * len(stream.columns))})"
    )
    update_sql = (
        f"update {stream_name} set {', '.join(f'{c} = {p}' for c in stream.update_columns)} "
        f"where {' and '.join(f'{k} = {p}' for k in stream.key)}"
    )
    with _transaction(hook) as conn, closing(conn.cursor()) as cur:
        cur.executemany(insert_sql, _records(inserts[stream.columns]))
        cur.executemany(update_sql, _records(updates[stream.update_columns + stream.key]))
        _advance(cur, p, stream_name, until)
    return TickSummary(stream_name, applied_until, until, len(inserts), len(updates))


def _advance(cur, placeholder: str, stream_name: str, until: datetime) -> None:
    cur.execute(
        f"update simulator_state set applied_until = {placeholder} where stream = {placeholder}",
        [until.isoformat(), stream_name],
    )


def _records(frame: pd.DataFrame) -> list[tuple]:
    """Rows as plain Python values (None for missing) that every DB-API driver accepts."""
    return [
        tuple(None if pd.isna(v) else v.item() if hasattr(v, "item") else v for v in row)
        for row in frame.itertuples(index=False, name=None)
    ]

"""What each source table is: its columns, bronze schema, change-time column and validation rules.

A new source (spins, MMP events) is one more :class:`SourceSpec`; extraction, validation, landing and the
run log are shared.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal

import pandas as pd
import pyarrow as pa

from cadence.config import Settings
from cadence.quality import Rule

# How the game backend writes every time column, change times included: fixed width, so text compares as time.
TIMESTAMP_FORMAT = "%Y-%m-%dT%H:%M:%SZ"

TIMESTAMP = pa.timestamp("us", tz="UTC")
MONEY = pa.decimal128(12, 2)
WINDOW_COLUMNS = [("_window_start", TIMESTAMP), ("_window_end", TIMESTAMP)]


@dataclass(frozen=True)
class SourceSpec:
    name: str
    table: str
    change_column: str  # extraction is by this change time, never by event time
    order_by: list[str]
    schema: pa.Schema  # typed bronze columns, in source order (window metadata is appended)
    rules: list[Rule]

    @property
    def columns(self) -> list[str]:
        return self.schema.names

    def bronze_schema(self) -> pa.Schema:
        return pa.schema([*self.schema, *WINDOW_COLUMNS])

    def quarantine_schema(self) -> pa.Schema:
        return pa.schema(
            [pa.field(name, pa.string()) for name in self.columns]
            + [("_reject_reason", pa.string())]
            + WINDOW_COLUMNS
        )


def _timestamp_rules(*columns: str) -> list[Rule]:
    return [
        Rule(
            f"{column} is not a {TIMESTAMP_FORMAT} timestamp",
            "ExpectColumnValuesToMatchStrftimeFormat",
            {"column": column, "strftime_format": TIMESTAMP_FORMAT},
        )
        for column in columns
    ]


def _not_null_rules(*columns: str) -> list[Rule]:
    return [Rule(f"{c} is null", "ExpectColumnValuesToNotBeNull", {"column": c}) for c in columns]


def purchases_spec(settings: Settings) -> SourceSpec:
    q = settings.quality
    return SourceSpec(
        name="purchases",
        table="purchases",
        change_column="updated_at",
        order_by=["updated_at", "transaction_id"],
        schema=pa.schema(
            [
                ("transaction_id", pa.string()),
                ("user_id", pa.string()),
                ("purchased_at", TIMESTAMP),
                ("revenue_usd", MONEY),
                ("currency", pa.string()),
                ("country", pa.string()),
                ("platform", pa.string()),
                ("status", pa.string()),
                ("created_at", TIMESTAMP),
                ("updated_at", TIMESTAMP),
            ]
        ),
        rules=[
            *_not_null_rules(
                "transaction_id",
                "user_id",
                "purchased_at",
                "revenue_usd",
                "country",
                "platform",
                "status",
                "created_at",
                "updated_at",
            ),
            *_timestamp_rules("purchased_at", "created_at", "updated_at"),
            Rule(
                f"revenue_usd outside [0, {q.max_revenue_usd}]",
                "ExpectColumnValuesToBeBetween",
                {"column": "revenue_usd", "min_value": 0, "max_value": q.max_revenue_usd},
            ),
            Rule(
                "country not allowed",
                "ExpectColumnValuesToBeInSet",
                {"column": "country", "value_set": list(q.countries)},
            ),
            Rule(
                "currency not allowed",
                "ExpectColumnValuesToBeInSet",
                {"column": "currency", "value_set": list(q.currencies)},
            ),
            Rule(
                "platform not allowed",
                "ExpectColumnValuesToBeInSet",
                {"column": "platform", "value_set": list(q.platforms)},
            ),
            Rule(
                "status not allowed",
                "ExpectColumnValuesToBeInSet",
                {"column": "status", "value_set": ["completed", "refunded"]},
            ),
            Rule(
                "duplicate delivery of (transaction_id, updated_at)",
                "ExpectCompoundColumnsToBeUnique",
                {"column_list": ["transaction_id", "updated_at"]},
                keep_first=True,
            ),
        ],
    )


def spins_spec(settings: Settings) -> SourceSpec:
    q = settings.quality
    return SourceSpec(
        name="spins_hourly",
        table="spins_hourly",
        change_column="updated_at",
        order_by=["updated_at", "app_hour", "user_id", "country"],
        schema=pa.schema(
            [
                ("app_hour", TIMESTAMP),
                ("user_id", pa.string()),
                ("country", pa.string()),
                ("total_spins", pa.float64()),  # real hand-offs carry fractional spins: never round them
                ("coins_bet", pa.int64()),
                ("coins_won", pa.int64()),
                ("created_at", TIMESTAMP),
                ("updated_at", TIMESTAMP),
            ]
        ),
        rules=[
            *_not_null_rules(
                "app_hour",
                "user_id",
                "country",
                "total_spins",
                "coins_bet",
                "coins_won",
                "created_at",
                "updated_at",
            ),
            *_timestamp_rules("app_hour", "created_at", "updated_at"),
            Rule(
                "app_hour is not on the hour",
                "ExpectColumnValuesToMatchRegex",
                {"column": "app_hour", "regex": r":00:00Z$"},
            ),
            *[
                Rule(
                    f"{column} is negative",
                    "ExpectColumnValuesToBeBetween",
                    {"column": column, "min_value": 0},
                )
                for column in ("total_spins", "coins_bet", "coins_won")
            ],
            Rule(
                "country not allowed",
                "ExpectColumnValuesToBeInSet",
                {"column": "country", "value_set": list(q.countries)},
            ),
            Rule(
                "duplicate delivery of (app_hour, user_id, country, updated_at)",
                "ExpectCompoundColumnsToBeUnique",
                {"column_list": ["app_hour", "user_id", "country", "updated_at"]},
                keep_first=True,
            ),
        ],
    )


def source_hook(settings: Settings):
    """The DB-API hook of the source connection (SqliteHook locally, any SQL hook in production).

    Outside a task (the CLI, the live feed) the connection must come from the environment
    (AIRFLOW_CONN_CADENCE_SOURCE) or a secrets backend: the Task SDK does not read the metadata DB there.
    """
    from airflow.sdk import BaseHook  # lazy: keeps `import cadence` free of Airflow start-up cost

    return BaseHook.get_connection(settings.source_conn_id).get_hook()


SPECS = {"purchases": purchases_spec, "spins_hourly": spins_spec}


def get_spec(name: str, settings: Settings) -> SourceSpec:
    return SPECS[name](settings)


def format_bound(moment: datetime) -> str:
    """A window bound in the source's change-time text format (fixed width, so it compares correctly)."""
    return moment.strftime(TIMESTAMP_FORMAT)


class SourceError(RuntimeError):
    """A source table cannot be read as its spec says; the message names the connection, table and column."""


def _accepted_types(field: pa.Field) -> tuple[tuple[type, ...], str]:
    """The SQL column types (as SQLAlchemy reflects them on any dialect) a bronze field can come from."""
    import sqlalchemy as sa

    if field.type == TIMESTAMP or pa.types.is_string(field.type):
        return (sa.String,), f"text (timestamps as {TIMESTAMP_FORMAT} text)"
    if pa.types.is_integer(field.type):
        return (sa.Integer,), "an integer"
    return (sa.Numeric, sa.Float, sa.Integer), "a number"  # Float is no Numeric in SQLAlchemy 2.1


def _where(hook, spec: SourceSpec) -> str:
    return f"table {spec.table!r} through connection {hook.get_conn_id()!r}"


def check_table(hook, spec: SourceSpec) -> None:
    """Fail with a :class:`SourceError` unless the source table exists with every column at a usable type.

    The columns are reflected through the hook's SQLAlchemy inspector, so the check reads the same on
    SQLite, PostgreSQL and MySQL/MariaDB.
    """
    import sqlalchemy as sa

    where = _where(hook, spec)
    try:
        reflected = hook.inspector.get_columns(spec.table)
    except sa.exc.NoSuchTableError:
        raise SourceError(
            f"{where}: the table does not exist; create it or fix the connection's database"
        ) from None
    except Exception as error:
        connection = hook.connection
        raise SourceError(
            f"cannot read {where} ({connection.conn_type} at {connection.host}:{connection.port}, "
            f"database {connection.schema!r}): {type(error).__name__}: {str(error).strip()}. "
            "Check the connection's host, port, database and credentials."
        ) from error
    columns = {column["name"].lower(): column["type"] for column in reflected}
    missing = [name for name in spec.columns if name not in columns]
    if missing:
        raise SourceError(
            f"{where} lacks column(s) {', '.join(missing)}; {spec.name} needs {', '.join(spec.columns)}"
        )
    for field in spec.schema:
        accepted, description = _accepted_types(field)
        if not isinstance(columns[field.name], accepted):
            raise SourceError(
                f"column {field.name!r} of {where} has type {columns[field.name]}, expected {description}"
            )


def extract(hook, spec: SourceSpec, start: datetime, end: datetime) -> pd.DataFrame:
    """Rows whose change time lies in [start, end), in a stable order, through any common.sql hook.

    The bounds are bound parameters in the hook's own placeholder style, passed as a tuple (every DB-API
    driver accepts one; psycopg2 through pandas refuses a list).
    """
    check_table(hook, spec)
    p = hook.placeholder
    sql = (
        f"select {', '.join(spec.columns)} from {spec.table} "
        f"where {spec.change_column} >= {p} and {spec.change_column} < {p} "
        f"order by {', '.join(spec.order_by)}"
    )
    try:
        frame = hook.get_df(sql, parameters=(format_bound(start), format_bound(end)))
    except Exception as error:
        raise SourceError(
            f"extracting from {_where(hook, spec)} failed: {type(error).__name__}: {error}"
        ) from error
    return frame.astype(object).where(frame.notna(), None)


def _typed_column(values: pd.Series, field: pa.Field) -> pa.Array:
    if field.type == TIMESTAMP:
        parsed = pd.to_datetime(values, format=TIMESTAMP_FORMAT, utc=True)
        return pa.array(parsed, type=TIMESTAMP)
    if pa.types.is_floating(field.type):  # Postgres numeric arrives as Decimal
        return pa.array([None if v is None else float(v) for v in values], type=field.type)
    if pa.types.is_decimal(field.type):
        scale = field.type.scale
        return pa.array([Decimal(f"{float(v):.{scale}f}") for v in values], type=field.type)
    return pa.array(values.astype(object).where(values.notna(), None), type=field.type)


def to_bronze(
    valid: pd.DataFrame, spec: SourceSpec, window_start: datetime, window_end: datetime
) -> pa.Table:
    """Typed bronze rows (validation guarantees every value parses) with their window columns."""
    n = len(valid)
    arrays = [_typed_column(valid[field.name], field) for field in spec.schema]
    arrays += [pa.array([window_start] * n, type=TIMESTAMP), pa.array([window_end] * n, type=TIMESTAMP)]
    return pa.Table.from_arrays(arrays, schema=spec.bronze_schema())


def _as_text(value) -> str | None:
    """A value as quarantine text, the same whichever driver read it: a whole number prints without a
    fraction (SQLite gives -34, Postgres numeric Decimal('-34.0'), MariaDB double -34.0)."""
    if value is None:
        return None
    if isinstance(value, Decimal | float) and not isinstance(value, bool) and math.isfinite(value):
        return str(int(value)) if value == int(value) else str(float(value))
    return str(value)


def to_quarantine(
    rejected: pd.DataFrame, spec: SourceSpec, window_start: datetime, window_end: datetime
) -> pa.Table:
    """Rejected rows as extracted (as text, since they may not parse) plus the reasons."""
    n = len(rejected)
    arrays = [
        pa.array([_as_text(v) for v in rejected[name]], type=pa.string())
        for name in [*spec.columns, "_reject_reason"]
    ]
    arrays += [pa.array([window_start] * n, type=TIMESTAMP), pa.array([window_end] * n, type=TIMESTAMP)]
    return pa.Table.from_arrays(arrays, schema=spec.quarantine_schema())

"""Map workbook cells onto the bronze source schemas, so the cadences' own dbt models build silver and gold.

Raw cells become typed columns with clear lowercase names (``date`` → ``app_hour`` / ``purchased_at``,
``userId`` → ``user_id``), plus a few derived columns that the Great Expectations rules check
(``seconds_past_hour``, ``total_spins_fraction``, ``revenue_usd``). Conversions are vectorised on the
common case (calamine hands over floats and datetimes) and fall back to a per-cell path for odd cells, which
then fail validation with a reason instead of an exception.

What the workbook does not have is filled with constants (documented in README.md "Workbook import"):
purchases are ``completed``, in ``USD``, on platform ``unknown``; spins rows have 0 coins bet and won;
``created_at`` = ``updated_at`` = the end of the import range, so a rerun lands identical files and a later
change of the same key from a cadence (a correction, a refund) still wins in silver.
"""

from __future__ import annotations

import math
from datetime import UTC, date, datetime, time

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc

from cadence.lake import Window
from cadence.sources import MONEY, TIMESTAMP, SourceSpec
from cadence.workbook.reader import Sheet

UNKNOWN_COUNTRY = "UNKNOWN"  # a purchase whose user has no spins row in its hour (dbt accepts it)
CURRENCY, PLATFORM, STATUS = "USD", "unknown", "completed"
PRICE_PATTERN = r"(?i)^\s*PriceInUSD\s*=\s*(?P<sign>[-+]?)(?P<units>\d+)(?:\.(?P<cents>\d*))?\s*$"
ROW = "sheet_row"  # the Excel row number: quarantine and Data Docs point at it
SPINS_KEY = ["app_hour", "user_id", "country"]


# --- cells -> typed columns -------------------------------------------------------------------------------


def _cell_text(value: object) -> str | None:
    if value is None or isinstance(value, bool):
        return None if value is None else str(value)
    if isinstance(value, float):
        if math.isnan(value):
            return None
        return str(int(value)) if value.is_integer() else repr(value)  # userId 12345 arrives as 12345.0
    text = value.isoformat(sep=" ") if isinstance(value, datetime) else str(value)
    return text.strip() or None


def texts(values: list) -> pd.Series:
    """Stripped text (Arrow-backed), missing for a blank cell; whole numbers print without '.0'."""
    if set(map(type, values)) != {str}:
        values = [_cell_text(v) for v in values]
    stripped = pc.utf8_trim_whitespace(pa.array(values, type=pa.string()))
    stripped = pc.if_else(pc.equal(stripped, ""), pa.scalar(None, pa.string()), stripped)
    return pd.Series(pd.array(stripped, dtype="str"))


def _cell_number(value: object) -> float:
    if isinstance(value, bool) or value is None:
        return math.nan
    if isinstance(value, int | float):
        return float(value)
    if isinstance(value, str):
        try:
            return float(value.strip()) if value.strip() else math.nan  # "12,5" is no number: rejected
        except ValueError:
            return math.nan
    return math.nan


def numbers(values: list) -> np.ndarray:
    """Floats, NaN for a blank or non-numeric cell (a text number such as '12.5' is read as a number)."""
    if set(map(type, values)) <= {float, int}:
        return np.asarray(values, dtype=np.float64)
    return np.array([_cell_number(v) for v in values], dtype=np.float64)


def _cell_datetime(value: object) -> datetime | None:
    if isinstance(value, datetime):
        moment = value
    elif isinstance(value, date):
        moment = datetime.combine(value, time())
    elif isinstance(value, str) and value.strip():
        try:
            moment = datetime.fromisoformat(value.strip().replace("Z", "+00:00"))
        except ValueError:
            return None
    else:
        return None
    return moment.astimezone(UTC).replace(tzinfo=None) if moment.tzinfo else moment


def datetimes(values: list) -> pd.Series:
    """UTC timestamps (Excel's are naive and taken as UTC), NaT for a blank cell or one that is no date."""
    try:
        if not set(map(type, values)) <= {datetime, date}:  # calamine reads a midnight as a date
            raise TypeError("not only date-times")
        parsed = pd.to_datetime(values)  # Excel's are naive; an aware one raises and takes the slow path
    except (TypeError, ValueError):
        parsed = pd.to_datetime([_cell_datetime(v) for v in values])
    if getattr(parsed, "tz", None) is not None:  # every cell aware (never from Excel): to naive UTC
        parsed = parsed.tz_convert("UTC").tz_localize(None)
    return pd.Series(parsed, dtype="datetime64[us]").dt.tz_localize("UTC")


# --- the two sheets -----------------------------------------------------------------------------------------


def spins_frame(sheet: Sheet) -> pd.DataFrame:
    """One typed row per ``Spins Hourly`` row, with the columns its rules check."""
    app_hour = datetimes(sheet.columns["app_hour"])
    total_spins = numbers(sheet.columns["total_spins"])
    country = texts(sheet.columns["country"])
    return pd.DataFrame(
        {
            ROW: sheet.rows,
            "app_hour": app_hour,
            "user_id": texts(sheet.columns["user_id"]),
            "country": country.str.upper(),  # silver upper-cases it too
            "total_spins": total_spins,
            "seconds_past_hour": (app_hour - app_hour.dt.floor("h")).dt.total_seconds(),
            "total_spins_fraction": np.mod(total_spins, 1.0),
        }
    )


def purchases_frame(sheet: Sheet) -> pd.DataFrame:
    """One typed row per ``Purchases`` row; ``revenue_usd`` is the exact amount of ``PriceInUSD=`` text.

    ``revenue_amount`` holds the amount as a two-decimal string (converted to decimal(12,2) without any
    float in between); it is empty when the text is not ``PriceInUSD=<amount>`` with at most whole cents.
    """
    purchased_at = datetimes(sheet.columns["purchased_at"])
    revenue = texts(sheet.columns["revenue"])
    matched = pc.extract_regex(pa.array(revenue, type=pa.string(), from_pandas=True), PRICE_PATTERN)
    sign, units, cents = (matched.field(name) for name in ("sign", "units", "cents"))
    cents = pc.utf8_rtrim(cents, characters="0")
    sign = pc.replace_substring(sign, "+", "")
    amount = pc.binary_join_element_wise(sign, units, ".", pc.utf8_rpad(cents, width=2, padding="0"), "")
    parsed = pc.and_(pc.is_valid(matched), pc.less_equal(pc.utf8_length(cents), 2))  # whole cents only
    amount = pc.if_else(parsed, amount, None)
    return pd.DataFrame(
        {
            ROW: sheet.rows,
            "transaction_id": texts(sheet.columns["transaction_id"]),
            "user_id": texts(sheet.columns["user_id"]),
            "purchased_at": purchased_at,
            "purchase_hour": purchased_at.dt.floor("h"),
            "revenue": revenue,
            "revenue_amount": pd.Series(amount.to_pandas(), dtype="str"),
            "revenue_usd": pc.cast(amount, pa.float64()).to_numpy(zero_copy_only=False),
        }
    )


def sum_spins(valid: pd.DataFrame) -> pd.DataFrame:
    """One row per app_hour x user x country: partial rows summed (``partial_rows`` says how many)."""
    grouped = valid.groupby(SPINS_KEY, sort=True, as_index=False)
    summed = grouped.agg(total_spins=("total_spins", "sum"), partial_rows=("total_spins", "size"))
    return summed.reset_index(drop=True)


def attribute_countries(purchases: pd.DataFrame, spins: pd.DataFrame) -> pd.Series:
    """The country of each purchase: its user's spins row in its hour (most spins, then alphabetical)."""
    key = ["purchase_hour", "user_id"]
    candidates = spins.rename(columns={"app_hour": "purchase_hour"}).merge(
        purchases[key].drop_duplicates(),
        on=key,  # only the hours in which a user purchased
    )
    best = candidates.sort_values([*key, "total_spins", "country"], ascending=[True, True, False, True])
    best = best.drop_duplicates(key)[[*key, "country"]]
    matched = purchases[key].merge(best, how="left", on=key)
    return pd.Series(matched["country"].fillna(UNKNOWN_COUNTRY).to_numpy(), index=purchases.index)


# --- typed frames -> bronze and quarantine tables ----------------------------------------------------------


def _constant(value, n: int, type_: pa.DataType) -> pa.Array:
    return pa.repeat(pa.scalar(value, type=type_), n)


def _texts(series: pd.Series) -> pa.Array:
    return pa.array(series, type=pa.string(), from_pandas=True)


def spins_bronze(summed: pd.DataFrame, spec: SourceSpec, window: Window) -> pa.Table:
    n, as_of = len(summed), window.end
    arrays = [
        pa.array(summed["app_hour"], type=TIMESTAMP),
        _texts(summed["user_id"]),
        _texts(summed["country"]),
        pa.array(summed["total_spins"].to_numpy(np.float64), type=pa.float64()),
        _constant(0, n, pa.int64()),
        _constant(0, n, pa.int64()),
        _constant(as_of, n, TIMESTAMP),
        _constant(as_of, n, TIMESTAMP),
        _constant(window.start, n, TIMESTAMP),
        _constant(window.end, n, TIMESTAMP),
    ]
    return pa.Table.from_arrays(arrays, schema=spec.bronze_schema())


def purchases_bronze(valid: pd.DataFrame, spec: SourceSpec, window: Window) -> pa.Table:
    n, as_of = len(valid), window.end
    arrays = [
        _texts(valid["transaction_id"]),
        _texts(valid["user_id"]),
        pa.array(valid["purchased_at"], type=TIMESTAMP),
        _texts(valid["revenue_amount"]).cast(MONEY),  # exact: "4.99" -> 4.99, never through a float
        _constant(CURRENCY, n, pa.string()),
        _texts(valid["country"]),
        _constant(PLATFORM, n, pa.string()),
        _constant(STATUS, n, pa.string()),
        _constant(as_of, n, TIMESTAMP),
        _constant(as_of, n, TIMESTAMP),
        _constant(window.start, n, TIMESTAMP),
        _constant(window.end, n, TIMESTAMP),
    ]
    return pa.Table.from_arrays(arrays, schema=spec.bronze_schema())


def quarantine_table(sheet: Sheet, rejected: pd.DataFrame, reasons: pd.Series, window: Window) -> pa.Table:
    """Rejected rows as the workbook has them (cells as text) with their Excel row and every broken rule.

    ``rejected`` is the typed frame's rejected rows; its index is the row's position in ``sheet``.
    """
    positions = rejected.index.to_numpy()
    n = len(positions)
    columns = {ROW: pa.array(rejected[ROW].to_numpy(np.int64), type=pa.int64())}
    for name, values in sheet.columns.items():
        columns[name] = pa.array([_cell_text(values[i]) for i in positions], type=pa.string())
    columns["_reject_reason"] = pa.array(reasons.loc[rejected.index].tolist(), type=pa.string())
    columns["_window_start"] = _constant(window.start, n, TIMESTAMP)
    columns["_window_end"] = _constant(window.end, n, TIMESTAMP)
    return pa.table(columns)

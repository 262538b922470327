"""MMP events as plain pandas columns, and the window the generator tests use."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pandas as pd
import pyarrow as pa

START = datetime(2026, 3, 1, tzinfo=UTC)
DAY = timedelta(days=1)


def frame(table: pa.Table) -> pd.DataFrame:
    """Events as plain pandas columns: exact nullable ids, cost as float (exactness is tested on its own)."""
    df = table.drop_columns(["cost_usd"]).to_pandas(types_mapper={pa.int64(): pd.Int64Dtype()}.get)
    for name in ("event_type", "partner", "platform", "country", "campaign_id"):
        df[name] = df[name].astype(str)
    df["cost"] = table.column("cost_usd").cast(pa.float64()).to_numpy()
    return df

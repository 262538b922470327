"""Quarantine text does not depend on the source's driver: the same rejected row reads the same from
SQLite (int/float), Postgres (Decimal) and MariaDB (float)."""

from __future__ import annotations

from datetime import UTC, datetime
from decimal import Decimal

import pandas as pd
import pytest

pytestmark = pytest.mark.unit


@pytest.mark.parametrize(
    ("sqlite", "postgres", "mariadb", "text"),
    [(-34, Decimal("-34.0"), -34.0, "-34"), (-0.99, Decimal("-0.99"), -0.99, "-0.99"),
     (12.5, Decimal("12.50"), 12.5, "12.5"), (None, None, None, None)],
)  # fmt: skip
def test_numbers_read_the_same_from_every_driver(sqlite, postgres, mariadb, text):
    from cadence.config import load_settings
    from cadence.sources import spins_spec, to_quarantine

    spec = spins_spec(load_settings())
    moment = datetime(2026, 3, 10, tzinfo=UTC)
    texts = []
    for value in (sqlite, postgres, mariadb):
        row = {name: "x" for name in spec.columns} | {"total_spins": value, "_reject_reason": "negative"}
        table = to_quarantine(pd.DataFrame([row], dtype=object), spec, moment, moment)
        texts.append(table.column("total_spins")[0].as_py())
    assert texts == [text] * 3

"""The workbook export is reproducible: the same gold rows give the same bytes, values kept as delivered."""

from __future__ import annotations

import io
import zipfile
from datetime import datetime
from decimal import Decimal

import pytest
from cadence.workbook import export

pytestmark = pytest.mark.unit

ROW = {
    "app_hour": datetime(2026, 3, 2, 10), "app_date": datetime(2026, 3, 2).date(), "user_id": "u1",
    "country": "US", "total_spins_hourly": 57.3, "total_coins_bet_hourly": 0, "total_coins_won_hourly": 0,
    "total_purchases_hourly": 1, "total_revenue_hourly": Decimal("4.99"),
    "avg_revenue_per_purchase_hourly": Decimal("4.9900"), "total_revenue_per_user_daily": Decimal("4.99"),
}  # fmt: skip


def test_the_xlsx_has_no_run_dependent_timestamps():
    data = export.to_xlsx([ROW], {})
    with zipfile.ZipFile(io.BytesIO(data)) as archive:
        assert {entry.date_time for entry in archive.infolist()} == {(1980, 1, 1, 0, 0, 0)}
        core = archive.read("docProps/core.xml").decode()
    assert core.count("1980-01-01T00:00:00Z") == 2  # created and modified
    assert export.to_xlsx([ROW], {}) == data


def test_fractional_spins_keep_their_delivered_value_in_both_files():
    from openpyxl import load_workbook

    assert "57.3" in export.to_csv([ROW]).decode().splitlines()[1].split(",")
    sheet = load_workbook(io.BytesIO(export.to_xlsx([ROW], {}))).active
    assert sheet.cell(row=2, column=4).value == 57.3

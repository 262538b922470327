"""Fixtures of the unit tier: default settings, and MMP events generated once per module that reads them."""

from __future__ import annotations

from datetime import UTC, datetime

import pandas as pd
import pytest
from cadence.config import load_settings
from cadence.mmp.generator import generate_window

from tests.support.mmp import DAY, START, frame


@pytest.fixture(scope="module")
def settings():
    """The default settings (no CADENCE_* overrides)."""
    return load_settings()


@pytest.fixture(scope="module")
def mmp_volume(settings) -> pd.DataFrame:
    return frame(generate_window(START, START + DAY, settings, events=1_000_000))


@pytest.fixture(scope="module")
def mmp_month(settings) -> pd.DataFrame:
    """Population-sized events of 30 days late in the population's history (many churned users)."""
    start = datetime(2026, 9, 1, tzinfo=UTC)
    return frame(generate_window(start, start + 30 * DAY, settings))

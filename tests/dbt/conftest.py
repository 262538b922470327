"""Fixtures of the dbt tier: a lake with one simulated day of both streams, landed by the real ingest."""

from __future__ import annotations

import pytest

from tests.support.local_dbt import land_one_day


@pytest.fixture
def landed_lake(cadence_env):
    """One simulated day of both streams landed in the lake by the real ingest code."""
    land_one_day(cadence_env)
    return cadence_env

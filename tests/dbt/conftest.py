"""Fixtures of the dbt tier: a lake with one simulated day of both streams, landed by the real ingest; an
empty source database for tests that write their own history."""

from __future__ import annotations

import pytest

from tests.support.local_dbt import land_one_day


@pytest.fixture
def landed_lake(cadence_env):
    """One simulated day of both streams landed in the lake by the real ingest code."""
    land_one_day(cadence_env)
    return cadence_env


@pytest.fixture
def sourced(cadence_env):
    """An empty source database with the game backend's schema (tests write their own history into it)."""
    from cadence.simulator.source import ensure_schema
    from cadence.sources import source_hook

    ensure_schema(source_hook(cadence_env))
    return cadence_env

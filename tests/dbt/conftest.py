"""Fixtures of the dbt tier: a lake with one simulated day of both streams, landed by the real ingest; an
empty source database for tests that write their own history."""

from __future__ import annotations

from datetime import timedelta

import pytest

from tests.support.data import SIM_NOW, seed_source


@pytest.fixture
def landed_lake(cadence_env):
    """One simulated day of both streams landed in the lake by the real ingest code."""
    from cadence import ingest, sources
    from cadence.lake import Window

    seed_source(days=1, streams=("purchases", "spins_hourly"))
    window = Window(SIM_NOW - timedelta(days=1), SIM_NOW)
    for name in ("purchases", "spins_hourly"):
        ingest.ingest(cadence_env, sources.get_spec(name, cadence_env), window,
                      lookback=timedelta(0), chunk=timedelta(hours=6))  # fmt: skip
    return cadence_env


@pytest.fixture
def sourced(cadence_env):
    """An empty source database with the game backend's schema (tests write their own history into it)."""
    from cadence.simulator.source import ensure_schema
    from cadence.sources import source_hook

    ensure_schema(source_hook(cadence_env))
    return cadence_env

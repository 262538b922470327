"""Fixtures of the dbt tier: a lake with one simulated day of both streams, landed by the real ingest."""

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

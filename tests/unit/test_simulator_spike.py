"""A configured spike (the daily_kpis tests plant one) changes its own day of simulated purchases only."""

from __future__ import annotations

from datetime import UTC, date, datetime

import pandas as pd

SPIKE = date(2026, 3, 8)


def test_the_simulator_spike_changes_its_day_only():
    from cadence.config import SimulatorSettings
    from cadence.simulator import purchases
    from cadence.simulator.population import build_population

    plain, spiked = SimulatorSettings(), SimulatorSettings(spike_day=SPIKE, spike_factor=3)
    start, end = datetime(2026, 3, 7, tzinfo=UTC), datetime(2026, 3, 10, tzinfo=UTC)
    frames = [purchases.generate(start, end, build_population(s), s) for s in (plain, spiked)]
    days = [frame.assign(day=frame["transaction_id"].str[3:11]) for frame in frames]
    for day in ("20260307", "20260309"):
        pd.testing.assert_frame_equal(
            days[0][days[0]["day"] == day].reset_index(drop=True),
            days[1][days[1]["day"] == day].reset_index(drop=True),
        )
    inserts = [frame[(frame["day"] == "20260308") & (frame["op"] == "insert")] for frame in days]
    assert 2.7 < len(inserts[1]) / len(inserts[0]) < 3.3

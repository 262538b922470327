"""The simulator's volume factor scales the population and the purchase rate; spins rows follow the users."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest
from cadence.config import ConfigError, SimulatorSettings, get_settings
from cadence.simulator import purchases, spins
from cadence.simulator.population import build_population

pytestmark = pytest.mark.unit

PEAK_DAY = (datetime(2026, 3, 9, tzinfo=UTC), datetime(2026, 3, 10, tzinfo=UTC))


def _volumes(volume: float) -> tuple[int, int, int]:
    settings = SimulatorSettings(users=2_000, volume=volume)
    population = build_population(settings)
    return (
        len(population),
        len(purchases.generate(*PEAK_DAY, population, settings)),
        len(spins.generate(*PEAK_DAY, population, settings)),
    )


def test_volume_multiplies_users_purchases_and_spins_rows():
    users, bought, spun = _volumes(1)
    users_10, bought_10, spun_10 = _volumes(10)
    assert (users, users_10) == (2_000, 20_000)
    assert 8 < bought_10 / bought < 12 and 8 < spun_10 / spun < 12  # Poisson counts: about tenfold


def test_volume_comes_from_the_environment_and_is_validated(monkeypatch):
    monkeypatch.setenv("CADENCE_SIMULATOR__VOLUME", "100")
    assert get_settings().simulator.scaled_users == 2_000_000
    monkeypatch.setenv("CADENCE_SIMULATOR__VOLUME", "0")
    with pytest.raises(ConfigError, match="CADENCE_SIMULATOR__VOLUME"):
        get_settings()

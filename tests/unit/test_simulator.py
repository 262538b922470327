"""The game backend simulator: deterministic, live-feed equivalent to a seed, and realistically imperfect."""

from __future__ import annotations

from datetime import timedelta

import pandas as pd
import pytest
from cadence import sources
from cadence.config import load_settings
from cadence.simulator import purchases, source
from cadence.simulator.population import build_population

from tests.support.data import SIM_NOW, seed_source, source_frame

KEY = ["transaction_id", "updated_at", "status", "user_id", "revenue_usd", "purchased_at"]


def _sorted(frame: pd.DataFrame) -> pd.DataFrame:
    return frame.sort_values(KEY, na_position="first", ignore_index=True)


def test_same_seed_and_range_give_the_same_rows():
    settings = load_settings().simulator
    population = build_population(settings)
    start = SIM_NOW - timedelta(days=1)
    first = purchases.generate(start, SIM_NOW, population, settings)
    again = purchases.generate(start, SIM_NOW, population, settings)
    pd.testing.assert_frame_equal(first, again)
    other = purchases.generate(start, SIM_NOW, population, settings.model_copy(update={"seed": 7}))
    assert not first["transaction_id"].equals(other["transaction_id"]) or not first.equals(other)


def test_a_range_split_in_pieces_generates_the_same_rows():
    settings = load_settings().simulator
    population = build_population(settings)
    middle = SIM_NOW - timedelta(hours=7)
    whole = purchases.generate(SIM_NOW - timedelta(days=1), SIM_NOW, population, settings)
    parts = pd.concat(
        [
            purchases.generate(SIM_NOW - timedelta(days=1), middle, population, settings),
            purchases.generate(middle, SIM_NOW, population, settings),
        ]
    )
    pd.testing.assert_frame_equal(_sorted(whole), _sorted(parts))


def test_live_ticks_build_the_same_table_as_one_seed(cadence_env, tmp_path, monkeypatch):
    seed_source(days=2)
    seeded = source_frame(cadence_env)

    other = tmp_path / "live"
    other.mkdir()
    monkeypatch.setenv("CADENCE_DATA_DIR", str(other))
    monkeypatch.setenv(
        "AIRFLOW_CONN_CADENCE_SOURCE", f'{{"conn_type": "sqlite", "host": "{other}/source.sqlite"}}'
    )
    seed_source(days=28 / 24, until=SIM_NOW - timedelta(hours=20))  # same start, history cut short…
    settings = load_settings()
    hook = sources.source_hook(settings)
    for minutes in (7, 300, 301, 1199, 1200):  # …then a live feed ticking at uneven intervals
        source.tick(hook, settings, "purchases", SIM_NOW - timedelta(hours=20) + timedelta(minutes=minutes))
    live = source_frame(settings)
    assert len(seeded) > 1000
    pd.testing.assert_frame_equal(_sorted(seeded), _sorted(live))


def test_the_source_is_realistically_imperfect(cadence_env):
    seed_source(days=3)
    rows = source_frame(cadence_env)
    created = pd.to_datetime(rows["created_at"], utc=True)
    purchased = pd.to_datetime(rows["purchased_at"], utc=True, errors="coerce")
    updated = pd.to_datetime(rows["updated_at"], utc=True)

    assert ((created - purchased) > timedelta(hours=1)).sum() > 10, "late arrivals"
    refunds = rows[rows["status"] == "refunded"]
    assert len(refunds) > 5 and (updated[refunds.index] > created[refunds.index]).all(), "refunds"
    assert rows.duplicated(["transaction_id", "updated_at"]).sum() > 5, "duplicate deliveries"
    assert rows["user_id"].isna().sum() > 0, "null users"
    assert (rows["revenue_usd"] < 0).sum() > 0, "negative revenue"
    assert (rows["country"] == "XX").sum() > 0, "unknown country"
    assert purchased.isna().sum() > 0, "unparseable timestamps"
    share_malformed = (
        rows["user_id"].isna() | (rows["revenue_usd"] < 0) | (rows["country"] == "XX") | purchased.isna()
    ).mean()
    assert 0.004 < share_malformed < 0.02  # configured malformed_rate is 0.01


def test_population_is_stable_and_ordered_by_install_time():
    settings = load_settings().simulator
    first, again = build_population(settings), build_population(settings.model_copy(update={"users": 20_000}))
    assert list(first.user_id[:5]) == list(again.user_id[:5])
    assert (first.installed_at[1:] >= first.installed_at[:-1]).all()
    assert set(first.platform) == {"ios", "android"}
    assert first.installed_before(SIM_NOW) == (first.installed_at <= SIM_NOW.replace(tzinfo=None)).sum()


def test_tick_before_seed_says_what_to_do(cadence_env):
    hook = sources.source_hook(cadence_env)
    source.ensure_schema(hook)
    with pytest.raises(RuntimeError, match="cadence-simulate seed"):
        source.tick(hook, cadence_env, "purchases", SIM_NOW)


def test_a_paused_stream_goes_quiet_and_resumes_where_the_clock_is(cadence_env, capsys):
    """`pause` stops a stream's deliveries (a quiet feed); the others go on; `resume` delivers again from
    the next tick, without the versions that came due while it was paused."""
    from cadence.simulator import cli

    seed_source(days=1, until=SIM_NOW - timedelta(hours=3), streams=("purchases", "spins_hourly"))
    assert cli.main(["pause", "spins_hourly"]) == 0
    assert "spins_hourly: paused since" in capsys.readouterr().out

    before = {t: len(source_frame(cadence_env, t)) for t in ("purchases", "spins_hourly")}
    quiet_until = SIM_NOW - timedelta(hours=1)
    assert cli.main(["tick", "--until", quiet_until.isoformat()]) == 0  # both streams tick
    assert "spins_hourly: paused, nothing delivered up to" in capsys.readouterr().out
    paused = {t: len(source_frame(cadence_env, t)) for t in ("purchases", "spins_hourly")}
    assert paused["spins_hourly"] == before["spins_hourly"]
    assert paused["purchases"] > before["purchases"]

    assert cli.main(["resume", "spins_hourly"]) == 0
    assert "spins_hourly: delivering; applied up to" in capsys.readouterr().out
    assert cli.main(["tick", "--streams", "spins_hourly", "--until", SIM_NOW.isoformat()]) == 0
    spins = source_frame(cadence_env, "spins_hourly")
    assert len(spins) > paused["spins_hourly"]
    new = spins.iloc[paused["spins_hourly"] :]
    quiet_end = quiet_until.strftime(sources.TIMESTAMP_FORMAT)
    assert (new["updated_at"] > quiet_end).all(), "what came due in the quiet hours is never delivered"


def test_every_player_has_one_timeline_install_first_session_then_play():
    """Install ≤ first session; the first session's hour has the player's first spins row; no spin and no
    purchase comes before the first session. Checked on the generated rows of a week, all versions."""
    from cadence.simulator import spins

    settings = load_settings().simulator
    population = build_population(settings)
    users = population.frame().set_index("user_id")
    delay = users["first_session_at"] - users["installed_at"]
    assert (delay >= pd.Timedelta(seconds=1)).all() and (delay <= settings.first_session_max_delay).all()
    assert pd.Timedelta(minutes=3) < delay.mean() < pd.Timedelta(minutes=7)  # configured mean: 5 minutes

    start, end = SIM_NOW - timedelta(days=7), SIM_NOW
    played = spins.generate(start, end, population, settings)
    bought = purchases.generate(start, end, population, settings)
    lost = set(pd.to_datetime(played.loc[played["user_id"].isna(), "app_hour"].str[:13], utc=True))
    played = played[played["user_id"].notna()]
    bought = bought[bought["user_id"].notna()]
    app_hour = pd.to_datetime(played["app_hour"].str[:13], format="%Y-%m-%dT%H", utc=True)
    session_hour = users.loc[played["user_id"], "first_session_at"].dt.floor("h").to_numpy()
    assert (app_hour.to_numpy() >= session_hour).all()
    purchased = pd.to_datetime(bought["purchased_at"], utc=True, errors="coerce")
    session = users.loc[bought["user_id"], "first_session_at"].to_numpy()
    assert (purchased.isna() | (purchased.to_numpy() > session)).all()

    newcomers = users[(users["first_session_at"] >= start) & (users["first_session_at"] < end)]
    assert len(newcomers) > 100
    first_rows = set(zip(played["user_id"], app_hour, strict=True))
    hours = newcomers["first_session_at"].dt.floor("h")
    missing = [hour for user, hour in hours.items() if (user, hour) not in first_rows]
    assert set(missing) <= lost  # only a first row delivered without its user_id (malformed) is missing

"""On a simulated week, the game's first-seen players equal the MMP's attributed + organic installs within
the stated tolerance, and every difference is a handful of players the breakdown explains (pandas only: the
dbt models are checked against the same computation in tests/dags/test_mmp_dag.py)."""

from __future__ import annotations

from datetime import UTC, date, datetime

import pytest
from cadence.config import load_settings
from cadence.mmp.generator import generate_window

from tests.support.mmp import REASONS, expected_reconciliation, frame, game_activity

pytestmark = pytest.mark.xdist_group("mmp_generator")

LAUNCH = date(2026, 2, 16)  # the game's history since launch is what first-seen needs; a short one is cheap
WEEK = datetime(2026, 3, 2, tzinfo=UTC), datetime(2026, 3, 9, tzinfo=UTC)


@pytest.fixture(scope="module")
def week_inputs():
    """The MMP events of the week and the game's valid activity from launch to the week's end."""
    settings = load_settings(simulator={"population_start": LAUNCH})
    events = frame(generate_window(*WEEK, settings))
    events["event_time"] = events["event_time"].dt.tz_convert(None)
    bought, played = game_activity(settings, datetime.combine(LAUNCH, datetime.min.time(), UTC), WEEK[1])
    return events, bought, played


@pytest.fixture(scope="module")
def week(week_inputs):
    return expected_reconciliation(*week_inputs)


def test_first_seen_equals_attributed_plus_organic_within_tolerance_every_day(week):
    per_row, daily = week
    assert len(daily) == 7 and daily["within_tolerance"].all()
    assert (daily["attributed_installs"] > 0).all() and (daily["organic_installs"] > 0).all()
    assert daily["matched_users"].sum() >= 0.95 * daily["mmp_installs"].sum()
    # One timeline: nobody plays before installing, and the MMP misses nobody who installed in the week.
    assert daily["installs_first_seen_earlier"].sum() == daily["first_seen_installed_later"].sum() == 0
    assert set(per_row["partner"]) - {"no_mmp_install"} == {*load_settings().mmp.partner_weights, "organic"}


def test_every_difference_is_explained_per_day_and_partner(week):
    per_row, daily = week
    for frame_ in (per_row, daily):
        installs_side = frame_["matched_users"] + frame_[list(REASONS)[:3]].sum(axis=1)
        seen_side = frame_["matched_users"] + frame_[list(REASONS)[3:]].sum(axis=1)
        assert (installs_side == frame_["mmp_installs"]).all() and (
            seen_side == frame_["first_seen_users"]
        ).all()
        assert (
            (frame_["discrepancy"] == "reconciled")
            == (installs_side + seen_side == 2 * frame_["matched_users"])
        ).all()


def test_a_lost_first_session_row_is_explained_on_both_days(week_inputs):
    """A player whose first spins row was quarantined is first seen at their next activity: the install day
    counts them as first seen later, that day as installed earlier; a player with no activity is not seen."""
    events, bought, played = week_inputs
    installs = events[events["event_type"] == "install"].set_index("user_id")["event_time"]
    first = played.merge(installs.rename("installed_at"), left_on="user_id", right_index=True)
    first = first[first["app_hour"] == first["installed_at"].dt.floor("h")]
    active = played.groupby("user_id")["app_hour"].nunique()
    returning = first[first["user_id"].map(active) > 1].iloc[0]
    silent = first[(first["user_id"].map(active) == 1) & ~first["user_id"].isin(bought["user_id"])].iloc[0]
    lost = played.index.isin(first.index[first["user_id"].isin([returning["user_id"], silent["user_id"]])])
    _, daily = expected_reconciliation(events, bought, played[~lost])
    _, before = expected_reconciliation(events, bought, played)

    later = played.loc[~lost & (played["user_id"] == returning["user_id"]), "app_hour"].min().normalize()
    day = daily.set_index("install_date")
    installed_day = returning["installed_at"].normalize()
    changed = (day != before.set_index("install_date")).any(axis=1)
    if later == installed_day:  # the next activity is the same day: nothing to explain for that player
        assert set(changed[changed].index) == {silent["installed_at"].normalize()}
    else:
        assert day.loc[installed_day, "installs_first_seen_later"] >= 1
        assert "installed, first seen on a later day" in day.loc[installed_day, "discrepancy"]
        if later in day.index:
            assert day.loc[later, "first_seen_installed_earlier"] >= 1
            assert "first seen, installed on an earlier day" in day.loc[later, "discrepancy"]
    assert day.loc[silent["installed_at"].normalize(), "installs_not_seen"] >= 1
    assert "not seen in the game data yet" in day.loc[silent["installed_at"].normalize(), "discrepancy"]
    assert day["difference"].sum() - before["difference"].sum() in (1, 2)

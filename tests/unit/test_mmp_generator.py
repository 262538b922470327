"""The synthetic MMP generator: funnel rates, attribution, organic installs, population reconciliation,
determinism, lake."""

from __future__ import annotations

import itertools
import json
import math
from datetime import UTC, datetime, timedelta
from decimal import Decimal

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq
import pytest
from cadence.config import ConfigError, load_settings
from cadence.mmp.generator import BLOCK, ID_STRIDE, WindowPlan, generate_window, iter_window
from cadence.mmp.writer import to_jsonl, window_path, write_events
from cadence.simulator.population import build_population

from tests.support.mmp import DAY, START, frame

CONVERSIONS = ["install", "reinstall"]


def assert_funnel(df: pd.DataFrame, start: datetime, end: datetime) -> None:
    """Every click references an impression of the same segment, every attributed (re)install a click, in
    time order; organic installs stand alone: no click, no impression, no cost, partner/campaign organic."""
    impressions = df[df.event_type == "impression"]
    clicks = df[df.event_type == "click"]
    organic = df[df.partner == "organic"]
    conversions = df[df.event_type.isin(CONVERSIONS) & (df.partner != "organic")]
    assert (organic.event_type == "install").all() and (organic.campaign_id == "organic").all()
    assert organic[["impression_id", "click_id"]].isna().all().all() and organic.user_id.notna().all()
    assert (organic.cost == 0).all() and (df.loc[df.partner != "organic", "cost"] > 0).all()
    assert impressions[["impression_id", "click_id", "user_id"]].isna().all().all()
    assert clicks.impression_id.notna().all() and clicks[["click_id", "user_id"]].isna().all().all()
    assert conversions[["click_id", "user_id"]].notna().all().all() and conversions.impression_id.isna().all()

    segment = ["partner", "platform", "country", "campaign_id"]
    shown = clicks.merge(impressions, left_on="impression_id", right_on="event_id", suffixes=("", "_parent"))
    assert len(shown) == len(clicks) and clicks.impression_id.is_unique
    clicked = conversions.merge(clicks, left_on="click_id", right_on="event_id", suffixes=("", "_parent"))
    assert len(clicked) == len(conversions) and conversions.click_id.is_unique
    for pairs in (shown, clicked):
        assert (pairs.event_time_parent <= pairs.event_time).all()
        for column in segment:
            assert (pairs[column] == pairs[f"{column}_parent"]).all()
    assert df.event_time.min() >= start and df.event_time.max() < end
    assert df.event_id.is_unique


def test_ctr_per_partner_and_platform_is_configured_and_in_range(settings, mmp_volume):
    mmp = settings.mmp
    counts = mmp_volume.groupby(["partner", "platform", "event_type"]).size().unstack()
    for (partner, platform), row in counts.iterrows():
        expected = mmp.ctr[partner] * mmp.platform_ctr_factor[platform]
        ctr = row["click"] / row["impression"]
        sigma = math.sqrt(expected * (1 - expected) / row["impression"])
        assert abs(ctr - expected) < 5 * sigma, (partner, platform, ctr, expected)
        assert mmp.ctr_range[0] <= ctr <= mmp.ctr_range[1]
        rate = (row["install"] + row["reinstall"]) / row["click"]
        assert abs(rate - mmp.install_rate[partner]) < 5 * math.sqrt(rate * (1 - rate) / row["click"])
    overall = (mmp_volume.event_type == "click").sum() / (mmp_volume.event_type == "impression").sum()
    assert 0.02 <= overall <= 0.05  # the reference's fault: independent draws gave ~42 %


def test_shares_follow_the_configured_weights(settings, mmp_volume):
    impressions = mmp_volume[mmp_volume.event_type == "impression"]
    for column, weights in (
        ("partner", settings.mmp.partner_weights),
        ("platform", settings.mmp.platform_weights),
        ("country", settings.mmp.country_weights),
    ):
        shares = impressions[column].value_counts(normalize=True)
        for name, weight in weights.items():
            assert abs(shares[name] - weight) < 0.005, (column, name)


def test_cpi_is_in_range_and_varies_by_partner_and_platform(settings, mmp_volume, mmp_month):
    mmp = settings.mmp
    for df in (mmp_volume, mmp_month):
        installs = df[(df.event_type == "install") & (df.partner != "organic")]  # organic ones cost nothing
        assert installs.cost.between(*mmp.cpi_range_usd).all()
    installs = mmp_volume[mmp_volume.event_type == "install"]
    mean = installs.groupby(["partner", "platform"]).cost.mean()
    for (partner, platform), cpi in mean.items():
        base = mmp.cpi_usd[partner] * mmp.platform_price_factor[platform]
        assert abs(cpi / base - 1) < 0.04, (partner, platform, cpi, base)
    assert mean.max() / mean.min() > 2  # partners and platforms really differ


def test_impression_costs_are_cpm_priced_and_never_rounded_to_zero(settings, mmp_volume):
    impressions = mmp_volume[mmp_volume.event_type == "impression"]
    assert (impressions.cost > 0).all()
    cheapest = min(settings.mmp.cpm_usd.values()) * min(settings.mmp.platform_price_factor.values()) / 1000
    assert impressions.cost.min() >= cheapest * (1 - settings.mmp.price_jitter) - 1e-6
    assert impressions.cost.max() < 0.05


def test_costs_are_exact_decimals_in_jsonl(settings):
    table = generate_window(START, START + DAY, settings)
    assert table.schema.field("cost_usd").type == pa.decimal128(18, 6)
    lines = to_jsonl(table).decode().splitlines()
    assert len(lines) == table.num_rows
    parsed = [json.loads(line, parse_float=Decimal) for line in lines]
    assert [row["cost_usd"] for row in parsed] == table.column("cost_usd").to_pylist()
    assert all((row["cost_usd"] > 0) == (row["partner"] != "organic") for row in parsed)  # organic is free
    assert any(row["partner"] == "organic" for row in parsed)


def test_funnel_in_volume_mode(mmp_volume):
    assert_funnel(mmp_volume, START, START + DAY)


def test_funnel_in_population_mode(mmp_month):
    start = datetime(2026, 9, 1, tzinfo=UTC)
    assert_funnel(mmp_month, start, start + 30 * DAY)
    ctr = (mmp_month.event_type == "click").sum() / (mmp_month.event_type == "impression").sum()
    assert 0.02 <= ctr <= 0.05


def test_installs_are_the_population_users_installing_in_the_window(settings):
    """Attributed + organic installs are exactly the population's installs, at their install second."""
    end = START + 7 * DAY
    df = frame(generate_window(START, end, settings))
    installs = df[df.event_type == "install"].set_index("user_id").sort_index()
    users = build_population(settings.simulator).frame().set_index("user_id")
    expected = users[(users.installed_at >= START) & (users.installed_at < end)].sort_index()
    assert len(expected) > 100
    assert list(installs.index) == list(expected.index)
    assert (installs.event_time == expected.installed_at).all()
    assert (installs.platform == expected.platform).all() and (installs.country == expected.country).all()

    organic = (installs.partner == "organic").to_numpy()
    share, n = settings.mmp.organic_share, len(installs)
    assert abs(organic.mean() - share) < 4 * math.sqrt(share * (1 - share) / n)
    assert set(installs.partner[~organic]) == set(settings.mmp.partner_weights)  # every partner attributes


def test_a_user_is_organic_or_attributed_whatever_the_window(settings):
    """Organic is a property of the user: hourly windows and one weekly window agree install by install."""
    end = START + 2 * DAY
    hours = [START + timedelta(hours=h) for h in range(48)]
    hourly = pd.concat([frame(generate_window(a, b, settings)) for a, b in itertools.pairwise([*hours, end])])
    whole = frame(generate_window(START, end, settings))

    def organic(df: pd.DataFrame) -> pd.Series:
        installs = df[df.event_type == "install"]
        return (installs.partner == "organic").set_axis(installs.user_id).sort_index()

    pd.testing.assert_series_equal(organic(hourly), organic(whole))
    assert organic(whole).any() and not organic(whole).all()


def test_organic_share_is_configured(settings):
    none = frame(generate_window(START, START + 7 * DAY, load_settings(mmp={"organic_share": 0.0})))
    everyone = frame(generate_window(START, START + 7 * DAY, load_settings(mmp={"organic_share": 1.0})))
    assert not (none.partner == "organic").any()
    installs = everyone[everyone.event_type == "install"]
    assert len(installs) > 100 and (installs.partner == "organic").all()
    reinstalls = everyone[everyone.event_type == "reinstall"]
    assert len(reinstalls) > 0 and (reinstalls.partner != "organic").all()  # a reinstall comes through an ad
    assert_funnel(none, START, START + 7 * DAY)
    assert_funnel(everyone, START, START + 7 * DAY)


def test_reinstalls_only_for_users_who_installed_and_churned_earlier(settings, mmp_volume, mmp_month):
    users = build_population(settings.simulator).frame().set_index("user_id")
    churn_after = pd.Timedelta(settings.mmp.churn_after)
    for df in (mmp_volume, mmp_month):
        reinstalls = df[df.event_type == "reinstall"]
        assert len(reinstalls) > 10
        assert reinstalls.user_id.isin(users.index).all()
        installed_at = users.installed_at.loc[reinstalls.user_id].to_numpy()
        assert (installed_at + churn_after <= reinstalls.event_time.min()).all()
        profile = users.loc[reinstalls.user_id]
        assert (profile.platform.to_numpy() == reinstalls.platform.to_numpy()).all()
        assert (profile.country.to_numpy() == reinstalls.country.to_numpy()).all()


def test_volume_mode_gives_exactly_n_events_with_synthetic_install_ids(mmp_volume):
    assert len(mmp_volume) == 1_000_000
    first = int(START.timestamp()) * ID_STRIDE
    assert (mmp_volume.event_id.to_numpy() == first + np.arange(1_000_000)).all()
    installs = mmp_volume[mmp_volume.event_type == "install"]
    assert installs.user_id.str.startswith("syn").all() and installs.user_id.is_unique


def test_same_seed_and_window_regenerate_identical_bytes(settings):
    for events in (None, 300_000):
        first = to_jsonl(generate_window(START, START + DAY, settings, events=events))
        again = to_jsonl(generate_window(START, START + DAY, settings, events=events))
        other = to_jsonl(generate_window(START, START + DAY, settings, seed=7, events=events))
        assert first == again and first != other


def test_chunk_size_changes_nothing_and_every_chunk_is_self_contained(settings):
    plan = WindowPlan(START, START + DAY, settings, events=300_000)
    small = list(plan.chunks(BLOCK))
    large = list(plan.chunks(4 * BLOCK))
    assert [len(chunk) for chunk in small] == [BLOCK] * 4 + [300_000 - 4 * BLOCK]
    assert pa.concat_tables(small).equals(pa.concat_tables(large))
    for chunk in small:
        assert_funnel(frame(chunk), START, START + DAY)


def test_event_ids_are_unique_across_windows(settings):
    hours = [START + timedelta(hours=h) for h in range(25)]
    tables = [generate_window(a, b, settings, events=1_000) for a, b in itertools.pairwise(hours)]
    ids = pa.concat_tables(tables).column("event_id").to_numpy()
    assert len(np.unique(ids)) == len(ids) == 24_000


def test_write_jsonl_and_parquet_to_the_lake_atomically(tmp_path):
    settings = load_settings(data_dir=tmp_path)
    table = generate_window(START, START + DAY, settings, events=100_000)
    path = window_path(START, START + DAY, "jsonl", settings)
    assert str(path).endswith("/mmp/events/dt=2026-03-01/mmp_events_20260301T0000_20260302T0000.jsonl")
    size = write_events(iter_window(START, START + DAY, settings, events=100_000), path)
    assert path.read_bytes() == to_jsonl(table) and size == len(to_jsonl(table))

    parquet = window_path(START, START + DAY, "parquet", settings)
    write_events(iter_window(START, START + DAY, settings, events=100_000), parquet, "parquet")
    with parquet.open("rb") as handle:
        stored = pq.read_table(handle)
    assert stored.column("event_time").type == pa.timestamp("ms", tz="UTC")  # Parquet has no seconds unit
    assert stored.cast(table.schema).equals(table)
    assert to_jsonl(stored) == to_jsonl(table)
    assert sorted(p.name for p in path.parent.iterdir()) == sorted([path.name, parquet.name])


def test_a_failed_write_leaves_no_file(tmp_path):
    settings = load_settings(data_dir=tmp_path)
    path = window_path(START, START + DAY, "jsonl", settings)

    def failing():
        yield from iter_window(START, START + DAY, settings, events=2 * BLOCK, chunk_size=BLOCK)
        raise RuntimeError("source went away")

    with pytest.raises(RuntimeError):
        write_events(failing(), path)
    assert not path.exists() and list(path.parent.iterdir()) == []


def test_cli_writes_the_window_and_prints_a_summary(tmp_path, monkeypatch, capsys):
    from cadence.mmp.cli import main

    monkeypatch.setenv("CADENCE_DATA_DIR", str(tmp_path))
    assert main(["--start", "2026-03-01", "--end", "2026-03-02", "--events", "200000", "--seed", "7"]) == 0
    out = capsys.readouterr().out
    for text in ("events        200,000", "impression", "by partner", "CTR", "CPI", "total cost", ".jsonl"):
        assert text in out
    written = tmp_path / "lake/mmp/events/dt=2026-03-01/mmp_events_20260301T0000_20260302T0000.jsonl"
    assert written.read_bytes().count(b"\n") == 200_000


@pytest.mark.parametrize(
    ("override", "message"),
    [
        (
            {"ctr": {"adjust": 0.2, "appsflyer": 0.035, "branch": 0.025, "kochava": 0.04, "singular": 0.028}},
            "CTR",
        ),
        (
            {"cpi_usd": {"adjust": 9.0, "appsflyer": 3.6, "branch": 2.6, "kochava": 2.9, "singular": 4.2}},
            "CPI",
        ),
        ({"partner_weights": {"adjust": 0.5, "appsflyer": 0.6}}, "sum to 1"),
        ({"cpm_usd": {"adjust": 6.0}}, "cpm_usd"),
        (
            {
                "partner_weights": {"organic": 0.5, "adjust": 0.5},
                "ctr": {"organic": 0.03, "adjust": 0.03},
            },
            "organic",
        ),
    ],
)
def test_bad_mmp_config_is_refused_with_a_clear_message(override, message):
    with pytest.raises(ConfigError, match=message):
        load_settings(mmp=override)

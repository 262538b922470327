"""Synthetic MMP events for one window, drawn as a funnel rather than as independent events.

A *chain* is one ad impression and what followed it: nothing (most chains), a click, or a click and then an
install or a reinstall. Every click therefore references its impression and every (re)install its click.
Delays are shortened near the window edges, so a chain never leaves its window and a file is self-contained.

Two ways to size a window:

* **population** (default): the installs are exactly the game's users whose install time falls in the
  window, with their id, platform, country and install second, so MMP installs reconcile with first-seen
  game users (the game first sees a user at their first session, minutes after the install). A stable
  share of users (``organic_share``, drawn once per user) installed without an ad: the MMP reports them as
  *organic* installs (partner and campaign ``organic``, no click, no impression, no cost). The others are
  *attributed*: each gets its own click and impression from a partner. Reinstalls come from churned users
  (below), always through an ad. The rest of the traffic (impressions without a click, clicks without an
  install) has the volume the window's expected attributed conversions imply, so that impressions follow
  the configured partner/platform/country weights and clicks and installs the configured rates, in
  expectation.
* **volume** (``events=N``): exactly N events of paid traffic (no organic installs), drawn forwards chain by
  chain. N usually needs far more installs than the population has, so install user ids are synthetic
  (``syn`` + event id, never equal to a population id like ``u000123``); reinstalls still reuse churned
  population users of the same platform and country, at the share of conversions the population would
  give that window.

Churn, kept simple: a fixed share of users (``churn_share``, drawn once per user from the population seed)
uninstalls ``churn_after`` after installing. From then on each churned user reinstalls through an ad with
probability ``reinstall_rate`` per day; a reinstall is only ever drawn for a user churned by window start.

Costs: impressions are priced per mille (CPM / 1000), clicks per click, installs per install and
reinstalls at a share of the CPI, each by partner and platform and varying uniformly within
``price_jitter``. They are integer micro-dollars end to end, stored as decimal128(18, 6): exact, and a
$0.004 impression never rounds to zero.

Layout: within each block the events are its impressions (and organic installs, which stand alone), then
the clicks, then the attributed (re)installs.

Determinism: every random stream is seeded from (seed, window start, window end) and, for event data, a
block number. Blocks hold a fixed number of events (``BLOCK``), and chunks are whole blocks, so the same
seed and window give identical events whatever the chunk size. Event ids are ``window start (epoch s) *
ID_STRIDE + position``: deterministic and unique across windows that do not start in the same second.
"""

from __future__ import annotations

import functools
import itertools
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime
from decimal import Decimal

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from cadence.config import MmpSettings, Settings, SimulatorSettings, get_settings
from cadence.simulator.population import build_population

EVENT_TYPES = ("impression", "click", "install", "reinstall")
IMPRESSION, CLICK, INSTALL, REINSTALL = range(4)  # a chain's outcome is the type of its last event
ORGANIC = -1  # outcome of a chain that is one organic install: below CLICK, so it has no click and no delay
ORGANIC_PARTNER = "organic"  # partner and campaign of organic installs
BLOCK = 1 << 16  # events per block, the unit of randomness
ID_STRIDE = 10**9  # a window holds fewer events than this
_LUT_BITS = 20  # segment draws use a 2**20-entry lookup table: weights exact to ~1e-6
_MMP_STREAM = 10
# Purposes of the random streams; never 0, as numpy ignores trailing zeros of a seed sequence.
_PLAN, _CHAINS, _PRICES, _CHURN, _ORGANIC = 1, 2, 3, 4, 5
_DICTIONARY = pa.dictionary(pa.int16(), pa.string())

SCHEMA = pa.schema(
    [
        pa.field("event_id", pa.int64(), nullable=False),
        pa.field("event_type", _DICTIONARY, nullable=False),
        pa.field("event_time", pa.timestamp("s", tz="UTC"), nullable=False),
        pa.field("partner", _DICTIONARY, nullable=False),
        pa.field("platform", _DICTIONARY, nullable=False),
        pa.field("country", _DICTIONARY, nullable=False),
        pa.field("campaign_id", _DICTIONARY, nullable=False),
        pa.field("impression_id", pa.int64()),  # clicks only
        pa.field("click_id", pa.int64()),  # installs and reinstalls only
        pa.field("user_id", pa.string()),  # installs and reinstalls only
        pa.field("cost_usd", pa.decimal128(18, 6), nullable=False),
    ]
)


def _micros(*factors: float) -> int:
    """The exact product of decimal-written factors, in micro-dollars."""
    product = Decimal(1_000_000)
    for factor in factors:
        product *= Decimal(str(factor))
    return max(1, int(product.to_integral_value()))  # a price is never rounded away to zero


def _lookup_table(weights: np.ndarray) -> np.ndarray:
    """A table mapping uniform integers to segments with the given weights (largest-remainder rounding)."""
    size = 1 << _LUT_BITS
    exact = weights / weights.sum() * size
    counts = np.floor(exact).astype(np.int64)
    counts[np.argsort(counts - exact)[: size - counts.sum()]] += 1
    return np.repeat(np.arange(len(weights), dtype=np.int16), counts)


@dataclass(frozen=True)
class _Model:
    """The configuration compiled into per-segment arrays. A paid segment is (partner, platform, country,
    campaign); its index is ((partner * platforms + platform) * countries + country) * campaigns + campaign.
    Organic segments (platform, country) follow the paid ones: they are in ``segment_codes`` and ``price``
    (zero) only, never drawn as traffic.
    """

    mmp: MmpSettings
    partners: pa.Array
    platforms: pa.Array
    countries: pa.Array
    campaigns: pa.Array
    types: pa.Array
    segment_codes: np.ndarray  # (4, segments + organic): partner, platform, country and campaign codes
    weight: np.ndarray  # (segments,) share of impressions
    ctr: np.ndarray  # (segments,)
    install_rate: np.ndarray  # (segments,) click-to-install
    price: np.ndarray  # (4, segments + organic) base price in micro-dollars per event type
    jitter_ppm: int

    @property
    def shape(self) -> tuple[int, int, int, int]:
        """Paid partners, platforms, countries and campaigns per partner and platform."""
        return len(self.partners) - 1, len(self.platforms), len(self.countries), self.mmp.campaigns

    def organic_segment(self, platform, country) -> np.ndarray:
        return (len(self.weight) + platform * len(self.countries) + country).astype(np.int16)

    def segment(self, partner, platform, country, campaign) -> np.ndarray:
        _, n_platforms, n_countries, n_campaigns = self.shape
        return (((partner * n_platforms + platform) * n_countries + country) * n_campaigns + campaign).astype(
            np.int16
        )

    @functools.cached_property
    def install_lut(self) -> np.ndarray:
        return _lookup_table(self.weight)

    def codes(self, values: np.ndarray, names: pa.Array, what: str) -> np.ndarray:
        """Codes of population values (platform or country) in this model; unknown values are an error."""
        index = {name: code for code, name in enumerate(names.to_pylist())}
        unknown = set(np.unique(values)) - set(index)
        if unknown:
            raise ValueError(f"population {what} {sorted(unknown)} missing from the MMP {what} weights")
        return np.array([index[value] for value in values], dtype=np.int64)


@functools.cache
def _model(mmp: MmpSettings) -> _Model:
    partners, platforms, countries = (
        list(mmp.partner_weights),
        list(mmp.platform_weights),
        list(mmp.country_weights),
    )
    shape = (len(partners), len(platforms), len(countries), mmp.campaigns)
    partner, platform, country, campaign = np.indices(shape).reshape(4, -1)

    def by_partner(values: dict[str, float]) -> np.ndarray:
        return np.array([values[name] for name in partners])[partner]

    def by_platform(values: dict[str, float]) -> np.ndarray:
        return np.array([values[name] for name in platforms])[platform]

    organic_platform, organic_country = np.indices((len(platforms), len(countries))).reshape(2, -1)
    prices = np.array(
        [
            [
                [
                    _micros(mmp.cpm_usd[name], factor, 0.001),  # CPM is per thousand impressions
                    _micros(mmp.cpc_usd[name], factor),
                    _micros(mmp.cpi_usd[name], factor),
                    _micros(mmp.cpi_usd[name], factor, mmp.reinstall_price_share),
                ]
                for factor in mmp.platform_price_factor.values()
            ]
            for name in partners
        ],
        dtype=np.int64,
    )  # (partners, platforms, event types)
    campaigns = [
        f"{name}-{system}-{k + 1:02d}"
        for name, system, k in itertools.product(partners, platforms, range(mmp.campaigns))
    ]
    organic_codes = np.stack(
        [
            np.full(len(organic_platform), len(partners)),
            organic_platform,
            organic_country,
            np.full(len(organic_platform), len(campaigns)),
        ]
    )
    paid_codes = np.stack(
        [partner, platform, country, (partner * len(platforms) + platform) * mmp.campaigns + campaign]
    )
    return _Model(
        mmp=mmp,
        partners=pa.array([*partners, ORGANIC_PARTNER]),
        platforms=pa.array(platforms),
        countries=pa.array(countries),
        campaigns=pa.array([*campaigns, ORGANIC_PARTNER]),
        types=pa.array(EVENT_TYPES),
        segment_codes=np.concatenate([paid_codes, organic_codes], axis=1).astype(np.int16),
        weight=by_partner(mmp.partner_weights)
        * by_platform(mmp.platform_weights)
        * np.array(list(mmp.country_weights.values()))[country]
        / mmp.campaigns,
        ctr=by_partner(mmp.ctr) * by_platform(mmp.platform_ctr_factor),
        install_rate=by_partner(mmp.install_rate),
        price=np.concatenate(
            [prices[partner, platform].T, np.zeros((len(EVENT_TYPES), len(organic_platform)), np.int64)],
            axis=1,
        ),
        jitter_ppm=round(mmp.price_jitter * 1_000_000),
    )


@dataclass(frozen=True)
class _Chains:
    """Chains, one entry each: the impression's segment and second, the delays to the click and to the
    (re)install (0 where there is none), and the population index of the converting user (-1: synthetic).
    """

    segment: np.ndarray  # int16
    outcome: np.ndarray  # int8: IMPRESSION, CLICK, INSTALL, REINSTALL or ORGANIC
    shown_at: np.ndarray  # int64 epoch seconds
    click_delay: np.ndarray  # int64 seconds
    install_delay: np.ndarray  # int64 seconds
    user: np.ndarray  # int64

    def __len__(self) -> int:
        return len(self.segment)

    @property
    def events(self) -> np.ndarray:
        """Events per chain: 1 (impression or organic install), 2 (+ click) or 3 (+ install or reinstall)."""
        return 1 + (self.outcome >= CLICK) + (self.outcome >= INSTALL)

    def __getitem__(self, part: slice) -> _Chains:
        return _Chains(*(getattr(self, name)[part] for name in self.__dataclass_fields__))

    @staticmethod
    def concat(parts: list[_Chains]) -> _Chains:
        return _Chains(
            *(np.concatenate([getattr(c, name) for c in parts]) for name in _Chains.__dataclass_fields__)
        )


def _delays(
    rng: np.random.Generator, outcome: np.ndarray, mmp: MmpSettings, room: np.ndarray
) -> tuple[np.ndarray, np.ndarray]:
    """Impression-to-click and click-to-install delays (exponential), shrunk to fit in ``room`` seconds."""
    n = len(outcome)
    click = np.zeros(n, dtype=np.int64)
    install = np.zeros(n, dtype=np.int64)
    clicked = np.flatnonzero(outcome >= CLICK)
    click[clicked] = rng.exponential(mmp.click_delay.total_seconds(), len(clicked))
    converted = np.flatnonzero(outcome >= INSTALL)
    install[converted] = rng.exponential(mmp.install_delay.total_seconds(), len(converted))
    total = click + install
    over = np.flatnonzero(total > room)
    if len(over):
        scale = room[over] / total[over]
        click[over] = np.floor(click[over] * scale)
        install[over] = np.minimum(np.floor(install[over] * scale), room[over] - click[over])
    return click, install


def _forward(
    rng: np.random.Generator,
    n: int,
    lut: np.ndarray,
    thresholds: np.ndarray,
    start: int,
    span: int,
    mmp: MmpSettings,
) -> _Chains:
    """``n`` chains drawn forwards: a segment from ``lut``, then one uniform number decides the outcome
    (below thresholds[0] clicked, below [1] installed, below [2] reinstalled), then times."""
    segment = lut[rng.integers(0, len(lut), n)]
    u = rng.random(n)
    outcome = (u < thresholds[0][segment]).astype(np.int8)
    outcome += u < thresholds[1][segment]
    outcome += u < thresholds[2][segment]
    room = np.full(n, span - 1, dtype=np.int64)
    click, install = _delays(rng, outcome, mmp, room)
    shown_at = start + (rng.random(n) * (span - click - install)).astype(np.int64)
    return _Chains(segment, outcome, shown_at, click, install, np.full(n, -1, dtype=np.int64))


@functools.cache
def _population_ids(simulator: SimulatorSettings) -> pa.Array:
    return pa.array(build_population(simulator).user_id, pa.string())


@functools.cache
def _organic(simulator: SimulatorSettings, organic_share: float) -> np.ndarray:
    """Which population users installed without an ad: a stable property of each user, drawn once."""
    rng = np.random.default_rng([simulator.seed, _MMP_STREAM, _ORGANIC])
    return rng.random(simulator.scaled_users) < organic_share


@functools.cache
def _churned(simulator: SimulatorSettings, churn_share: float) -> np.ndarray:
    """Which population users ever uninstall: a stable property of each user, drawn once."""
    rng = np.random.default_rng([simulator.seed, _MMP_STREAM, _CHURN])
    return rng.random(simulator.scaled_users) < churn_share


def _epoch(moment: datetime) -> int:
    if moment.tzinfo is None:
        raise ValueError(f"window bounds must be timezone-aware, got {moment.isoformat()}")
    return int(moment.timestamp())


class WindowPlan:
    """The events of one window, planned cheaply and produced chunk by chunk (memory bounded by chunks)."""

    def __init__(
        self,
        start: datetime,
        end: datetime,
        settings: Settings | None = None,
        *,
        seed: int | None = None,
        events: int | None = None,
    ) -> None:
        self.settings = settings or get_settings()
        self.mmp = self.settings.mmp
        self.seed = self.mmp.seed if seed is None else seed
        self.start, self.end = start.astimezone(UTC), end.astimezone(UTC)
        self.start_s, self.end_s = _epoch(start), _epoch(end)
        if self.end_s <= self.start_s or self.start_s < 0:
            raise ValueError(f"bad window [{start.isoformat()}, {end.isoformat()})")
        if events is not None and not 0 <= events < ID_STRIDE:
            raise ValueError(f"events must be in [0, {ID_STRIDE}), got {events}")
        self.model = _model(self.mmp)
        self.population = build_population(self.settings.simulator)
        self._pool = self._reinstall_pool()
        self._chains = None if events is not None else self._population_chains()
        self.total_events = events if events is not None else int(self._chains.events.sum())
        self.first_id = self.start_s * ID_STRIDE
        if self.total_events >= ID_STRIDE:
            raise ValueError(f"window too large: {self.total_events} events (limit {ID_STRIDE - 1})")

    @property
    def span(self) -> int:
        return self.end_s - self.start_s

    def _rng(self, purpose: int, block: int = 0) -> np.random.Generator:
        return np.random.default_rng([self.seed, _MMP_STREAM, purpose, self.start_s, self.end_s, block + 1])

    def _reinstall_pool(self) -> np.ndarray:
        """Population indices of users churned by window start: the only users who may reinstall."""
        installed = self.population.installed_at.astype(np.int64)
        churned_by = int(
            np.searchsorted(installed, self.start_s - self.mmp.churn_after.total_seconds(), "right")
        )
        return np.flatnonzero(_churned(self.settings.simulator, self.mmp.churn_share)[:churned_by])

    def _expected_installs(self) -> float:
        """Attributed population installs expected in the window, averaged over at least a day from its
        start, so that short windows get steady traffic rather than none or a burst around each install."""
        seconds = max(self.span, 86_400)
        installed = self.population.installed_at.astype(np.int64)
        first, last = np.searchsorted(installed, [self.start_s, self.start_s + seconds])
        return (last - first) * (1 - self.mmp.organic_share) * self.span / seconds

    def _expected_reinstalls(self) -> float:
        return len(self._pool) * self.mmp.reinstall_rate * self.span / 86_400

    def _population_chains(self) -> _Chains:
        """Installs from the population (organic or attributed), reinstalls from the churned, and the
        traffic that produced the attributed ones."""
        model, mmp, rng = self.model, self.mmp, self._rng(_PLAN)
        n_partners, n_platforms, _, n_campaigns = model.shape
        installed = self.population.installed_at.astype(np.int64)
        first, last = np.searchsorted(installed, [self.start_s, self.end_s])
        n_reinstalls = min(int(rng.poisson(self._expected_reinstalls())), len(self._pool))
        users = np.concatenate([np.arange(first, last), np.sort(rng.choice(self._pool, n_reinstalls, False))])
        converted_at = np.concatenate(
            [installed[first:last], self.start_s + rng.integers(0, self.span, n_reinstalls)]
        )
        outcome = np.repeat(np.array([INSTALL, REINSTALL], dtype=np.int8), [last - first, n_reinstalls])
        organic = np.zeros(len(users), dtype=bool)
        organic[: last - first] = _organic(self.settings.simulator, mmp.organic_share)[first:last]
        outcome[organic] = ORGANIC
        platform = model.codes(self.population.platform[users], model.platforms, "platforms")
        country = model.codes(self.population.country[users], model.countries, "countries")

        # The partner of a conversion given its platform is proportional to the partner's impression share
        # times its conversion rate there, so that impressions come out with the configured partner shares.
        by_partner = (model.weight * model.ctr * model.install_rate).reshape(n_partners, n_platforms, -1)
        by_partner = by_partner.sum(axis=2).T  # (platforms, partners)
        cumulative = np.cumsum(by_partner / by_partner.sum(axis=1, keepdims=True), axis=1)
        partner = (rng.random(len(users))[:, None] >= cumulative[platform, :-1]).sum(axis=1)
        segment = model.segment(partner, platform, country, rng.integers(0, n_campaigns, len(users)))
        segment[organic] = model.organic_segment(platform[organic], country[organic])
        click, install = _delays(rng, outcome, mmp, converted_at - self.start_s)
        conversions = _Chains(segment, outcome, converted_at - install - click, click, install, users)

        # Everything else: impressions that were not clicked and clicks that did not convert, with the
        # impression volume the expected conversions imply (conversions per impression: sum w*ctr*rate).
        conversion_rate = model.weight * model.ctr * model.install_rate
        impressions = (self._expected_installs() + self._expected_reinstalls()) / conversion_rate.sum()
        rest_weight = model.weight - conversion_rate
        clicked_rest = model.weight * model.ctr * (1 - model.install_rate) / rest_weight
        rest = _forward(
            rng,
            int(rng.poisson(impressions * rest_weight.sum())),
            _lookup_table(rest_weight),
            np.stack([clicked_rest, np.zeros_like(clicked_rest), np.zeros_like(clicked_rest)]),
            self.start_s,
            self.span,
            mmp,
        )
        return _Chains.concat([conversions, rest])

    @functools.cached_property
    def _reinstall_share(self) -> float:
        """Volume mode: the share of conversions the population makes reinstalls in this window."""
        installs, reinstalls = self._expected_installs(), self._expected_reinstalls()
        return reinstalls / (installs + reinstalls) if installs + reinstalls else 0.0

    @functools.cached_property
    def _pool_groups(self) -> tuple[np.ndarray, np.ndarray]:
        """The reinstall pool sorted by (platform, country), and where each such group starts."""
        model, pool = self.model, self._pool
        platform = model.codes(self.population.platform[pool], model.platforms, "platforms")
        country = model.codes(self.population.country[pool], model.countries, "countries")
        group = platform * len(model.countries) + country
        order = np.argsort(group, kind="stable")
        return pool[order], np.searchsorted(
            group[order], np.arange(len(model.platforms) * len(model.countries) + 1)
        )

    def _volume_block(self, block: int, n_events: int) -> _Chains:
        """Chains holding exactly ``n_events`` events, drawn forwards."""
        model, rng = self.model, self._rng(_CHAINS, block)
        install_p = model.ctr * model.install_rate
        thresholds = np.stack([model.ctr, install_p, install_p * self._reinstall_share])
        chains = _forward(rng, n_events, model.install_lut, thresholds, self.start_s, self.span, self.mmp)
        # Keep the first chains holding n_events events; shorten the last one if it overshoots.
        total = np.cumsum(chains.events)
        last = int(np.searchsorted(total, n_events))
        chains = chains[: last + 1]
        overshoot = int(total[last]) - n_events
        if overshoot:
            keep = int(chains.events[last]) - overshoot
            chains.outcome[last] = IMPRESSION if keep == 1 else CLICK
            chains.install_delay[last] = 0
            if keep == 1:
                chains.click_delay[last] = 0
        self._pick_reinstallers(rng, chains)
        return chains

    def _pick_reinstallers(self, rng: np.random.Generator, chains: _Chains) -> None:
        """Give each reinstall a churned user of its platform and country (an install if there is none)."""
        reinstalls = np.flatnonzero(chains.outcome == REINSTALL)
        if not len(reinstalls):
            return
        pool, bounds = self._pool_groups
        codes = self.model.segment_codes[:, chains.segment[reinstalls]]
        group = codes[1].astype(np.int64) * len(self.model.countries) + codes[2]
        size = bounds[group + 1] - bounds[group]
        pick = bounds[group] + (rng.random(len(reinstalls)) * size).astype(np.int64)
        chains.user[reinstalls] = np.where(size > 0, pool[np.minimum(pick, len(pool) - 1)], -1)
        chains.outcome[reinstalls[size == 0]] = INSTALL

    def blocks(self) -> Iterator[tuple[int, _Chains]]:
        """(first event position, chains) per block, in order."""
        if self._chains is None:
            for block, first in enumerate(range(0, self.total_events, BLOCK)):
                yield first, self._volume_block(block, min(BLOCK, self.total_events - first))
            return
        ends = np.cumsum(self._chains.events)
        cuts = np.searchsorted(ends, np.arange(BLOCK, self.total_events, BLOCK), "right")
        bounds = [0, *np.unique(cuts).tolist(), len(self._chains)]
        for lo, hi in itertools.pairwise(bounds):
            yield (int(ends[lo - 1]) if lo else 0), self._chains[lo:hi]

    def chunks(self, chunk_size: int | None = None) -> Iterator[pa.Table]:
        """The window's events as tables of about ``chunk_size`` events (whole blocks)."""
        per_chunk = max(1, (chunk_size or self.mmp.chunk_size) // BLOCK)
        tables: list[pa.Table] = []
        for block, (first, chains) in enumerate(self.blocks()):
            tables.append(self._events(chains, first, self._rng(_PRICES, block)))
            if len(tables) == per_chunk:
                yield pa.concat_tables(tables)
                tables = []
        if tables:
            yield pa.concat_tables(tables)

    def _events(self, chains: _Chains, first: int, rng: np.random.Generator) -> pa.Table:
        """Chains to events: impressions and organic installs, then the clicks, then the attributed
        (re)installs (ids in this order)."""
        model = self.model
        n = len(chains)
        clicked = np.flatnonzero(chains.outcome >= CLICK)
        converted = np.flatnonzero(chains.outcome >= INSTALL)
        n_clicks, n_conversions = len(clicked), len(converted)
        first_id = self.first_id + first
        event_id = first_id + np.arange(n + n_clicks + n_conversions, dtype=np.int64)

        organic = chains.outcome == ORGANIC
        first_type = np.where(organic, INSTALL, IMPRESSION).astype(np.int8)
        event_type = np.concatenate(
            [first_type, np.full(n_clicks, CLICK, np.int8), chains.outcome[converted]]
        )
        segment = np.concatenate([chains.segment, chains.segment[clicked], chains.segment[converted]])
        click_time = chains.shown_at + chains.click_delay
        event_time = np.concatenate(
            [chains.shown_at, click_time[clicked], click_time[converted] + chains.install_delay[converted]]
        )
        codes = model.segment_codes[:, segment]

        jitter = rng.integers(-model.jitter_ppm, model.jitter_ppm + 1, len(segment))
        cost = np.zeros((len(segment), 2), dtype=np.int64)  # decimal128 little-endian: low, high word
        cost[:, 0] = (model.price[event_type, segment] * (1_000_000 + jitter) + 500_000) // 1_000_000

        impression_id = first_id + clicked
        click_id = first_id + n + np.searchsorted(clicked, converted)
        conversion_ids = event_id[n + n_clicks :]
        users = chains.user[converted]
        synthetic = pc.binary_join_element_wise("syn", pa.array(conversion_ids).cast(pa.string()), "")
        population_ids = _population_ids(self.settings.simulator)
        converted_ids = pc.if_else(
            pa.array(users >= 0), population_ids.take(pa.array(np.maximum(users, 0))), synthetic
        )
        first_ids = pc.if_else(  # organic installs are always population users
            pa.array(organic),
            population_ids.take(pa.array(np.maximum(chains.user, 0))),
            pa.nulls(n, pa.string()),
        )

        def dictionary(indices: np.ndarray, names: pa.Array) -> pa.Array:
            return pa.DictionaryArray.from_arrays(pa.array(indices.astype(np.int16)), names)

        def nullable(values: np.ndarray | pa.Array, before: int, after: int, kind: pa.DataType) -> pa.Array:
            values = values if isinstance(values, pa.Array) else pa.array(values, kind)
            return pa.concat_arrays([pa.nulls(before, kind), values, pa.nulls(after, kind)])

        columns = [
            pa.array(event_id),
            dictionary(event_type, model.types),
            pa.array(event_time, pa.timestamp("s", tz="UTC")),
            dictionary(codes[0], model.partners),
            dictionary(codes[1], model.platforms),
            dictionary(codes[2], model.countries),
            dictionary(codes[3], model.campaigns),
            nullable(impression_id, n, n_conversions, pa.int64()),
            nullable(click_id, n + n_clicks, 0, pa.int64()),
            pa.concat_arrays([first_ids, pa.nulls(n_clicks, pa.string()), converted_ids]),
            pa.Array.from_buffers(pa.decimal128(18, 6), len(segment), [None, pa.py_buffer(cost)]),
        ]
        return pa.Table.from_arrays(columns, schema=SCHEMA)


def iter_window(
    start: datetime,
    end: datetime,
    settings: Settings | None = None,
    *,
    seed: int | None = None,
    events: int | None = None,
    chunk_size: int | None = None,
) -> Iterator[pa.Table]:
    """The events of [start, end) chunk by chunk; see the module docstring for the model."""
    return WindowPlan(start, end, settings, seed=seed, events=events).chunks(chunk_size)


def generate_window(
    start: datetime,
    end: datetime,
    settings: Settings | None = None,
    seed: int | None = None,
    *,
    events: int | None = None,
) -> pa.Table:
    """All events of [start, end) in one table (use :func:`iter_window` for large volumes)."""
    tables = list(iter_window(start, end, settings, seed=seed, events=events))
    return pa.concat_tables(tables) if tables else SCHEMA.empty_table()

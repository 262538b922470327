"""Game-client telemetry uploads: gzipped JSON-lines files for the same players as purchases and spins.

One line is one client *visit*: who (user, device, geo) and a nested array of events, purchases with a
nested array of items. Purchases are the backend's own valid purchases (``simulator.purchases``), so the
telemetry sales reconcile with silver purchases of the same users and days, up to what uploads lose.

Everything is seeded per hour and per file, so a range always yields the same uploads whatever chunks it is
generated in. Imperfections come at the configured rates (``TelemetrySettings``): a visit whose tail comes
in a later file, a file uploaded twice, a file re-uploaded with corrections, a truncated gzip, invalid JSON
lines, rule-breaking visits, unknown extra fields and device clocks that are off; plus bursts (one device
sending thousands of events a minute) and quiet periods without any traffic.
"""

from __future__ import annotations

import gzip
import json
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta

import numpy as np

from cadence.config import Settings
from cadence.simulator.population import Population, build_population
from cadence.simulator.purchases import generate_hour as backend_purchases
from cadence.simulator.purchases import hourly_rhythm
from cadence.telemetry.landing import EVENT_TYPES, SIGNAL, STAMP, landing_dir

HOUR = timedelta(hours=1)
SCREENS = ("home", "map", "level", "store", "inventory", "settings", "leaderboard")
CATALOG = {  # sku -> (category, price in USD)
    "gems_s": ("gems", 0.99),
    "gems_m": ("gems", 4.99),
    "gems_l": ("gems", 19.99),
    "coins_s": ("coins", 1.99),
    "coins_l": ("coins", 9.99),
    "booster": ("boosters", 2.99),
    "skin_gold": ("cosmetics", 7.99),
    "pass_season": ("passes", 14.99),
}
MODELS = {"ios": ("iPhone13", "iPhone15", "iPadAir"), "android": ("Pixel7", "GalaxyS23", "Redmi12")}
OS = {"ios": ("17.5", "18.1"), "android": ("13", "14")}
_STREAM = 13  # the telemetry random streams, apart from the backend's


@dataclass
class Upload:
    """One file as it lands: ``name`` under ``landing/telemetry/``, the gzipped bytes, and what it is."""

    name: str
    uploaded_at: datetime
    payload: bytes
    kind: str = "upload"  # upload | duplicate | corrected | truncated
    lines: list[str] = field(default_factory=list)  # the JSON lines before gzip (tests count them)


def _rng(settings: Settings, *keys: int) -> np.random.Generator:
    return np.random.default_rng([settings.telemetry.seed, _STREAM, *keys])


def _ms(moment: datetime) -> str:
    return moment.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%S.") + f"{moment.microsecond // 1000:03d}Z"


def _device(population: Population, index: int, settings: Settings) -> dict:
    """A user's device, stable over time (model, os, clock error); app version follows release dates."""
    rng = _rng(settings, 1, index)
    platform = population.platform[index]
    skew = 0.0
    if rng.random() < settings.telemetry.clock_skew_rate:
        skew = float(rng.uniform(-1, 1) * settings.telemetry.clock_skew_max.total_seconds())
    return {
        "device_id": f"d{index:06d}",
        "platform": platform,
        "model": MODELS[platform][int(rng.integers(len(MODELS[platform])))],
        "os_version": OS[platform][int(rng.integers(len(OS[platform])))],
        "lag_days": int(rng.integers(0, 40)),  # how long the player waits before updating the app
        "skew_s": round(skew, 3),
    }


def _app_version(moment: datetime, lag_days: int, settings: Settings) -> str:
    """A release every 30 days since the population start; a player runs the one lag_days old."""
    days = (moment.date() - settings.simulator.population_start).days - lag_days
    return f"1.{max(days, 0) // 30}.0"


def _item(sku: str, quantity: int = 1, price: float | None = None) -> dict:
    category, list_price = CATALOG[sku]
    return {"sku": sku, "category": category, "quantity": quantity, "price_usd": price or list_price}


def _events(rng, start: datetime, count: int, key: str) -> list[dict]:
    """A plausible sequence of ``count`` events from ``start``, seconds to minutes apart."""
    kinds = rng.choice(5, count, p=[0.45, 0.2, 0.18, 0.12, 0.05])
    screens, skus = rng.integers(len(SCREENS), size=count), rng.integers(len(CATALOG), size=count)
    wins, quantities = rng.random(count) < 0.6, rng.integers(1, 4, size=count)
    offsets = np.concatenate([[0.0], np.cumsum(rng.exponential(45, count - 1) + 1)])
    events, level, catalog = [], int(rng.integers(1, 200)), list(CATALOG)
    for position in range(count):
        kind = EVENT_TYPES[kinds[position]]
        event: dict = {
            "event_id": f"{key}-{position}",
            "type": kind,
            "ts": start + timedelta(seconds=round(float(offsets[position]), 3)),
        }
        if kind == "screen_view":
            event["screen"] = SCREENS[screens[position]]
        elif kind in ("level_start", "level_end"):
            event["screen"] = "level"
            event["level"] = level
            if kind == "level_end":
                event["result"] = "win" if wins[position] else "lose"
                level += bool(wins[position])
        else:
            event["screen"] = "store"
            quantity = int(quantities[position]) if kind == "add_to_cart" else 1
            event["items"] = [_item(catalog[skus[position]], quantity)]
        events.append(event)
    return events


@dataclass
class Visit:
    """A visit before it is written: header, events in true time, and when the client uploads it."""

    header: dict
    events: list[dict]
    device: dict
    ends_at: datetime


def _visit(population, index, start, events, key, settings, rng) -> Visit:
    device = _device(population, index, settings)
    country = population.country[index]
    if rng.random() < 0.03:  # travelling: first-touch country must come from the first session as a whole
        country = ("US", "GB", "DE", "FR", "BR", "JP", "IN", "CA", "AU", "MX")[int(rng.integers(10))]
    header = {
        "visit_id": f"v-{key}",
        "user_id": population.user_id[index],
        "device": {
            "device_id": device["device_id"],
            "platform": device["platform"],
            "model": device["model"],
            "os_version": device["os_version"],
            "app_version": _app_version(start, device["lag_days"], settings),
        },
        "geo": {"country": country, "region": f"{country}-{int(rng.integers(1, 5))}"},
        "client_started_at": start,
    }
    return Visit(header, events, device, events[-1]["ts"])


def hour_visits(hour: datetime, settings: Settings) -> list[Visit]:
    """The visits starting in ``hour``: organic play, the backend's purchases, and any burst."""
    config = settings.telemetry
    population = build_population(settings.simulator)
    installed = population.installed_before(hour)
    hour_key = int(hour.timestamp()) // 3600
    rng = _rng(settings, 2, hour_key)
    if installed == 0 or _in_quiet_period(hour, settings):
        return []
    visits = []
    for number in range(int(rng.poisson(config.visits_per_hour * hourly_rhythm(hour.hour)))):
        index = int(rng.integers(installed))
        start = hour + timedelta(seconds=float(rng.uniform(0, 3600)))
        key = f"{hour:%Y%m%d%H}-{number}"
        events = _events(rng, start, int(rng.integers(3, 40)), key)
        visits.append(_visit(population, index, start, events, key, settings, rng))
    # the backend's valid purchases, each in a short visit of its buyer ending with the purchase event
    bought = backend_purchases(hour, population, settings.simulator)
    bought = bought[(bought["op"] == "insert") & bought["user_id"].notna() & (bought["revenue_usd"] >= 0)]
    bought = bought.drop_duplicates("transaction_id")
    bought = bought[bought["purchased_at"].str.match(r"^\d{4}-") & bought["country"].ne("XX")]
    index_of = {user: i for i, user in enumerate(population.user_id[:installed])}
    for row in bought.itertuples():
        index = index_of.get(row.user_id)
        if index is None:
            continue
        at = datetime.strptime(row.purchased_at, "%Y-%m-%dT%H:%M:%SZ").replace(tzinfo=UTC)
        key = f"{hour:%Y%m%d%H}-{row.transaction_id}"
        events = _events(rng, at - timedelta(seconds=float(rng.uniform(30, 400))), 2, key)
        sku = min(CATALOG, key=lambda s: abs(CATALOG[s][1] - row.revenue_usd))
        events.append(
            {
                "event_id": f"{key}-p",
                "type": "purchase",
                "ts": at,
                "screen": "store",
                "transaction_id": row.transaction_id,
                "items": [_item(sku, 1, float(row.revenue_usd))],
            }
        )
        events[-2]["ts"] = min(events[-2]["ts"], at)
        events[-3]["ts"] = min(events[-3]["ts"], events[-2]["ts"])
        visits.append(_visit(population, index, events[0]["ts"], events, key, settings, rng))
    if rng.random() < config.bursts_per_day / 24:
        visits.append(_burst(hour, rng, population, installed, settings))
    return visits


def _in_quiet_period(hour: datetime, settings: Settings) -> bool:
    rng = _rng(settings, 3, int(hour.timestamp()) // 3600)
    return bool(rng.random() < settings.telemetry.quiet_periods_per_day / 24)


def burst_minutes(hour: datetime, settings: Settings) -> list[datetime]:
    """The minutes of ``hour`` a burst fills (empty without a burst): what the traffic rule must catch."""
    visits = [v for v in hour_visits(hour, settings) if v.header["visit_id"].startswith("v-burst")]
    return sorted({e["ts"].replace(second=0, microsecond=0) for v in visits for e in v.events})


def _burst(hour, rng, population, installed, settings) -> Visit:
    """A retry storm: one device sends burst_events_per_minute events a minute for burst_minutes."""
    config = settings.telemetry
    index = int(rng.integers(installed))
    start = hour + timedelta(minutes=int(rng.integers(0, 60 - config.burst_minutes)))
    per_minute, events = config.burst_events_per_minute, []
    key = f"burst-{hour:%Y%m%d%H}"
    for minute in range(config.burst_minutes):
        for n in range(per_minute):
            events.append(
                {
                    "event_id": f"{key}-{minute}-{n}",
                    "type": "screen_view",
                    "screen": "home",
                    "ts": start + timedelta(minutes=minute, seconds=59.9 * n / per_minute),
                }
            )
    return _visit(population, index, start, events, key, settings, rng)


def _file_ticks(start: datetime, end: datetime, settings: Settings) -> list[datetime]:
    """Upload times in [start, end): a Poisson process, drawn per hour."""
    ticks = []
    hour = start.replace(minute=0, second=0, microsecond=0)
    while hour < end:
        rng = _rng(settings, 4, int(hour.timestamp()) // 3600)
        count = max(1, int(rng.poisson(settings.telemetry.files_per_hour)))
        seconds = np.sort(rng.choice(3600, count, replace=False))
        ticks += [hour + timedelta(seconds=int(s)) for s in seconds]
        hour += HOUR
    return [t for t in ticks if start <= t < end]


def _line(visit: Visit, events: list[dict], uploaded_at: datetime, rng, settings: Settings) -> str:
    """The JSON line a client sends: its own clock for every timestamp, plus the server's receive time."""
    skew = timedelta(seconds=visit.device["skew_s"])
    record = {
        **visit.header,
        "client_started_at": _ms(visit.header["client_started_at"] + skew),
        "sent_at": _ms(uploaded_at + skew),
        "received_at": _ms(uploaded_at),
        "events": [{**e, "ts": _ms(e["ts"] + skew)} for e in events],
    }
    config = settings.telemetry
    if rng.random() < config.drift_line_rate:
        record["experiment"] = {"name": "new_store", "arm": "b"}  # schema drift: a field nobody declared
    if rng.random() < config.bad_visit_rate:
        record["user_id"] = None if rng.random() < 0.5 else record["user_id"]
        if record["user_id"] is not None:
            record["device"] = {**record["device"], "platform": "symbian"}
    text = json.dumps(record, separators=(",", ":"))
    if rng.random() < config.invalid_line_rate:
        text = text[: int(len(text) * rng.uniform(0.2, 0.9))]  # a line cut mid-way: not JSON
    return text


def _gzip(lines: list[str]) -> bytes:
    return gzip.compress(("\n".join(lines) + "\n").encode(), mtime=0)


def uploads(start: datetime, end: datetime, settings: Settings) -> list[Upload]:
    """Every file landing in [start, end), in upload order (a corrected re-upload keeps its name)."""
    ticks = _file_ticks(start - 2 * HOUR, end + 2 * HOUR, settings)
    if not ticks:
        return []
    hours, hour = [], (ticks[0] - 4 * HOUR).replace(minute=0, second=0, microsecond=0)
    while hour < ticks[-1]:
        hours.append(hour)
        hour += HOUR
    parts: dict[datetime, list[tuple[Visit, list[dict]]]] = {t: [] for t in ticks}
    for hour in hours:
        rng = _rng(settings, 5, int(hour.timestamp()) // 3600)
        for visit in hour_visits(hour, settings):
            ready = visit.ends_at + timedelta(seconds=float(rng.exponential(300)))
            at = int(np.searchsorted(ticks, ready))
            if at >= len(ticks):
                continue
            events = visit.events
            if rng.random() < settings.telemetry.split_visit_rate and len(events) > 1 and at + 1 < len(ticks):
                cut = int(rng.integers(1, len(events)))
                parts[ticks[at + 1]].append((visit, events[cut:]))
                events = events[:cut]
            parts[ticks[at]].append((visit, events))
    landed = []
    for tick in ticks:
        if not (start <= tick < end):
            continue
        rng = _rng(settings, 6, int(tick.timestamp()))
        name = f"telemetry_{tick:{STAMP}}.json.gz"
        lines = [_line(v, e, tick, rng, settings) for v, e in parts[tick]]
        config = settings.telemetry
        if rng.random() < config.truncated_file_rate and lines:
            payload = _gzip(lines)
            landed.append(Upload(name, tick, payload[: len(payload) * 2 // 3], "truncated", lines))
            continue
        landed.append(Upload(name, tick, _gzip(lines), "upload", lines))
        if rng.random() < config.duplicate_file_rate:
            again = tick + timedelta(seconds=30)
            landed.append(
                Upload(f"telemetry_{again:{STAMP}}_retry.json.gz", again, _gzip(lines), "duplicate", lines)
            )
        if rng.random() < config.corrected_file_rate and lines:
            corrected = [_corrected(line) for line in lines]
            later = tick + timedelta(minutes=20)
            landed.append(Upload(name, later, _gzip(corrected), "corrected", corrected))
    return sorted((u for u in landed if u.uploaded_at < end), key=lambda u: (u.uploaded_at, u.name))


def _corrected(line: str) -> str:
    """The client's correction of a line: the screens of its events fixed ("map" was logged as "home")."""
    try:
        record = json.loads(line)
    except ValueError:
        return line  # still broken: the client resends what it has
    for event in record.get("events") or []:
        if event.get("screen") == "home":
            event["screen"] = "map"
    return json.dumps(record, separators=(",", ":"))


def write_uploads(settings: Settings, files: list[Upload], signal: bool = True) -> list[str]:
    """Land ``files`` in order (atomically, so the pipeline never reads half a file) and raise the signal."""
    from cadence import lake

    folder = landing_dir(settings)
    for upload in files:
        lake.write_atomic(folder / upload.name, upload.payload)
    if signal and files:
        lake.write_atomic(folder / SIGNAL, b"")
    return [u.name for u in files]


def land(start: datetime, end: datetime, settings: Settings | None = None) -> list[str]:
    """The simulator's telemetry feed: write the uploads of [start, end) into the landing area."""
    from cadence.config import get_settings

    settings = settings or get_settings()
    return write_uploads(settings, uploads(start, end, settings))

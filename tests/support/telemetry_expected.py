"""An independent pandas reading of landed telemetry files: what bronze, sessions, users and marts must hold.

It parses the landing files with the standard library (gzip + json per line), applies the same rules as
the spec says (not Arrow, not Great Expectations, not SQL), and computes every table the dbt models build.
"""

from __future__ import annotations

import gzip
import hashlib
import json
import zlib
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd

EVENT_TYPES = {"screen_view", "level_start", "level_end", "item_view", "add_to_cart", "purchase"}


def _time(value) -> pd.Timestamp:
    return pd.Timestamp(value).tz_convert(None)


@dataclass
class Reading:
    lines: dict[str, int]  # file -> lines (0 for an unreadable file)
    corrupt: set[str]
    loaded: dict[str, set[int]]  # file -> line numbers that must be in bronze
    duplicates: dict[str, str]  # file -> the earlier file with the same bytes
    visits: pd.DataFrame
    events: pd.DataFrame
    items: pd.DataFrame


def _line_ok(record, platforms, countries) -> bool:
    if not isinstance(record, dict):
        return False
    device, geo = record.get("device") or {}, record.get("geo") or {}
    if not all(record.get(k) for k in ("visit_id", "user_id", "sent_at", "received_at")):
        return False
    if not device.get("device_id") or device.get("platform") not in platforms:
        return False
    if geo.get("country") not in countries:
        return False
    for event in record.get("events") or []:
        if not event.get("event_id") or event.get("type") not in EVENT_TYPES or not event.get("ts"):
            return False
        for item in event.get("items") or []:
            if not item.get("sku") or (item.get("quantity") or 0) < 1 or (item.get("price_usd") or 0) < 0:
                return False
    return True


def read_landing(folder: Path, platforms, countries) -> Reading:
    """Every file of the landing area as it is now (a corrected re-upload has replaced its first version)."""
    lines, corrupt, loaded, duplicates, seen = {}, set(), {}, {}, {}
    visits, events, items = [], [], []
    for path in sorted(folder.glob("*.json.gz")):
        payload = path.read_bytes()
        digest = hashlib.sha256(payload).hexdigest()
        try:
            text = gzip.decompress(payload).decode()
        except (EOFError, OSError, zlib.error):
            corrupt.add(path.name)
            lines[path.name] = 0
            continue
        rows = text.split("\n")[:-1]
        lines[path.name] = len(rows)
        if digest in seen:
            duplicates[path.name] = seen[digest]
            continue
        seen[digest] = path.name
        loaded[path.name] = set()
        for number, row in enumerate(rows, 1):
            try:
                record = json.loads(row)
            except ValueError:
                continue
            if not _line_ok(record, platforms, countries):
                continue
            loaded[path.name].add(number)
            offset = _time(record["received_at"]) - _time(record["sent_at"])
            device, geo = record["device"], record["geo"]
            visits.append(
                {
                    "visit_id": record["visit_id"],
                    "user_id": record["user_id"],
                    "platform": device["platform"],
                    "device_model": device["model"],
                    "os_version": device["os_version"],
                    "app_version": device["app_version"],
                    "country": geo["country"],
                    "started_at": _time(record["client_started_at"]) + offset,
                    "received_at": _time(record["received_at"]),
                    "_file": path.name,
                    "_line": number,
                }
            )
            for event in record.get("events") or []:
                events.append(
                    {
                        "event_id": event["event_id"],
                        "visit_id": record["visit_id"],
                        "user_id": record["user_id"],
                        "device_id": device["device_id"],
                        "event_type": event["type"],
                        "event_time": _time(event["ts"]) + offset,
                        "screen": event.get("screen"),
                        "level": event.get("level"),
                        "received_at": _time(record["received_at"]),
                        "_file": path.name,
                        "_line": number,
                    }
                )
                for index, item in enumerate(event.get("items") or []):
                    items.append(
                        {
                            "event_id": event["event_id"],
                            "item_index": index,
                            "sku": item["sku"],
                            "category": item["category"],
                            "quantity": item["quantity"],
                            "price_usd": item["price_usd"],
                            "_file": path.name,
                            "_line": number,
                        }
                    )
    return Reading(
        lines, corrupt, loaded, duplicates, pd.DataFrame(visits), pd.DataFrame(events), pd.DataFrame(items)
    )


def latest(frame: pd.DataFrame, key: str) -> pd.DataFrame:
    """One row per key: the latest delivery (received_at, then file, then line)."""
    ordered = frame.sort_values(["received_at", "_file", "_line"], ascending=False)
    return ordered.drop_duplicates(key).reset_index(drop=True)


def staged(reading: Reading) -> tuple[pd.DataFrame, pd.DataFrame, pd.DataFrame]:
    visits = latest(reading.visits, "visit_id")
    events = latest(reading.events, "event_id").merge(
        visits[["visit_id", "platform", "country", "app_version"]], on="visit_id", how="left"
    )
    events["event_date"] = events["event_time"].dt.normalize()
    items = reading.items.merge(
        events[["event_id", "_file", "_line", "event_type", "event_date", "user_id"]],
        on=["event_id", "_file", "_line"],
    )
    return visits, events, items


def sessions(events: pd.DataFrame, gap_seconds: int) -> pd.DataFrame:
    ordered = events.sort_values(["user_id", "event_time", "event_id"]).reset_index(drop=True)
    gap = ordered.groupby("user_id")["event_time"].diff()
    ordered["session_number"] = (
        (gap.isna() | (gap > pd.Timedelta(seconds=gap_seconds))).groupby(ordered["user_id"]).cumsum()
    )
    grouped = ordered.groupby(["user_id", "session_number"])
    first = grouped.first()
    out = pd.DataFrame(
        {
            "session_start": grouped["event_time"].min(),
            "session_end": grouped["event_time"].max(),
            "events": grouped.size(),
            "screens": grouped["screen"].nunique(),
            "levels_played": ordered[ordered["event_type"] == "level_start"]
            .groupby(["user_id", "session_number"])["level"]
            .nunique(),
            "purchases": (ordered["event_type"] == "purchase")
            .groupby([ordered["user_id"], ordered["session_number"]])
            .sum(),
            "platform": first["platform"],
            "country": first["country"],
            "app_version": first["app_version"],
            "device_id": first["device_id"],
        }
    ).reset_index()
    out["levels_played"] = out["levels_played"].fillna(0).astype(int)
    epoch = (out["session_start"] - pd.Timestamp("1970-01-01")) // pd.Timedelta(milliseconds=1)
    out["session_id"] = [
        hashlib.md5(f"{user}|{ms}".encode()).hexdigest()
        for user, ms in zip(out["user_id"], epoch, strict=True)
    ]
    out["duration_s"] = (out["session_end"] - out["session_start"]).dt.total_seconds()
    out["session_date"] = out["session_start"].dt.normalize()
    return out.drop(columns="session_number").sort_values("session_id", ignore_index=True)


def users(sessions_: pd.DataFrame) -> pd.DataFrame:
    first = sessions_.sort_values(["session_start", "session_id"]).drop_duplicates("user_id")
    life = sessions_.groupby("user_id").agg(
        first_seen_at=("session_start", "min"),
        last_seen_at=("session_end", "max"),
        lifetime_sessions=("session_id", "size"),
        lifetime_events=("events", "sum"),
    )
    return (
        first.set_index("user_id")[["platform", "country", "app_version"]]
        .rename(columns=lambda c: f"first_{c}")
        .join(life)
        .reset_index()
        .sort_values("user_id", ignore_index=True)
    )


def engagement(sessions_: pd.DataFrame) -> pd.DataFrame:
    days = (
        sessions_.groupby(["session_date", "user_id"])
        .agg(sessions=("session_id", "size"), total=("duration_s", "sum"), events=("events", "sum"))
        .reset_index()
    )
    keys = set(zip(days["session_date"], days["user_id"], strict=True))
    days["avg_session_s"] = days["total"] / days["sessions"]
    days["events_per_session"] = days["events"] / days["sessions"]
    for n in (1, 7):
        days[f"returned_d{n}"] = [
            (d + pd.Timedelta(days=n), u) in keys
            for d, u in zip(days["session_date"], days["user_id"], strict=True)
        ]
    return (
        days.rename(columns={"session_date": "activity_date"})
        .drop(columns="total")
        .sort_values(["activity_date", "user_id"], ignore_index=True)
    )


def minutes(events: pd.DataFrame) -> pd.Series:
    return events.groupby(events["event_time"].dt.floor("min")).size()


def purchase_discrepancies(events: pd.DataFrame, items: pd.DataFrame, backend: pd.DataFrame) -> pd.DataFrame:
    """backend: transaction_id, user_id, revenue_usd, purchased_at (naive UTC)."""
    user_days = events[["user_id", "event_date"]].drop_duplicates()
    bought = items[items["event_type"] == "purchase"]
    client = (
        bought.assign(amount=bought["price_usd"] * bought["quantity"])
        .groupby(["user_id", "event_date"])
        .agg(telemetry_purchases=("event_id", "nunique"), telemetry_revenue_usd=("amount", "sum"))
    )
    server = (
        backend.assign(event_date=backend["purchased_at"].dt.normalize())
        .groupby(["user_id", "event_date"])
        .agg(backend_purchases=("transaction_id", "size"), backend_revenue_usd=("revenue_usd", "sum"))
    )
    joined = (
        user_days.merge(client.reset_index(), how="left").merge(server.reset_index(), how="left").fillna(0)
    )
    joined = joined[(joined["telemetry_purchases"] > 0) | (joined["backend_purchases"] > 0)]
    return joined.sort_values(["event_date", "user_id"], ignore_index=True)


def alert_minutes(per_minute: pd.Series, baseline_minutes: int, absolute, factor, min_events) -> set:
    """The overall minutes the traffic rule flags, computed with a dense minute index."""
    if per_minute.empty:
        return set()
    index = pd.date_range(per_minute.index.min(), per_minute.index.max(), freq="min")
    dense = per_minute.reindex(index, fill_value=0)
    baseline = dense.shift(1, fill_value=0).rolling(baseline_minutes, min_periods=1).sum() / baseline_minutes
    flagged = (dense >= min_events) & (
        ((dense >= absolute) if absolute else False) | ((dense >= factor * baseline) if factor else False)
    )
    return set(dense.index[np.asarray(flagged)])

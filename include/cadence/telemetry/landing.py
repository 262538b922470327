"""The landing area of game-client telemetry: where uploads arrive, how they are named, the signal raised
after each one, and the event types a client may send. The pipeline owns this; the simulator (and a real
collector) follows it. Light on purpose: the DAG file and the AssetWatcher read it at parse time."""

from __future__ import annotations

import hashlib

from cadence.config import Settings

STAMP = "%Y%m%dT%H%M%S"  # upload names: telemetry_<UTC stamp>[_retry|_fix].json.gz
SIGNAL = "_arrived"  # touched after each upload; the local AssetWatcher's FileDeleteTrigger consumes it
LANDING = "landing/telemetry"  # the landing area, relative to the lake's root
EVENT_TYPES = ("screen_view", "level_start", "level_end", "item_view", "add_to_cart", "purchase")


def landing_uri(settings: Settings) -> str:
    return f"{settings.lake_url.rstrip('/')}/{LANDING}"


def landing_dir(settings: Settings):
    """The landing area as an ``ObjectStoragePath`` (``file://`` locally, ``gs://`` in production)."""
    from cadence import lake

    return lake.root(settings) / LANDING


def checksum(payload: bytes) -> str:
    """What tells a re-uploaded file with the same name apart from the one already landed."""
    return hashlib.sha256(payload).hexdigest()

"""The simulator's live telemetry feed: land the uploads since the last call, remembering where it stopped.

``cadence-simulate seed / tick / run`` call :func:`tick` beside the source streams, so under `make up`
telemetry files arrive in ``landing/telemetry/`` every minute and the AssetWatcher starts runs by itself.
"""

from __future__ import annotations

import json
from datetime import datetime, timedelta

from cadence.config import Settings


def _state_path(settings: Settings):
    return settings.data_dir / "telemetry_feed.json"


def tick(settings: Settings, until: datetime, history: timedelta = timedelta(hours=1)) -> int:
    """Land the uploads of [last until, ``until``) (first call: ``history`` back); returns files landed."""
    from cadence.telemetry import simulator

    path = _state_path(settings)
    since = (
        datetime.fromisoformat(json.loads(path.read_text())["until"]) if path.exists() else until - history
    )
    if until <= since:
        return 0
    names = simulator.write_uploads(settings, simulator.uploads(since, until, settings))
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps({"until": until.isoformat()}))
    return len(names)

"""Telemetry pieces without Airflow runs: config rules, flattening of good and bad lines, watcher choice."""

from __future__ import annotations

import gzip
import json

import pytest

pytestmark = pytest.mark.unit


def line(**overrides) -> bytes:
    record = {
        "visit_id": "v1",
        "user_id": "u000001",
        "device": {
            "device_id": "d1",
            "platform": "ios",
            "model": "m",
            "os_version": "1",
            "app_version": "1.0.0",
        },
        "geo": {"country": "US", "region": "US-1"},
        "client_started_at": "2026-03-02T10:00:00.000Z",
        "sent_at": "2026-03-02T12:00:00.000Z",  # the device clock is two hours ahead of the server's
        "received_at": "2026-03-02T10:05:00.000Z",
        "events": [
            {"event_id": "e1", "type": "screen_view", "ts": "2026-03-02T11:59:00.000Z", "screen": "home"},
            {
                "event_id": "e2",
                "type": "purchase",
                "ts": "2026-03-02T12:00:00.000Z",
                "screen": "store",
                "items": [{"sku": "gems_s", "category": "gems", "quantity": 2, "price_usd": 0.99}],
            },
        ],
    }
    return json.dumps(record | overrides).encode()


def test_flatten_names_every_bad_line_and_corrects_the_device_clock():
    from datetime import UTC, datetime

    from cadence.telemetry.flatten import CorruptFile, flatten, gunzip, split_lines

    lines = [
        line(),
        line(visit_id="v2")[:40],
        line(visit_id="v3", user_id=7),
        line(visit_id="v4", extra={"a": 1}),
    ]
    payload = gzip.compress(b"\n".join(lines) + b"\n")
    flat = flatten(
        split_lines(gunzip(payload)), {"_file": "f", "_checksum": "c", "_ingested_at": datetime.now(UTC)}
    )
    assert flat.lines == 4
    assert [(n, reason.split(":")[0]) for n, reason, _ in flat.rejected] == [
        (2, "invalid JSON"),
        (3, "does not fit the schema"),
    ]
    assert flat.visits.column("_line").to_pylist() == [1, 4]
    assert flat.drift == ["extra"]
    events = flat.events.to_pylist()
    assert [e["event_id"] for e in events] == ["e1", "e2", "e1", "e2"]
    assert events[0]["event_time"] == datetime(2026, 3, 2, 10, 4, tzinfo=UTC)  # ts + received_at - sent_at
    items = flat.items.to_pylist()
    assert [(i["event_id"], i["item_index"], i["quantity"]) for i in items] == [("e2", 0, 2), ("e2", 0, 2)]
    with pytest.raises(CorruptFile, match="gzip"):
        gunzip(payload[: len(payload) // 2])


def test_config_refuses_a_rule_without_thresholds_and_pubsub_without_a_subscription(monkeypatch):
    from cadence.config import ConfigError, load_settings

    with pytest.raises(ConfigError, match="alert_absolute and/or alert_factor"):
        load_settings(telemetry={"alert_absolute": None, "alert_factor": None})
    with pytest.raises(ConfigError, match="pubsub_project and pubsub_subscription"):
        load_settings(telemetry={"trigger": "pubsub"})
    monkeypatch.setenv("CADENCE_TELEMETRY__SESSION_GAP", "PT45M")
    assert load_settings().telemetry.session_gap.total_seconds() == 2700


def test_the_watcher_is_a_file_trigger_locally_and_pubsub_in_production(tmp_path):
    from airflow.providers.common.messaging.triggers.msg_queue import MessageQueueTrigger
    from airflow.providers.google.cloud.triggers.pubsub import PubsubPullTrigger
    from airflow.providers.standard.triggers.file import FileDeleteTrigger
    from cadence.config import load_settings
    from cadence.telemetry.schedule import landing_asset, watcher_trigger

    local = load_settings(data_dir=tmp_path)
    trigger = watcher_trigger(local)
    assert isinstance(trigger, FileDeleteTrigger)
    assert trigger.filepath == str(tmp_path.resolve() / "lake/landing/telemetry/_arrived")
    assert landing_asset(local).watchers[0].trigger is not None

    cloud = load_settings(
        lake_url="gs://bucket/lake",
        telemetry={"trigger": "pubsub", "pubsub_project": "p", "pubsub_subscription": "landing"},
    )
    queue = watcher_trigger(cloud)
    assert isinstance(queue, MessageQueueTrigger) and isinstance(queue.trigger, PubsubPullTrigger)
    assert queue.trigger.subscription == "landing"
    with pytest.raises(ValueError, match="CADENCE_TELEMETRY__TRIGGER=pubsub"):
        watcher_trigger(load_settings(lake_url="gs://bucket/lake"))

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


def expected_lines(payload: bytes, settings) -> dict[int, dict | None]:
    """An independent reading of one landing file: line number -> the visit, or None if it must be
    quarantined (not a JSON object, or breaking a rule)."""
    from cadence.telemetry.landing import EVENT_TYPES

    def valid(record: dict) -> bool:
        device, geo = record.get("device") or {}, record.get("geo") or {}
        events = record.get("events") or []
        items = [i for e in events for i in e.get("items") or []]
        return (
            all(record.get(k) is not None for k in ("visit_id", "user_id", "sent_at", "received_at"))
            and device.get("device_id") is not None
            and device.get("platform") in settings.quality.platforms
            and geo.get("country") in settings.quality.countries
            and all(e.get("event_id") and e.get("ts") and e.get("type") in EVENT_TYPES for e in events)
            and all(i.get("sku") and i["quantity"] >= 1 and i["price_usd"] >= 0 for i in items)
        )

    reading = {}
    for number, text in enumerate(gzip.decompress(payload).decode().split("\n")[:-1], 1):
        try:
            record = json.loads(text)
        except ValueError:
            record = None
        reading[number] = record if isinstance(record, dict) and valid(record) else None
    return reading


def test_each_run_writes_its_run_log_record_and_replaces_rows_through_the_ledger(cadence_env):
    """Counts of the telemetry RunRecord equal an independent reading of the files; one bronze part per
    table and upload day; a corrected re-upload replaces its rows; a part of a failed run is removed."""
    from datetime import UTC, datetime

    import duckdb
    from cadence.telemetry import pipeline

    from tests.support.data import run_log

    settings = cadence_env
    lake = settings.data_dir / "lake"
    folder = lake / "landing/telemetry"
    folder.mkdir(parents=True)
    shop = {"event_id": "e3", "type": "add_to_cart", "ts": "2026-03-02T12:00:30.000Z", "screen": "store"}
    shop["items"] = [{"sku": "gems_l", "category": "gems", "quantity": 1, "price_usd": 4.99}]

    def upload(name: str, lines: list[bytes]) -> bytes:
        payload = gzip.compress(b"\n".join(lines) + b"\n", mtime=0)
        (folder / name).write_bytes(payload)
        return payload

    def visit(visit_id: str, **overrides) -> bytes:
        record = json.loads(line(visit_id=visit_id, **overrides))
        for event in record["events"]:
            event["event_id"] = f"{visit_id}-{event['event_id']}"
        return json.dumps(record).encode()

    files = {
        "telemetry_20260302T100000_a.json.gz": [
            visit("a1"),
            visit("a2", events=[shop]),
            visit("a3")[:70],  # cut: not JSON
            visit("a4", device={"device_id": "d9", "platform": "symbian"}),  # breaks a rule
            visit("a5", experiment={"arm": "b"}),  # schema drift
        ],
        "telemetry_20260302T101500_b.json.gz": [visit("b1"), b"", visit("b2"), visit("b3")],
        "telemetry_20260303T080000_e.json.gz": [visit("e1"), visit("e2")],  # another upload day
    }
    payloads = {name: upload(name, lines) for name, lines in files.items()}
    (folder / "telemetry_20260302T101600_retry.json.gz").write_bytes(
        payloads["telemetry_20260302T101500_b.json.gz"]
    )
    (folder / "telemetry_20260302T102000_cut.json.gz").write_bytes(
        payloads["telemetry_20260302T100000_a.json.gz"][:60]
    )

    def bronze(table: str):
        return duckdb.sql(f"select * from read_parquet('{lake}/bronze/{table}/*/*.parquet')").df()

    def check_record(record: dict, run_files: dict[str, bytes], run_time: datetime) -> None:
        readings = {name: expected_lines(payload, settings) for name, payload in run_files.items()}
        visits = bronze("telemetry_visits")
        events = bronze("telemetry_events")
        ours = visits[visits["_file"].isin(run_files)]
        assert record["status"] == "success" and record["window_end"] == run_time.isoformat()
        assert record["rows_extracted"] == sum(len(r) for r in readings.values())
        assert record["rows_valid"] == sum(v is not None for r in readings.values() for v in r.values())
        assert record["rows_quarantined"] == sum(v is None for r in readings.values() for v in r.values())
        assert record["rows_landed"] == len(ours) == record["rows_valid"]
        for name, reading in readings.items():
            loaded = set(ours.loc[ours["_file"] == name, "_line"])
            assert loaded == {n for n, v in reading.items() if v is not None}, name
        assert (
            record["events"]
            == len(events[events["_file"].isin(run_files)])
            == sum(len(v["events"]) for r in readings.values() for v in r.values() if v is not None)
        )

    first = datetime(2026, 3, 2, 10, 30, tzinfo=UTC)
    pipeline.ingest(settings, "run-1", now=first)
    (record,) = run_log(settings, "telemetry")
    check_record(record, payloads, first)
    assert record["rule_failures"] == {"invalid JSON": 1, "visits: platform not allowed": 1, "blank line": 1}
    assert (
        record["files"],
        record["files_loaded"],
        record["files_duplicate"],
        record["files_quarantined"],
    ) == (
        5,
        3,
        1,
        1,
    )
    assert record["drift_fields"] == ["experiment"]
    for table in pipeline.TABLES.values():  # one part per table and upload day, not one file per upload
        assert [len(list(p.iterdir())) for p in sorted((lake / "bronze" / table).iterdir())] == [1, 1]

    # run 2: a corrected re-upload of a (its cut line fixed), a new file, and a part a failed run left
    orphan = lake / "bronze/telemetry_events/dt=2026-03-02/part_20260302T104500000000_0.parquet"
    duckdb.sql(
        f"copy (select * from read_parquet('{lake}/bronze/telemetry_events/*/*.parquet')) to '{orphan}'"
    )
    symbian = {"device_id": "d9", "platform": "symbian"}
    fixed = {"telemetry_20260302T100000_a.json.gz": [visit("a1"), visit("a3"), visit("a4", device=symbian)]}
    fixed["telemetry_20260302T110000_f.json.gz"] = [visit("f1", user_id=None), visit("f2")]
    second = datetime(2026, 3, 2, 11, 0, tzinfo=UTC)
    run2 = {name: upload(name, lines) for name, lines in fixed.items()}
    pipeline.ingest(settings, "run-2", now=second)
    assert not orphan.exists()
    record = run_log(settings, "telemetry")[-1]
    check_record(record, run2, second)
    assert record["window_start"] == first.isoformat()  # since the previous land
    assert (record["files"], record["files_replaced"], record["files_loaded"]) == (2, 1, 1)
    assert record["rule_failures"] == {"visits: user_id is null": 1, "visits: platform not allowed": 1}
    visits = bronze("telemetry_visits")
    assert sorted(visits.loc[visits["_file"] == "telemetry_20260302T100000_a.json.gz", "visit_id"]) == [
        "a1",
        "a3",
    ]
    assert len(visits) == visits[["_file", "_line"]].drop_duplicates().shape[0]  # no row twice
    quarantined = duckdb.sql(
        "select _file, _line, _reject_reason "
        f"from read_parquet('{lake}/quarantine/telemetry_lines/*/*.parquet') where _file like '%_a.json.gz'"
    ).df()
    assert quarantined[["_line", "_reject_reason"]].values.tolist() == [[3, "visits: platform not allowed"]]

    # run 3: nothing new; its record says so
    third = datetime(2026, 3, 2, 11, 30, tzinfo=UTC)
    assert pipeline.ingest(settings, "run-3", now=third)["files"] == 0
    record = run_log(settings, "telemetry")[-1]
    assert (record["window_end"], record["rows_extracted"], record["rows_landed"], record["files"]) == (
        third.isoformat(),
        0,
        0,
        0,
    )

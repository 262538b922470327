"""Nested telemetry lines → flat Arrow tables (visits, events, event_items), with every bad line named.

Parsing is Arrow's multithreaded JSON reader with an explicit schema, so a file of clean lines never goes
through Python per event. Only a file with a line Arrow refuses is re-read line by line to find which lines
are not valid JSON or do not fit the schema; the good lines are then read by Arrow all the same. Unknown
fields (schema drift) are tolerated and reported. Device clocks are corrected the way collectors do it
(Snowplow's "true timestamp"): ``event_time = ts + (received_at - sent_at)``, where ``received_at`` is the
server's clock and ``sent_at`` the device's, both stamped on the same upload.
"""

from __future__ import annotations

import gzip
import io
import json
import zlib
from dataclasses import dataclass, field

import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.json as pj

TS = pa.timestamp("ms", tz="UTC")
ITEM = pa.struct(
    [("sku", pa.string()), ("category", pa.string()), ("quantity", pa.int64()), ("price_usd", pa.float64())]
)
EVENT = pa.struct(
    [
        ("event_id", pa.string()),
        ("type", pa.string()),
        ("ts", TS),
        ("screen", pa.string()),
        ("level", pa.int64()),
        ("result", pa.string()),
        ("transaction_id", pa.string()),
        ("items", pa.list_(ITEM)),
    ]
)
LINE = pa.schema(
    [
        ("visit_id", pa.string()),
        ("user_id", pa.string()),
        (
            "device",
            pa.struct(
                [
                    ("device_id", pa.string()),
                    ("platform", pa.string()),
                    ("model", pa.string()),
                    ("os_version", pa.string()),
                    ("app_version", pa.string()),
                ]
            ),
        ),
        ("geo", pa.struct([("country", pa.string()), ("region", pa.string())])),
        ("client_started_at", TS),
        ("sent_at", TS),
        ("received_at", TS),
        ("events", pa.list_(EVENT)),
    ]
)
KNOWN = set(LINE.names)


class CorruptFile(ValueError):
    """The file cannot be read at all (truncated or not gzip): it is quarantined whole."""


@dataclass
class Flat:
    """One file's lines, flattened. ``rejected`` holds (line number, reason, text) of lines not loaded."""

    visits: pa.Table
    events: pa.Table
    items: pa.Table
    lines: int
    rejected: list[tuple[int, str, str]] = field(default_factory=list)
    drift: list[str] = field(default_factory=list)  # unknown top-level fields seen


def gunzip(payload: bytes) -> bytes:
    try:
        return gzip.decompress(payload)
    except (EOFError, OSError, zlib.error) as error:
        raise CorruptFile(f"unreadable gzip: {type(error).__name__}: {error}") from None


def split_lines(data: bytes) -> list[bytes]:
    lines = data.split(b"\n")
    return lines[:-1] if lines and lines[-1] == b"" else lines


def _read(lines: list[bytes]) -> pa.Table:
    options = pj.ParseOptions(explicit_schema=LINE, unexpected_field_behavior="infer")
    block = max(1 << 20, sum(len(line) + 1 for line in lines) // 2 + 1)
    return pj.read_json(
        io.BytesIO(b"\n".join(lines) + b"\n"),
        parse_options=options,
        read_options=pj.ReadOptions(block_size=block),
    )


def parse(lines: list[bytes]) -> tuple[pa.Table, list[int], list[tuple[int, str, str]]]:
    """The lines Arrow reads (as a table), their 1-based numbers, and the rejected ones with reasons."""
    numbered = [(n, line) for n, line in enumerate(lines, 1) if line.strip()]
    blank = [(n, "blank line", "") for n, line in enumerate(lines, 1) if not line.strip()]
    if not numbered:
        return LINE.empty_table(), [], blank
    try:
        return _read([line for _, line in numbered]), [n for n, _ in numbered], blank
    except pa.ArrowInvalid:
        pass
    good, rejected = [], list(blank)
    for number, line in numbered:
        try:
            record = json.loads(line)
        except ValueError as error:
            rejected.append((number, f"invalid JSON: {error.msg}", line.decode("utf-8", "replace")))
            continue
        if not isinstance(record, dict):
            rejected.append((number, "line is not a JSON object", line.decode("utf-8", "replace")))
            continue
        good.append((number, line))
    try:
        table = _read([line for _, line in good]) if good else LINE.empty_table()
    except pa.ArrowInvalid:  # a value of the wrong type: find the lines one by one
        kept = []
        for number, line in good:
            try:
                _read([line])
                kept.append((number, line))
            except pa.ArrowInvalid as error:
                rejected.append(
                    (number, f"does not fit the schema: {error}", line.decode("utf-8", "replace"))
                )
        good = kept
        table = _read([line for _, line in good]) if good else LINE.empty_table()
    return table, [n for n, _ in good], sorted(rejected)


def flatten(lines: list[bytes], meta: dict) -> Flat:
    """Flatten the lines of one file; ``meta`` (file name, checksum, ingested_at...) tags every row."""
    table, numbers, rejected = parse(lines)
    drift = sorted(set(table.schema.names) - KNOWN)
    table = table.select(LINE.names).cast(LINE) if table.num_rows else LINE.empty_table()
    device, geo = table.column("device").combine_chunks(), table.column("geo").combine_chunks()
    offset = pc.subtract(table.column("received_at"), table.column("sent_at"))  # server clock - device clock
    line_numbers = pa.array(numbers, pa.int64())
    visits = pa.table(
        {
            "visit_id": table.column("visit_id"),
            "user_id": table.column("user_id"),
            "device_id": pc.struct_field(device, "device_id"),
            "platform": pc.struct_field(device, "platform"),
            "device_model": pc.struct_field(device, "model"),
            "os_version": pc.struct_field(device, "os_version"),
            "app_version": pc.struct_field(device, "app_version"),
            "country": pc.struct_field(geo, "country"),
            "region": pc.struct_field(geo, "region"),
            "client_started_at": table.column("client_started_at"),
            "started_at": pc.add(table.column("client_started_at"), offset),
            "sent_at": table.column("sent_at"),
            "received_at": table.column("received_at"),
            "event_count": pc.fill_null(pc.list_value_length(table.column("events")), 0),
            "_line": line_numbers,
        }
    )
    nested = table.column("events").combine_chunks()
    parent = pc.list_parent_indices(nested)
    events_struct = pc.list_flatten(nested)
    take = lambda column: pc.take(table.column(column), parent)  # noqa: E731
    ts = pc.struct_field(events_struct, "ts")
    events = pa.table(
        {
            "event_id": pc.struct_field(events_struct, "event_id"),
            "visit_id": take("visit_id"),
            "user_id": take("user_id"),
            "device_id": pc.take(visits.column("device_id"), parent),
            "event_type": pc.struct_field(events_struct, "type"),
            "client_ts": ts,
            "event_time": pc.add(ts, pc.take(offset, parent)),
            "screen": pc.struct_field(events_struct, "screen"),
            "level": pc.struct_field(events_struct, "level"),
            "level_result": pc.struct_field(events_struct, "result"),
            "transaction_id": pc.struct_field(events_struct, "transaction_id"),
            "received_at": take("received_at"),
            "_line": pc.take(line_numbers, parent),
        }
    )
    nested_items = pc.struct_field(events_struct, "items")
    item_parent = pc.list_parent_indices(nested_items)
    item_struct = pc.list_flatten(nested_items)
    positions = _positions(nested_items)
    items = pa.table(
        {
            "event_id": pc.take(events.column("event_id"), item_parent),
            "item_index": positions,
            "sku": pc.struct_field(item_struct, "sku"),
            "category": pc.struct_field(item_struct, "category"),
            "quantity": pc.struct_field(item_struct, "quantity"),
            "price_usd": pc.struct_field(item_struct, "price_usd"),
            "received_at": pc.take(events.column("received_at"), item_parent),
            "_line": pc.take(events.column("_line"), item_parent),
        }
    )
    return Flat(_tag(visits, meta), _tag(events, meta), _tag(items, meta), len(lines), rejected, drift)


def _positions(lists: pa.ListArray) -> pa.Array:
    """0, 1, ... within each list, for every flattened element."""
    import numpy as np

    lengths = pc.fill_null(pc.list_value_length(lists), 0).to_numpy(zero_copy_only=False)
    total = int(lengths.sum())
    starts = np.repeat(np.cumsum(lengths) - lengths, lengths)
    return pa.array(np.arange(total) - starts, pa.int64())


def _tag(table: pa.Table, meta: dict) -> pa.Table:
    for name, value in meta.items():
        table = table.append_column(name, pa.array([value] * table.num_rows, _META_TYPES[name]))
    return table


_META_TYPES = {"_file": pa.string(), "_checksum": pa.string(), "_ingested_at": pa.timestamp("us", tz="UTC")}

"""Nested telemetry lines → flat Arrow tables (visits, events, event_items), with every bad line named.

Parsing is Arrow's multithreaded JSON reader with an explicit schema, over the lines of all the files of a
run at once, so clean lines never go through Python per event and a small upload costs no read of its own.
Lines that are not JSON objects or do not fit the schema are found and named (file, line, reason); the good
lines are read by Arrow all the same. Unknown fields (schema drift) are tolerated and reported per file.
Device clocks are corrected the way collectors do it (Snowplow's "true timestamp"):
``event_time = ts + (received_at - sent_at)``, where ``received_at`` is the server's clock and ``sent_at``
the device's, both stamped on the same upload.
"""

from __future__ import annotations

import gzip
import json
import zlib
from collections.abc import Callable
from dataclasses import dataclass, field

import numpy as np
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


@dataclass
class Batch:
    """Several files' lines, flattened together (rows tagged with their file); per-file facts by file name.

    ``rejected`` holds (file, line number, reason, text) of the lines not loaded. Every table has a
    ``_file_index`` column (the file's position in the batch) for cheap counting and splitting; bronze
    does not keep it."""

    visits: pa.Table
    events: pa.Table
    items: pa.Table
    lines: dict[str, int]
    rejected: list[tuple[str, int, str, str]]
    drift: dict[str, list[str]]


def gunzip(payload: bytes) -> bytes:
    try:
        return gzip.decompress(payload)
    except (EOFError, OSError, zlib.error) as error:
        raise CorruptFile(f"unreadable gzip: {type(error).__name__}: {error}") from None


def split_lines(data: bytes) -> list[bytes]:
    lines = data.split(b"\n")
    return lines[:-1] if lines and lines[-1] == b"" else lines


def _read(data, unexpected: str = "infer") -> pa.Table:
    """Arrow's JSON reader over newline-separated lines (bytes, a bytearray or a list of lines); lines of
    whitespace only yield no row."""
    if isinstance(data, list):
        data = b"".join(line + b"\n" for line in data)
    options = pj.ParseOptions(explicit_schema=LINE, unexpected_field_behavior=unexpected)
    block = max(1 << 20, len(data) // 2 + 1)  # two blocks: one per core
    return pj.read_json(
        pa.BufferReader(pa.py_buffer(data)),
        parse_options=options,
        read_options=pj.ReadOptions(block_size=block),
    )


def _not_json(line: bytes) -> str | None:
    """Why ``line`` is not a JSON object, or None if it is one."""
    try:
        record = json.loads(line)
    except ValueError as error:
        return f"invalid JSON: {getattr(error, 'msg', error)}"
    return None if isinstance(record, dict) else "line is not a JSON object"


def _misfits(lines: list[bytes], offset: int = 0) -> list[tuple[int, str]]:
    """Positions (and Arrow's reason) of the lines that do not fit the schema, found by halving: a handful of
    bad lines among thousands costs a few Arrow reads, not one per line."""
    try:
        _read(lines)
        return []
    except pa.ArrowInvalid as error:
        if len(lines) == 1:
            return [(offset, f"does not fit the schema: {error}")]
    middle = len(lines) // 2
    return _misfits(lines[:middle], offset) + _misfits(lines[middle:], offset + middle)


@dataclass
class Lines:
    """The lines of several files in one buffer: line ``i`` is ``buffer[starts[i]:ends[i]]`` (no newline),
    of file ``file[i]``, 1-based line ``number[i]`` there."""

    buffer: bytearray
    starts: np.ndarray
    ends: np.ndarray
    file: np.ndarray
    number: np.ndarray
    counts: list[int]  # lines per file

    @classmethod
    def of(cls, datas: list[bytes]) -> Lines:
        pieces = [d if not d or d.endswith(b"\n") else d + b"\n" for d in datas]
        buffer = bytearray().join(pieces)  # one copy, mutable (rejected lines are blanked in place)
        ends = np.flatnonzero(np.frombuffer(buffer, np.uint8) == ord("\n"))
        starts = np.concatenate([[0], ends[:-1] + 1]).astype(np.int64)[: len(ends)]
        counts = [piece.count(b"\n") for piece in pieces]
        file = np.repeat(np.arange(len(pieces)), counts)
        first = np.concatenate([[0], np.cumsum(counts)[:-1]]).astype(np.int64)[: len(pieces)]
        number = np.arange(len(ends)) - np.repeat(first, counts) + 1
        return cls(buffer, starts, ends, file, number, counts)

    def text(self, i: int) -> bytes:
        return bytes(self.buffer[self.starts[i] : self.ends[i]])

    def blank(self, i: int) -> None:
        """Spaces over line ``i``: Arrow's reader then yields no row for it."""
        self.buffer[self.starts[i] : self.ends[i]] = b" " * int(self.ends[i] - self.starts[i])

    def suspicious(self) -> np.ndarray:
        """Lines that may not be JSON objects: all but those that start with ``{``, end with ``}`` and
        balance their braces (a cut line does not). Vectorised over the buffer, no Python per line."""
        raw = np.frombuffer(self.buffer, np.uint8)
        size = len(raw)
        if not len(self.ends):
            return np.array([], np.int64)
        first = raw[np.minimum(self.starts, size - 1)]
        last = raw[np.maximum(self.ends - 1, 0)]
        offsets = pa.py_buffer(np.concatenate([self.starts, self.ends[-1:] + 1]).astype(np.int64))
        lines = pa.LargeBinaryArray.from_buffers(
            pa.large_binary(), len(self.ends), [None, offsets, pa.py_buffer(self.buffer)]
        )
        balanced = pc.equal(pc.count_substring(lines, "{"), pc.count_substring(lines, "}"))
        clean = (self.ends > self.starts) & (first == ord("{")) & (last == ord("}"))
        return np.flatnonzero(~(clean & balanced.to_numpy(zero_copy_only=False)))


def parse_files(datas: list[bytes]) -> tuple[pa.Table, Lines, np.ndarray, list, bool]:
    """The lines of several files (their uncompressed bytes) Arrow reads, as one table, with the line each
    row came from; the rejected lines as (file index, line, reason, text); and whether unknown fields had to
    be dropped (two files giving one unknown field different types).

    Clean lines take one multithreaded Arrow read over one buffer for all files. A line that is not a JSON
    object is found cheaply first (a cut line does not start with ``{``, end with ``}`` and balance its
    braces: only those go through ``json.loads``) and blanked out of the buffer; only if Arrow still refuses
    the rest is every line checked with ``json.loads``, and a line of the wrong type is found by halving.
    """
    lines = Lines.of(datas)
    rejected, good = [], np.ones(len(lines.ends), bool)

    def reject(i: int, reason: str, text: str) -> None:
        rejected.append((int(lines.file[i]), int(lines.number[i]), reason, text))
        lines.blank(i)
        good[i] = False

    for i in lines.suspicious():
        text = lines.text(i)
        if not text.strip():
            rejected.append((int(lines.file[i]), int(lines.number[i]), "blank line", ""))
            good[i] = False
        elif reason := _not_json(text):
            reject(i, reason, text.decode("utf-8", "replace"))
    dropped = False
    try:
        table = _read(lines.buffer) if good.any() else LINE.empty_table()
    except pa.ArrowInvalid:
        for i in np.flatnonzero(good):
            text = lines.text(i)
            if reason := _not_json(text):
                reject(i, reason, text.decode("utf-8", "replace"))
        remaining = np.flatnonzero(good)
        for position, reason in _misfits([lines.text(i) for i in remaining]):
            i = remaining[position]
            reject(i, reason, lines.text(i).decode("utf-8", "replace"))
        try:
            table = _read(lines.buffer) if good.any() else LINE.empty_table()
        except pa.ArrowInvalid:  # each line fits, but an unknown field has two types: drop unknowns
            table, dropped = _read(lines.buffer, "ignore"), True
    return table, lines, np.flatnonzero(good), sorted(rejected), dropped


def parse(lines: list[bytes]) -> tuple[pa.Table, list[int], list[tuple[int, str, str]]]:
    """The lines Arrow reads (as a table), their 1-based numbers, and the rejected ones with reasons."""
    table, read, rows, rejected, _ = parse_files([b"".join(line + b"\n" for line in lines)])
    return table, read.number[rows].tolist(), [(n, reason, text) for _, n, reason, text in rejected]


def _drift(table: pa.Table, index: np.ndarray, datas: list[bytes], dropped: bool) -> list[list[str]]:
    """Unknown top-level fields per file: where the field's column has a value (or, for a field only ever
    null, or when unknown fields had to be dropped, where its name appears in the file)."""
    found: list[set[str]] = [set() for _ in datas]
    names = set(table.schema.names) - KNOWN
    for name in names:
        column = table.column(name)
        if column.type == pa.null():
            continue
        for position in np.unique(index[pc.is_valid(column).to_numpy(zero_copy_only=False)]):
            found[position].add(name)
    unplaced = {n for n in names if table.column(n).type == pa.null()}
    if dropped:
        unplaced |= {key for data in datas for line in data.split(b"\n") for key in _keys(line)} - KNOWN
    for name in unplaced:
        quoted = json.dumps(name).encode()
        for position, data in enumerate(datas):
            if quoted in data:
                found[position].add(name)
    return [sorted(f) for f in found]


def _keys(line: bytes) -> set[str]:
    try:
        record = json.loads(line)
    except ValueError:
        return set()
    return set(record) if isinstance(record, dict) else set()


Check = Callable[[dict[str, pa.Table], list[str]], dict[str, dict[int, str]]]


def flatten_files(files: list[tuple[bytes, dict]], check: Check | None = None) -> Batch:
    """Flatten several files (their uncompressed bytes) at once; each file's ``meta`` (``_file``,
    ``_checksum``, ``_ingested_at``) tags its rows. One Arrow read and one set of vectorised steps for all
    files: the per-file cost of a client upload (~260 events) is then a few list operations, not an Arrow
    read and forty kernel calls.

    ``check`` (the quality rules) receives the columns the rules read, as ``visits``/``events``/``items``
    tables with ``_file_index`` and ``_line``, and the file names; it returns the lines breaking a rule
    (``{file: {line: reason}}``). Those lines are rejected whole (bronze never holds half a visit) before
    the flat tables are built, so no flat table is built and then filtered again."""
    datas = [data for data, _ in files]
    names = [meta["_file"] for _, meta in files]
    table, read, rows, rejected, dropped = parse_files(datas)
    index, numbers = read.file[rows], read.number[rows]  # per row: its file and line
    drift = _drift(table, index, datas, dropped)
    table = table.select(LINE.names).cast(LINE) if table.num_rows else LINE.empty_table()
    column = {name: table.column(name).combine_chunks() for name in LINE.names}
    device, geo = column["device"], column["geo"]
    nested = column["events"]
    parent = pc.list_parent_indices(nested).to_numpy()  # event -> its line's row
    event = pc.list_flatten(nested)
    nested_items = pc.struct_field(event, "items")
    item_parent = pc.list_parent_indices(nested_items).to_numpy()  # item -> its event's row
    item = pc.list_flatten(nested_items)
    sub = pc.struct_field

    keep = np.ones(table.num_rows, bool)
    if check and table.num_rows:
        views = {
            "visits": pa.table(
                {
                    "visit_id": column["visit_id"],
                    "user_id": column["user_id"],
                    "device_id": sub(device, "device_id"),
                    "platform": sub(device, "platform"),
                    "country": sub(geo, "country"),
                    "sent_at": column["sent_at"],
                    "received_at": column["received_at"],
                    "_file_index": index,
                    "_line": numbers,
                }
            ),
            "events": pa.table(
                {
                    "event_id": sub(event, "event_id"),
                    "event_type": sub(event, "type"),
                    "client_ts": sub(event, "ts"),
                    "_file_index": index[parent],
                    "_line": numbers[parent],
                }
            ),
            "items": pa.table(
                {
                    "sku": sub(item, "sku"),
                    "quantity": sub(item, "quantity"),
                    "price_usd": sub(item, "price_usd"),
                    "_file_index": index[parent[item_parent]],
                    "_line": numbers[parent[item_parent]],
                }
            ),
        }
        position = {name: i for i, name in enumerate(names)}
        broken = check(views, names)
        keys = [position[f] << 32 | n for f, lines in broken.items() for n in lines]
        keep = ~np.isin(index << 32 | numbers, np.array(keys, np.int64))
        rejected = sorted(
            rejected
            + [
                (position[f], n, reason, read.text(row).decode("utf-8", "replace"))
                for f, lines in broken.items()
                for n, reason in lines.items()
                for row in rows[(index == position[f]) & (numbers == n)]
            ]
        )

    everything = bool(keep.all())
    line_rows = None if everything else np.flatnonzero(keep)
    event_rows = None if everything else np.flatnonzero(keep[parent])
    item_rows = None if everything else np.flatnonzero(keep[parent[item_parent]])
    pick = lambda array, rows: array if rows is None else pc.take(array, pa.array(rows))  # noqa: E731
    event_line = parent if event_rows is None else parent[event_rows]  # per kept event, its line's row
    item_event = item_parent if item_rows is None else item_parent[item_rows]  # per kept item, its event
    line_of = lambda array, rows: pc.take(array, pa.array(rows))  # noqa: E731

    offset = pc.subtract(column["received_at"], column["sent_at"])  # server clock - device clock
    visits = pa.table(
        {
            "visit_id": pick(column["visit_id"], line_rows),
            "user_id": pick(column["user_id"], line_rows),
            "device_id": pick(sub(device, "device_id"), line_rows),
            "platform": pick(sub(device, "platform"), line_rows),
            "device_model": pick(sub(device, "model"), line_rows),
            "os_version": pick(sub(device, "os_version"), line_rows),
            "app_version": pick(sub(device, "app_version"), line_rows),
            "country": pick(sub(geo, "country"), line_rows),
            "region": pick(sub(geo, "region"), line_rows),
            "client_started_at": pick(column["client_started_at"], line_rows),
            "started_at": pick(pc.add(column["client_started_at"], offset), line_rows),
            "sent_at": pick(column["sent_at"], line_rows),
            "received_at": pick(column["received_at"], line_rows),
            "event_count": pick(pc.fill_null(pc.list_value_length(nested), 0), line_rows),
            "_line": pick(pa.array(numbers, pa.int64()), line_rows),
        }
    )
    ts = pick(sub(event, "ts"), event_rows)
    events = pa.table(
        {
            "event_id": pick(sub(event, "event_id"), event_rows),
            "visit_id": line_of(column["visit_id"], event_line),
            "user_id": line_of(column["user_id"], event_line),
            "device_id": line_of(sub(device, "device_id"), event_line),
            "event_type": pick(sub(event, "type"), event_rows),
            "client_ts": ts,
            "event_time": pc.add(ts, line_of(offset, event_line)),
            "screen": pick(sub(event, "screen"), event_rows),
            "level": pick(sub(event, "level"), event_rows),
            "level_result": pick(sub(event, "result"), event_rows),
            "transaction_id": pick(sub(event, "transaction_id"), event_rows),
            "received_at": line_of(column["received_at"], event_line),
            "_line": pa.array(numbers[event_line], pa.int64()),
        }
    )
    items = pa.table(
        {
            "event_id": line_of(sub(event, "event_id"), item_event),
            "item_index": pick(_positions(nested_items), item_rows),
            "sku": pick(sub(item, "sku"), item_rows),
            "category": pick(sub(item, "category"), item_rows),
            "quantity": pick(sub(item, "quantity"), item_rows),
            "price_usd": pick(sub(item, "price_usd"), item_rows),
            "received_at": line_of(column["received_at"], parent[item_event]),
            "_line": pa.array(numbers[parent[item_event]], pa.int64()),
        }
    )
    metas = [meta for _, meta in files]
    return Batch(
        _tag(visits, metas, index if line_rows is None else index[line_rows]),
        _tag(events, metas, index[event_line]),
        _tag(items, metas, index[parent[item_event]]),
        lines=dict(zip(names, read.counts, strict=True)),
        rejected=[(names[f], n, reason, text) for f, n, reason, text in rejected],
        drift=dict(zip(names, drift, strict=True)),
    )


def flatten(lines: list[bytes], meta: dict) -> Flat:
    """Flatten the lines of one file; ``meta`` (file name, checksum, ingested_at...) tags every row."""
    batch = flatten_files([(b"".join(line + b"\n" for line in lines), meta)])
    name = meta["_file"]
    return Flat(
        batch.visits.drop_columns("_file_index"),
        batch.events.drop_columns("_file_index"),
        batch.items.drop_columns("_file_index"),
        batch.lines[name],
        [(n, reason, text) for _, n, reason, text in batch.rejected],
        batch.drift[name],
    )


def _positions(lists: pa.ListArray) -> pa.Array:
    """0, 1, ... within each list, for every flattened element."""
    lengths = pc.fill_null(pc.list_value_length(lists), 0).to_numpy(zero_copy_only=False)
    total = int(lengths.sum())
    starts = np.repeat(np.cumsum(lengths) - lengths, lengths)
    return pa.array(np.arange(total) - starts, pa.int64())


def _tag(table: pa.Table, metas: list[dict], file_index: np.ndarray) -> pa.Table:
    """Each row gets its file's meta values (one take per field, not a Python list per row)."""
    positions = pa.array(file_index, pa.int64())
    for name in metas[0] if metas else _META_TYPES:
        values = pa.array([meta[name] for meta in metas], _META_TYPES[name])
        table = table.append_column(name, pc.take(values, positions))
    return table.append_column("_file_index", positions)


_META_TYPES = {"_file": pa.string(), "_checksum": pa.string(), "_ingested_at": pa.timestamp("us", tz="UTC")}

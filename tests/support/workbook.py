"""A small MOC-style workbook with every quirk (the rows the workbook tests write), and how to read back
what an import wrote.
"""

from __future__ import annotations

import struct
from datetime import datetime
from pathlib import Path

SPINS_HEADER = ["date", "userId", "country", "total_spins"]


OUTPUT_HEADERS = ["total revenue", "total purchases", "Average revenue per purchase", "Total Daily Revenue"]


INSTRUCTIONS = (
    "Please fill in the four columns on the left: total revenue and total purchases of the user in the hour, "
    "the average revenue per purchase, and the user's total revenue over the whole day. " * 3
)


D = datetime(2026, 3, 2)


def at(hour: int, minute: int = 0, second: int = 0, day: int = 0) -> datetime:
    return D.replace(day=D.day + day, hour=hour, minute=minute, second=second)


# (date, userId, country, total_spins, why the row is rejected or None)
SPINS_ROWS = [
    (at(10), "u1", "US", 10.0, None),  # partial rows of one key: summed
    (at(10), "u1", "US", 5.5, None),  # ... with a fractional count (a warning, kept)
    (at(10), "u2", "GB", 7.0, None),
    (at(11), "u1", "US", 3.0, None),
    (at(12), "u3", "DE", 2.25, None),
    (at(10), "u6", "JP", 1.0, None),  # u6 plays in two countries in one hour
    (at(10), "u6", "IN", 6.0, None),
    (at(9, day=1), "u1", "US", 8.0, None),  # the next day
    (at(13, 30), "u2", "GB", 4.0, "date is not on the hour"),
    (at(14), None, "FR", 1.0, "userId is empty"),
    (at(15), "u4", "XX", 3.0, "country not in the allowed set"),
    (at(16), "u5", "BR", -2.0, "total_spins is negative"),
    (at(17), "u5", "BR", "n/a", "total_spins is empty or not a number"),
    ("yesterday", "u5", "BR", 1.0, "date is empty or not a date-time"),
]


# (date, userId, revenue, transaction_id, why the row is rejected or None)
PURCHASE_ROWS = [
    (at(10, 15), "u1", "PriceInUSD=4.99", "t1", None),
    (at(10, 15), "u1", "PriceInUSD=4.99", "t1", "repeats the transaction_id"),  # identical duplicate
    (at(10, 45, 30), "u1", "PriceInUSD=1.99", "t2", None),
    (at(11, 59, 59), "u2", "PriceInUSD=9.99", "t3", None),  # u2 has no spins at 11: UNKNOWN, 0 spins
    (at(18, 20), "u7", "PriceInUSD=0.99", "t4", None),  # u7 never spins: UNKNOWN
    (at(10, 5), "u6", "PriceInUSD=2.5", "t5", None),  # u6's country with most spins that hour: IN
    (at(12, 30), "u3", "4,99", "t6", "revenue is empty or not 'PriceInUSD="),
    (at(9, 10, day=1), "u1", "PriceInUSD=19.99", "t7", None),
    (at(13), "u2", "PriceInUSD=1000", "t8", "revenue is outside [0, 500"),
    (at(13), "u2", "PriceInUSD=3.00", None, "transaction_id is empty"),
    (at(12, 10), "u3", "PriceInUSD=4.999", "t9", "revenue is empty or not 'PriceInUSD="),
]


ALLOWED = {"US", "GB", "DE", "FR", "BR", "JP", "IN", "CA", "AU", "MX"}


HOME = {"u1": "US", "u2": "GB", "u3": "DE", "u6": "IN", "u7": "MX"}  # for the cadences' source rows


def write_workbook(path: Path, spins=SPINS_ROWS, purchases=PURCHASE_ROWS, *, sheets=None, drop=None) -> Path:
    """A workbook in the hand-off format (openpyxl), optionally without a sheet or a column."""
    from openpyxl import Workbook

    book = Workbook()
    book.remove(book.active)
    content = {
        "Spins Hourly": [SPINS_HEADER + OUTPUT_HEADERS]
        + [[*row[:4], None, None, None, INSTRUCTIONS if i == 0 else None] for i, row in enumerate(spins)],
        "Purchases": [["date", "userId", "revenue", "transaction_id"]] + [list(row[:4]) for row in purchases],
    }
    for name in sheets or content:
        sheet = book.create_sheet(name)
        rows = content[name]
        keep = [i for i, h in enumerate(rows[0]) if h != drop] if rows else []
        for row in rows:
            sheet.append([row[i] for i in keep])
    book.save(path)
    return path


def compound_file(streams: dict[str, bytes]) -> bytes:
    """A minimal OLE compound file (v3, 512-byte sectors) holding ``streams`` (each padded to >= 4096 bytes),
    which is what Excel writes for a password-protected workbook: EncryptionInfo + EncryptedPackage."""
    sector, end, free, fat_sector = 512, 0xFFFFFFFE, 0xFFFFFFFF, 0xFFFFFFFD
    fat, body, entries, cursor = [fat_sector, end], b"", [], 2
    for name, data in streams.items():
        data = data.ljust(max(4096, -(-len(data) // sector) * sector), b"\0")
        count = len(data) // sector
        entries.append((name, cursor, len(data)))
        fat += [*range(cursor + 1, cursor + count), end]
        cursor, body = cursor + count, body + data

    def entry(name, kind, start, size, child=free, right=free):
        encoded = (name + "\0").encode("utf-16-le")
        return (
            encoded.ljust(64, b"\0")
            + struct.pack("<HBBIII", len(encoded), kind, 1, free, right, child)
            + b"\0" * 36
            + struct.pack("<IQ", start, size)
        )

    directory = entry("Root Entry", 5, end, 0, child=1) + b"".join(
        entry(name, 2, start, size, right=index + 2 if index + 1 < len(entries) else free)
        for index, (name, start, size) in enumerate(entries)
    )
    header = (
        b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1"
        + b"\0" * 16
        + struct.pack("<HHHHH", 0x3E, 3, 0xFFFE, 9, 6)
        + b"\0" * 6
        + struct.pack("<9I", 0, 1, 1, 0, 4096, end, 0, end, 0)
        + struct.pack("<I", 0)
        + struct.pack("<I", free) * 108
    )
    fat_bytes = b"".join(struct.pack("<I", v) for v in fat).ljust(sector, b"\xff")
    return header + fat_bytes + directory.ljust(sector, b"\0") + body


def lake_files(settings) -> list[str]:
    root = settings.data_dir / "lake"
    return sorted(str(p.relative_to(root)) for p in root.rglob("*") if p.is_file()) if root.exists() else []

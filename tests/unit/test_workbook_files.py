"""Workbooks refused before anything is written (bad files, bad ranges), and the fallback reader."""

from __future__ import annotations

import re
from pathlib import Path

import pandas as pd
import pytest

from tests.support.workbook import (
    compound_file,
    lake_files,
    write_workbook,
)


def _truncated(path: Path) -> None:
    data = write_workbook(path).read_bytes()
    path.write_bytes(data[: len(data) // 2])


BAD_FILES = {
    "not_excel": (lambda p: p.write_text("date,userId\n2026-03-02,u1\n"), "is not an Excel workbook"),
    "missing_sheet": (lambda p: write_workbook(p, sheets=["Spins Hourly"]), "has no sheet 'Purchases'"),
    "missing_column": (lambda p: write_workbook(p, drop="revenue"), "has no column 'revenue'"),
    "empty_sheet": (lambda p: write_workbook(p, spins=[]), "sheet 'Spins Hourly' of .* is empty"),
    "password": (
        lambda p: p.write_bytes(
            compound_file({"EncryptionInfo": b"\4\0\4\0", "EncryptedPackage": b"x" * 5000})
        ),
        "is password-protected",
    ),
    "truncated": (_truncated, "is truncated or damaged"),
    "missing_file": (lambda p: None, "does not exist"),
}


@pytest.mark.parametrize("case", BAD_FILES, ids=str)
def test_a_bad_file_fails_with_its_message_and_changes_nothing(case, cadence_env, tmp_path, capsys):
    from cadence.workbook.cli import main

    make, message = BAD_FILES[case]
    workbook = tmp_path / "uploads" / "moc.xlsx"
    workbook.parent.mkdir()
    make(workbook)
    assert main([str(workbook)]) == 2
    err = capsys.readouterr().err
    assert err.startswith("error: ")
    assert re.search(message, err), err
    assert lake_files(cadence_env) == []
    assert sorted(p.name for p in workbook.parent.iterdir()) == (
        [] if case == "missing_file" else ["moc.xlsx"]
    )
    assert not cadence_env.duckdb_path.exists()


BAD_RANGES = {
    "not_on_the_hour": (
        ["--start", "2026-03-02T00:30:00Z", "--end", "2026-03-03T00:00:00Z"],
        "is not on the hour",
    ),
    "end_before_start": (
        ["--start", "2026-03-03T00:00:00Z", "--end", "2026-03-02T00:00:00Z"],
        "is not after",
    ),
    "no_rows": (["--start", "2026-04-01T00:00:00Z", "--end", "2026-04-02T00:00:00Z"], "has no rows from"),
    "start_only": (["--start", "2026-03-02T00:00:00Z"], "needs both a start and an end"),
}


@pytest.mark.parametrize("case", BAD_RANGES, ids=str)
def test_a_bad_range_is_refused_and_changes_nothing(case, cadence_env, tmp_path, capsys):
    from cadence.workbook.cli import main

    options, message = BAD_RANGES[case]
    (tmp_path / "uploads").mkdir()
    workbook = write_workbook(tmp_path / "uploads" / "moc.xlsx")
    assert main([str(workbook), *options]) == 2
    assert message in capsys.readouterr().err
    assert lake_files(cadence_env) == [] and [p.name for p in workbook.parent.iterdir()] == ["moc.xlsx"]


def test_openpyxl_reads_what_calamine_reads(tmp_path, monkeypatch):
    """The fallback reader: same rows, same typed columns (openpyxl gives ints and None where calamine gives
    floats and '', and datetimes where calamine gives dates at midnight)."""
    from cadence.workbook import mapping, reader

    data = write_workbook(tmp_path / "moc.xlsx").read_bytes()
    fast = reader.read_workbook(data, "moc.xlsx")

    def broken(*args):
        raise RuntimeError("calamine cannot read this file")

    monkeypatch.setattr(reader, "_read_calamine", broken)
    slow = reader.read_workbook(data, "moc.xlsx")
    assert (fast.engine, slow.engine) == ("calamine", "openpyxl")
    for sheet, frame in (("spins", mapping.spins_frame), ("purchases", mapping.purchases_frame)):
        a, b = getattr(fast, sheet), getattr(slow, sheet)
        assert a.rows == b.rows and a.headers == b.headers and len(a) > 10
        pd.testing.assert_frame_equal(frame(a), frame(b))

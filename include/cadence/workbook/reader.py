"""Read the two sheets of a workbook as raw cell values, or refuse the file with a message that says why.

python-calamine reads (about 10x faster than openpyxl on 200k rows); openpyxl is the fallback when calamine
is missing or cannot parse an .xlsx that openpyxl can. Before either runs, the container is sniffed, so a
text file, a password-protected workbook (an encrypted OLE container) or a truncated archive gets its own
clear error instead of a parser's stack trace. Nothing here writes anything.
"""

from __future__ import annotations

import io
import zipfile
from collections.abc import Sequence
from dataclasses import dataclass, field

from cadence.workbook import WorkbookError

CFB_MAGIC = b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1"  # OLE compound file: legacy .xls, or an encrypted .xlsx
ZIP_MAGIC = b"PK\x03\x04"
# An encrypted OOXML workbook is a compound file holding the stream "EncryptedPackage" (MS-OFFCRYPTO).
ENCRYPTED_STREAM = "EncryptedPackage".encode("utf-16-le")
WORKBOOK_PARTS = ("xl/workbook.xml", "xl/workbook.bin")


@dataclass(frozen=True)
class SheetFormat:
    """One sheet of the hand-off format: its name, its input columns and the analyst's output columns."""

    name: str
    columns: dict[str, str]  # header in the workbook -> lowercase column name Cadence uses
    outputs: dict[str, str] = field(default_factory=dict)  # output header -> gold column (never read)


SPINS = SheetFormat(
    "Spins Hourly",
    {"date": "app_hour", "userId": "user_id", "country": "country", "total_spins": "total_spins"},
    outputs={
        "total revenue": "total_revenue_hourly",
        "total purchases": "total_purchases_hourly",
        "Average revenue per purchase": "avg_revenue_per_purchase_hourly",
        "Total Daily Revenue": "total_revenue_per_user_daily",
    },
)
PURCHASES = SheetFormat(
    "Purchases",
    {"date": "purchased_at", "userId": "user_id", "revenue": "revenue", "transaction_id": "transaction_id"},
)


@dataclass
class Sheet:
    """The data rows of one sheet: raw cell values per column, and the Excel row number of each row."""

    name: str
    columns: dict[str, list]  # lowercase column name -> raw values (str, float, datetime, '' or None)
    rows: Sequence[int]  # Excel row number (1-based) of each data row
    headers: dict[str, str]  # lowercase column name -> header text as written (outputs included)

    def __len__(self) -> int:
        return len(self.rows)


@dataclass
class RawWorkbook:
    name: str
    engine: str  # which reader read it: "calamine" or "openpyxl"
    spins: Sheet
    purchases: Sheet


def _key(header: object) -> str:
    return " ".join(str(header).split()).lower() if header not in (None, "") else ""


def _is_blank(cell: object) -> bool:
    return cell is None or cell == "" or (type(cell) is str and not cell.strip())


def _sniff(data: bytes, name: str) -> str:
    """The container kind ("xlsx" or "xls"), or a WorkbookError for anything that cannot be a workbook."""
    if not data:
        raise WorkbookError(f"{name} is empty (0 bytes): not an Excel workbook")
    if data.startswith(CFB_MAGIC):
        if ENCRYPTED_STREAM in data:
            raise WorkbookError(
                f"{name} is password-protected (an encrypted workbook): save it without a password "
                "(File > Info > Protect Workbook > Encrypt with Password, clear it) and import that copy"
            )
        return "xls"
    if data.startswith(ZIP_MAGIC):
        try:
            with zipfile.ZipFile(io.BytesIO(data)) as archive:
                parts = set(archive.namelist())
        except zipfile.BadZipFile as error:
            raise WorkbookError(
                f"{name} is truncated or damaged ({error}): its zip archive is incomplete; copy it again"
            ) from None
        if not parts & set(WORKBOOK_PARTS):
            raise WorkbookError(f"{name} is a zip archive but not an Excel workbook (it has no xl/workbook)")
        return "xlsx"
    start = data[:16]
    looks = "text" if all(32 <= b < 127 or b in b"\t\r\n" for b in start) else "binary data"
    raise WorkbookError(
        f"{name} is not an Excel workbook (.xlsx, .xlsm or .xls): it starts with {looks} {start!r}"
    )


def _find_sheet(names: list[str], wanted: str, workbook: str) -> str:
    if wanted in names:
        return wanted
    loose = {_key(n): n for n in names}
    if _key(wanted) in loose:
        return loose[_key(wanted)]
    raise WorkbookError(
        f"{workbook} has no sheet {wanted!r} (its sheets: {', '.join(repr(n) for n in names) or 'none'})"
    )


def _columns(grid: list, first_row: int, fmt: SheetFormat, workbook: str, max_rows: int) -> Sheet:
    """Pick the format's columns out of a sheet's grid (header on its first used row)."""
    where = f"sheet {fmt.name!r} of {workbook}"
    if not grid or not any(_key(cell) for cell in grid[0]):
        raise WorkbookError(f"{where} is empty: it needs a header row ({', '.join(fmt.columns)}) and data")
    header = [_key(cell) for cell in grid[0]]
    positions: dict[str, int] = {}
    for index, key in enumerate(header):
        if not key:
            continue
        if key in positions:
            raise WorkbookError(f"{where} has the column {grid[0][index]!r} twice; keep one")
        positions[key] = index
    missing = [name for name in fmt.columns if _key(name) not in positions]
    if missing:
        found = ", ".join(repr(str(cell)) for cell in grid[0] if _key(cell)) or "nothing"
        raise WorkbookError(
            f"{where} has no column {', '.join(repr(m) for m in missing)} (its header row has: {found})"
        )
    data = grid[1:]
    if len(data) > max_rows:
        raise WorkbookError(
            f"{where} has {len(data)} rows, more than the {max_rows} one import reads; split the workbook "
            "or raise CADENCE_WORKBOOK__MAX_ROWS"
        )
    indexes = {target: positions[_key(source)] for source, target in fmt.columns.items()}
    columns = {target: [row[index] for row in data] for target, index in indexes.items()}
    # Formatted but empty rows (common below the data) are not rows: every input cell is blank. Only rows
    # whose first cell is blank can be: an inline test finds those, off the 200k-row hot path.
    values = list(columns.values())
    candidates = [i for i, cell in enumerate(values[0]) if cell is None or cell == "" or type(cell) is str]
    blank = {i for i in candidates if all(_is_blank(column[i]) for column in values)}
    keep = [i for i in range(len(data)) if i not in blank] if blank else range(len(data))
    if not keep:
        raise WorkbookError(f"{where} is empty: it has a header row but no data rows")
    if blank:
        columns = {name: [column[i] for i in keep] for name, column in columns.items()}
    headers = {
        target: str(grid[0][positions[_key(source)]]).strip() for source, target in fmt.columns.items()
    }
    headers |= {
        target: str(grid[0][positions[_key(source)]]).strip() if _key(source) in positions else source
        for source, target in fmt.outputs.items()
    }
    rows = range(first_row + 1, first_row + 1 + len(data)) if not blank else [first_row + 1 + i for i in keep]
    return Sheet(fmt.name, columns, rows, headers)


def _read_calamine(data: bytes, name: str, max_rows: int) -> tuple[list, list[int]]:
    from python_calamine import CalamineWorkbook

    book = CalamineWorkbook.from_filelike(io.BytesIO(data))
    grids, first_rows = [], []
    for fmt in (SPINS, PURCHASES):
        sheet = book.get_sheet_by_name(_find_sheet(book.sheet_names, fmt.name, name))
        if sheet.height > max_rows + 1:  # refuse before converting millions of cells to Python
            raise WorkbookError(
                f"sheet {fmt.name!r} of {name} has {sheet.height - 1} rows, more than the {max_rows} one "
                "import reads; split the workbook or raise CADENCE_WORKBOOK__MAX_ROWS"
            )
        grids.append(sheet.to_python())
        first_rows.append((sheet.start or (0, 0))[0] + 1)  # 0-based start of the used area
    return grids, first_rows


def _read_openpyxl(data: bytes, name: str, max_rows: int) -> tuple[list, list[int]]:
    from openpyxl import load_workbook

    book = load_workbook(io.BytesIO(data), read_only=True, data_only=True)
    try:
        grids, first_rows = [], []
        for fmt in (SPINS, PURCHASES):
            sheet = book[_find_sheet(book.sheetnames, fmt.name, name)]
            grid, first = [], 1
            for number, row in enumerate(sheet.iter_rows(values_only=True), start=1):
                if not grid and not any(_key(cell) for cell in row):
                    first = number + 1  # skip empty rows above the header, as calamine does
                    continue
                grid.append(list(row))
                if len(grid) > max_rows + 1:
                    break
            width = max(map(len, grid), default=0)  # openpyxl's rows can be ragged; calamine's never are
            grid = [row + [None] * (width - len(row)) for row in grid]
            grids.append(grid)
            first_rows.append(first)
        return grids, first_rows
    finally:
        book.close()


def read_workbook(data: bytes, name: str, max_rows: int = 2_000_000) -> RawWorkbook:
    """Both sheets of the workbook in ``data`` (``name`` is only for messages)."""
    kind = _sniff(data, name)
    engine = "calamine"
    try:
        grids, first_rows = _read_calamine(data, name, max_rows)
    except WorkbookError:
        raise
    except ImportError:
        engine = "openpyxl"
        grids, first_rows = _read_openpyxl(data, name, max_rows)
    except Exception as error:
        if type(error).__name__ == "PasswordError":
            raise WorkbookError(
                f"{name} is password-protected: save it without a password and retry"
            ) from None
        if kind == "xls":
            raise WorkbookError(f"{name} could not be read as a legacy .xls workbook: {error}") from None
        try:
            engine = "openpyxl"
            grids, first_rows = _read_openpyxl(data, name, max_rows)
        except WorkbookError:
            raise
        except Exception:
            raise WorkbookError(
                f"{name} is damaged or truncated and cannot be read ({type(error).__name__}: {error}); "
                "open and save it again in Excel, or copy it again"
            ) from None
    spins = _columns(grids[0], first_rows[0], SPINS, name, max_rows)
    purchases = _columns(grids[1], first_rows[1], PURCHASES, name, max_rows)
    return RawWorkbook(name, engine, spins, purchases)

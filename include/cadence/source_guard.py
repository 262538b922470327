"""Refuse to read a source database that is not there, instead of reading an empty one in its place.

SQLite creates a missing database file on connect, so a renamed or unmounted source would be re-created
empty and an extract would fail later with ``no such table`` (or, with the table, land nothing). The
guard names the missing file and what to do; it is checked before every extract.
"""

from __future__ import annotations

from pathlib import Path
from urllib.parse import unquote


class SourceUnavailableError(FileNotFoundError):
    """The source database named by the connection does not exist."""


def sqlite_file(hook) -> Path | None:
    """The database file of a SQLite hook (None for other databases and in-memory SQLite)."""
    if getattr(hook, "conn_type", None) != "sqlite":
        return None
    uri = hook.get_uri()  # sqlite:///<path>?<params>, the path absolute (//abs) or relative
    path = unquote(uri.removeprefix("sqlite:///").split("?", 1)[0])
    return None if not path or path == ":memory:" else Path(path)


def require_source(hook, conn_id: str) -> None:
    """Raise :class:`SourceUnavailableError` naming the file when the SQLite source database is missing."""
    path = sqlite_file(hook)
    if path is not None and not path.is_file():
        raise SourceUnavailableError(
            f"source database {path} (connection {conn_id!r}) does not exist; restore the file or point "
            f"the connection at the right one. It is not created here: an empty source would land nothing."
        )

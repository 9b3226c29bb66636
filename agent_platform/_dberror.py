"""One-line descriptions of database failures for :class:`StorageError` messages.

SQLAlchemy's own message spans several lines and repeats the SQL and its parameters (a whole
session payload, possibly); the CLI prints errors as one line, and payloads do not belong in
error text. This keeps the driver's error class and message, on one line.
"""

from __future__ import annotations

import sqlalchemy as sa

from agent_platform.errors import StorageError

__all__ = ["describe", "storage_error"]

_MAX_CHARS = 300


def describe(exc: BaseException) -> str:
    """``DriverError: message`` of ``exc`` on one line (the DBAPI error when there is one)."""
    cause = exc.orig if isinstance(exc, sa.exc.DBAPIError) and exc.orig is not None else exc
    text = " ".join(str(cause).split())
    if len(text) > _MAX_CHARS:
        text = text[: _MAX_CHARS - 3] + "..."
    return f"{type(cause).__name__}: {text}" if text else type(cause).__name__


def storage_error(what: str, exc: BaseException) -> StorageError:
    """A :class:`StorageError` saying ``what`` failed and why; raise it ``from exc``."""
    return StorageError(f"{what} failed: {describe(exc)}")

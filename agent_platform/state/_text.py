"""Whether a name can be stored: the one check for ledger names, event types, consumers and
session ids.

A Python ``str`` may hold what no database column can: a lone surrogate (what Python keeps of
bytes that were not valid UTF-8) cannot be encoded, and PostgreSQL's text types refuse NUL.
Such a name is bad input, refused before any I/O in one line, instead of a driver traceback
at the first statement that carries it.
"""

from __future__ import annotations

__all__ = ["unstorable"]


def unstorable(text: str) -> str | None:
    """Why ``text`` cannot be stored (naming the first bad character), or None when it can."""
    try:
        text.encode("utf-8")
    except UnicodeEncodeError as exc:
        return f"holds a lone surrogate at index {exc.start}, which is not UTF-8"
    index = text.find("\x00")
    if index >= 0:
        return f"holds a NUL character at index {index}"
    return None

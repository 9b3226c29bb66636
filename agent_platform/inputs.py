"""Bounded reading of files a user hands us: configs, policies, scenarios, lockfiles, contracts.

Every input file goes through :func:`read_text_bounded` before any parser sees it, so a device
(``/dev/zero``), a FIFO, a directory, a file of gigabytes or bytes that are not UTF-8 become one
:class:`~agent_platform.errors.InputFileError` line naming the file and what is allowed, in
bounded time and memory. :func:`clip` keeps a value shown in an error message short, however
large the value is.
"""

from __future__ import annotations

import os
import re
import reprlib
import stat
from pathlib import Path
from typing import Any

from agent_platform.errors import InputFileError

__all__ = [
    "DEFAULT_LIMIT_BYTES",
    "JSON_MAX_DEPTH",
    "DuplicateKeyError",
    "clip",
    "json_depth",
    "read_text_bounded",
    "shorten",
    "unique_object",
]

DEFAULT_LIMIT_BYTES = 4 * 1024 * 1024
"""What a config, policy, scenario or contract may weigh (the biggest shipped one is ~40 KB)."""

_CLIP = 80


def clip(value: object, limit: int = _CLIP) -> str:
    """``repr(value)`` cut to ``limit`` characters, for error messages.

    Only the first ``limit * 4`` characters of a string are ever rendered, and containers are
    rendered a few items and levels deep, so a value of megabytes costs no more than a short
    one. An integer too long to print (Python refuses past 4,300 digits) shows its size.
    """
    if isinstance(value, str | bytes) and len(value) > limit * 4:
        value = value[: limit * 4]
    try:
        shown = _bounded_repr(limit).repr(value)
    except ValueError:
        shown = f"<{type(value).__name__} too large to show>"
    return shown if len(shown) <= limit else shown[: limit - 3] + "..."


def _bounded_repr(limit: int) -> reprlib.Repr:
    shape = reprlib.Repr()
    shape.maxstring = shape.maxother = shape.maxlong = limit * 4
    shape.maxlevel = 3
    shape.maxdict = shape.maxlist = shape.maxtuple = shape.maxset = shape.maxfrozenset = 8
    return shape


def shorten(text: str, limit: int = 200) -> str:
    """``text`` on one line (runs of whitespace become one space), cut to ``limit`` characters.

    For causes quoted from elsewhere (a driver's message, a parser's complaint) that go into a
    one-line error without quotes around them.
    """
    one_line = " ".join(text[: limit * 4].split())
    return one_line if len(one_line) <= limit else one_line[: limit - 3] + "..."


def read_text_bounded(path: Path, *, limit_bytes: int = DEFAULT_LIMIT_BYTES, what: str) -> str:
    """The UTF-8 text of the regular file ``path``, at most ``limit_bytes`` long.

    Args:
        path: the file to read.
        limit_bytes: the largest size accepted.
        what: what the file is for the user ("config file", "lockfile"), used in errors.

    Raises:
        InputFileError: the file is missing, not a regular file, larger than the limit,
            unreadable, or not UTF-8 (the message names the byte offset).
    """
    try:
        info = os.stat(path)
    except FileNotFoundError:
        raise InputFileError(path, f"{what} not found") from None
    except OSError as exc:
        raise InputFileError(path, f"{what} unreadable: {exc.strerror or exc}") from exc
    if not stat.S_ISREG(info.st_mode):
        raise InputFileError(path, f"{what} must be a regular file, not {_kind(info.st_mode)}")
    if info.st_size > limit_bytes:
        raise InputFileError(
            path, f"{what} is {info.st_size:,} bytes; allowed: at most {limit_bytes:,}"
        )
    try:
        with open(path, "rb") as handle:
            data = handle.read(limit_bytes + 1)
    except OSError as exc:
        raise InputFileError(path, f"{what} unreadable: {exc.strerror or exc}") from exc
    if len(data) > limit_bytes:
        raise InputFileError(path, f"{what} grew past {limit_bytes:,} bytes while being read")
    try:
        return data.decode("utf-8")
    except UnicodeDecodeError as exc:
        raise InputFileError(
            path, f"{what} is not UTF-8 (byte {exc.start}: {clip(data[exc.start : exc.start + 4])})"
        ) from None


def _kind(mode: int) -> str:
    if stat.S_ISDIR(mode):
        return "a directory"
    if stat.S_ISCHR(mode) or stat.S_ISBLK(mode):
        return "a device"
    if stat.S_ISFIFO(mode):
        return "a pipe"
    if stat.S_ISSOCK(mode):
        return "a socket"
    return "a special file"


JSON_MAX_DEPTH = 64
"""How deeply a JSON document we read may nest (the contract nests 5 levels)."""

_JSON_STRING = re.compile(r'"[^"\\]*(?:\\.[^"\\]*)*"', re.DOTALL)
_NOT_BRACKET = re.compile(r"[^\[\]{}]+")


def json_depth(text: str, stop_at: int = JSON_MAX_DEPTH) -> int:
    """How deeply the arrays and objects of the JSON ``text`` nest (brackets in strings do not
    count), counting no further than ``stop_at + 1``.

    Measured on the text, before :func:`json.loads` recurses into it: the decoder is recursive,
    so a document of a million ``[`` would otherwise end in a RecursionError.
    """
    brackets = _NOT_BRACKET.sub("", _JSON_STRING.sub("", text))
    depth = deepest = 0
    for char in brackets:
        depth += 1 if char in "[{" else -1
        if depth > deepest:
            deepest = depth
            if deepest > stop_at:
                break
    return deepest


class DuplicateKeyError(ValueError):
    """A JSON object names the same key twice (the decoder would keep only the last)."""

    def __init__(self, key: str) -> None:
        self.key = key
        super().__init__(f"duplicate key {clip(key)}")


def unique_object(pairs: list[tuple[str, Any]]) -> dict[str, Any]:
    """``object_pairs_hook`` for :func:`json.loads` that refuses duplicate keys."""
    result: dict[str, Any] = {}
    for key, value in pairs:
        if key in result:
            raise DuplicateKeyError(key)
        result[key] = value
    return result

"""Signed ledger checkpoints and the append-only files that keep them, outside the database.

A checkpoint says "ledger L of database D had head seq N with hash H at time T", signed with
the checkpoint key (:mod:`.keys`). Each database (its *scope*: see :func:`database_scope`) has
one JSON-lines file in the checkpoint directory, one checkpoint per line. The files are only
ever opened for appending (``O_APPEND``), one ``write`` per line followed by ``fsync``, so
concurrent writers never interleave a line and a line once written is never rewritten by us.
What protects them from people is the file system: the directory is created 0700 and the files
0600, owned by the platform's user, not the database's; ``chattr +a`` or an outside witness
(:class:`~.anchor.LedgerAnchor`'s ``witness``) make them append-only for root too.

Reading is incremental: :class:`CheckpointLog` remembers how far it has read each file and
parses only the lines added since, so a process that checks the newest checkpoint after every
thousand appends does not re-read the whole file.
"""

from __future__ import annotations

import hashlib
import json
import os
import re
import threading
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

from sqlalchemy.engine import Engine

from agent_platform.canonical import canonical_json

__all__ = ["Checkpoint", "CheckpointLog", "LogLine", "database_scope"]

_DOMAIN = b"agent_platform ledger checkpoint v1\n"
_VERSION = 1


def database_scope(engine: Engine) -> str:
    """The identity of ``engine``'s database that checkpoints are filed under.

    PostgreSQL: ``postgresql://host:port/name`` (no user, no password); SQLite: the file's
    absolute path. Two URLs that reach one database by different host names are two scopes;
    ``AGENT_PLATFORM_LEDGER_SCOPE`` names the scope explicitly for such deployments.
    """
    url = engine.url
    backend = url.get_backend_name()
    if backend == "sqlite":
        database = url.database or ":memory:"
        if database != ":memory:":
            database = str(Path(database).resolve())
        return f"sqlite:///{database}"
    return f"{backend}://{url.host or 'localhost'}:{url.port or 5432}/{url.database or ''}"


@dataclass(frozen=True)
class Checkpoint:
    """One signed head of one ledger. ``line`` is where it sits in its file (not signed)."""

    scope: str
    ledger: str
    seq: int
    hash: str
    time: str
    key_id: str
    signature: str
    line: int = field(default=0, compare=False)

    def signed_fields(self) -> dict[str, Any]:
        return {
            "v": _VERSION,
            "scope": self.scope,
            "ledger": self.ledger,
            "seq": self.seq,
            "hash": self.hash,
            "time": self.time,
            "key_id": self.key_id,
        }

    def message(self) -> bytes:
        """The bytes the signature covers: a fixed domain line, then canonical JSON."""
        return _DOMAIN + canonical_json(self.signed_fields())

    def to_line(self) -> bytes:
        return canonical_json({**self.signed_fields(), "signature": self.signature}) + b"\n"

    def as_dict(self) -> dict[str, Any]:
        return asdict(self)


@dataclass(frozen=True)
class LogLine:
    """A line of a checkpoint file that is not a checkpoint (torn, edited or foreign)."""

    line: int
    problem: str


def _parse(raw: bytes, line: int) -> Checkpoint | LogLine:
    try:
        data = json.loads(raw)
        if not isinstance(data, dict) or data.get("v") != _VERSION:
            return LogLine(line, "not a version-1 checkpoint")
        seq = data["seq"]
        if isinstance(seq, bool) or not isinstance(seq, int) or seq < 1:
            return LogLine(line, f"seq {seq!r} is not a positive int")
        fields = ("scope", "ledger", "hash", "time", "key_id", "signature")
        text = {name: data[name] for name in fields}
        if not all(isinstance(value, str) for value in text.values()):
            return LogLine(line, "a field that must be text is not")
        return Checkpoint(seq=seq, line=line, **text)
    except (ValueError, KeyError) as exc:
        return LogLine(line, f"unreadable ({type(exc).__name__}: {str(exc)[:60]})")


@dataclass
class _FileIndex:
    offset: int = 0
    lines: int = 0
    by_ledger: dict[str, list[Checkpoint]] = field(default_factory=dict)
    unreadable: list[LogLine] = field(default_factory=list)


class CheckpointLog:
    """The checkpoint files in ``directory``, one per database scope. Thread-safe.

    Checkpoints are indexed by ledger as they are read, so looking up one ledger among the
    checkpoints of a hundred thousand runs does not walk them all.
    """

    def __init__(self, directory: Path) -> None:
        self.directory = directory
        self._lock = threading.Lock()
        self._index: dict[Path, _FileIndex] = {}

    def path_for(self, scope: str) -> Path:
        """The file of ``scope``: readable name, plus a hash so distinct scopes never share."""
        readable = re.sub(r"[^A-Za-z0-9]+", "-", scope).strip("-")[-80:]
        digest = hashlib.sha256(scope.encode("utf-8")).hexdigest()[:12]
        return self.directory / f"{readable}-{digest}.jsonl"

    def append(self, checkpoint: Checkpoint) -> None:
        """Write ``checkpoint`` as one line at the end of its scope's file, durably."""
        self.directory.mkdir(mode=0o700, parents=True, exist_ok=True)
        path = self.path_for(checkpoint.scope)
        fd = os.open(path, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o600)
        try:
            os.write(fd, checkpoint.to_line())
            os.fsync(fd)
        finally:
            os.close(fd)

    def checkpoints(self, scope: str, ledger: str) -> list[Checkpoint]:
        """The checkpoints of ``ledger`` in ``scope``'s file, in file order."""
        with self._lock:
            return list(self._current(scope).by_ledger.get(ledger, ()))

    def ledgers(self, scope: str) -> list[str]:
        """Every ledger with a checkpoint in ``scope``'s file, sorted."""
        with self._lock:
            return sorted(self._current(scope).by_ledger)

    def unreadable(self, scope: str) -> list[LogLine]:
        """The lines of ``scope``'s file that are not checkpoints."""
        with self._lock:
            return list(self._current(scope).unreadable)

    def _current(self, scope: str) -> _FileIndex:
        path = self.path_for(scope)
        index = self._index.setdefault(path, _FileIndex())
        self._catch_up(path, index)
        return index

    def _catch_up(self, path: Path, index: _FileIndex) -> None:
        """Parse the complete lines added to ``path`` since the last read."""
        try:
            size = path.stat().st_size
        except FileNotFoundError:
            size = 0
        if size < index.offset:  # the file shrank: someone rewrote it; start over
            index.offset, index.lines = 0, 0
            index.by_ledger.clear()
            index.unreadable.clear()
        if size == index.offset:
            return
        with open(path, "rb") as handle:
            handle.seek(index.offset)
            data = handle.read(size - index.offset)
        complete = data[: data.rfind(b"\n") + 1]
        for raw in complete.splitlines():
            index.lines += 1
            parsed = _parse(raw, index.lines)
            if isinstance(parsed, Checkpoint):
                index.by_ledger.setdefault(parsed.ledger, []).append(parsed)
            else:
                index.unreadable.append(parsed)
        index.offset += len(complete)

"""Where a ledger's head is anchored outside its database: the key, the files, the policy.

Verification inside the database compares the chain with ``ledger_heads``, a row in the same
database: whoever can rewrite the entries can rewrite that row too. A :class:`LedgerAnchor`
keeps signed checkpoints of the head (:mod:`.checkpoints`) in files under the data folder,
signed with a key that is not in the database (:mod:`.keys`), the way Certificate
Transparency logs publish signed tree heads. What verification concludes from them lives in
:mod:`.anchoring`.

When checkpoints are taken:

* every ``every`` entries (default 1,000): the append whose new head crosses a multiple of
  ``every`` signs it, in the process that appended (about one signature and one ``fsync`` per
  thousand appends; the append path itself only compares two integers);
* on demand: :meth:`agent_platform.state.ledger_replay.Ledger.checkpoint`, which the
  ``agent-platform ledger checkpoint`` command calls and which a run calls when it ends.

Configuration (environment, read by :meth:`LedgerAnchor.from_env`):

* ``AGENT_PLATFORM_LEDGER_KEY``: the PEM key file. Unset: ``<data dir>/ledger-checkpoint-key.pem``,
  generated (mode 0600) the first time a checkpoint is signed, and logged as such;
* ``AGENT_PLATFORM_LEDGER_CHECKPOINTS``: the checkpoint directory (``<data dir>/ledger-checkpoints``);
* ``AGENT_PLATFORM_LEDGER_CHECKPOINT_EVERY``: the interval in entries; 0 signs only on demand;
* ``AGENT_PLATFORM_LEDGER_SCOPE``: the name the database is filed under (default: from its URL).
"""

from __future__ import annotations

import logging
import os
import threading
from collections.abc import Callable, Mapping
from dataclasses import dataclass, replace
from datetime import UTC, datetime
from pathlib import Path

from sqlalchemy.engine import Engine

from agent_platform.config import Settings
from agent_platform.errors import ConfigError
from agent_platform.state.ledger.checkpoints import (
    Checkpoint,
    CheckpointLog,
    LogLine,
    database_scope,
)
from agent_platform.state.ledger.keys import CheckpointKey, generate_key, load_key

__all__ = [
    "CHECKPOINTS_ENV",
    "DEFAULT_EVERY",
    "EVERY_ENV",
    "KEY_ENV",
    "SCOPE_ENV",
    "AnchorView",
    "LedgerAnchor",
    "Problem",
    "Witness",
]

KEY_ENV = "AGENT_PLATFORM_LEDGER_KEY"
CHECKPOINTS_ENV = "AGENT_PLATFORM_LEDGER_CHECKPOINTS"
EVERY_ENV = "AGENT_PLATFORM_LEDGER_CHECKPOINT_EVERY"
SCOPE_ENV = "AGENT_PLATFORM_LEDGER_SCOPE"
DEFAULT_EVERY = 1000
KEY_FILE = "ledger-checkpoint-key.pem"
CHECKPOINT_DIR = "ledger-checkpoints"

Witness = Callable[[Checkpoint], object]
"""Hears every checkpoint once it is on disk (publish it elsewhere); its errors are logged."""

_log = logging.getLogger(__name__)


@dataclass(frozen=True)
class Problem:
    """A checkpoint that cannot be trusted: ``kind`` is ``checkpoint_invalid``,
    ``key_mismatch``, ``key_missing`` or ``checkpoint_unreadable``."""

    kind: str
    text: str
    seq: int | None = None


@dataclass(frozen=True)
class AnchorView:
    """What the checkpoint files hold for one ledger: the checkpoints whose signature holds
    (ordered by seq), and the problems with the others."""

    ledger: str
    scope: str
    checkpoints: tuple[Checkpoint, ...]
    problems: tuple[Problem, ...]
    key_id: str | None

    @property
    def newest(self) -> Checkpoint | None:
        return self.checkpoints[-1] if self.checkpoints else None


class LedgerAnchor:
    """Signs ledger heads and reads them back, for every ledger of every database it meets.

    Args:
        log: the checkpoint files.
        key_path: the key file.
        may_generate: create the key at ``key_path`` when it is missing (the default path);
            False for a configured path, where a missing file is a mistake to report.
        every: take a checkpoint whenever an append crosses a multiple of this (0: never).
        scope: file every database under this name instead of one derived from its URL.
        witness: also hand each checkpoint to this callable (an outside witness).
    """

    def __init__(
        self,
        log: CheckpointLog,
        key_path: Path,
        *,
        may_generate: bool = True,
        every: int = DEFAULT_EVERY,
        scope: str | None = None,
        witness: Witness | None = None,
    ) -> None:
        if isinstance(every, bool) or not isinstance(every, int) or every < 0:
            raise ConfigError("LedgerAnchor", "every", every, "an int >= 0 (0: on demand only)")
        self.log = log
        self.key_path = key_path
        self.every = every
        self.witness = witness
        self.generated_key: Path | None = None
        self._may_generate = may_generate
        self._scope = scope
        self._key: CheckpointKey | None = None
        self._lock = threading.Lock()
        self._trusted: dict[tuple[str, int, str], bool] = {}

    @classmethod
    def from_env(cls, environ: Mapping[str, str] | None = None) -> LedgerAnchor:
        """The anchor the environment configures (see the module docstring)."""
        env = os.environ if environ is None else environ
        data_dir = Settings.from_env(env).data_dir
        configured = env.get(KEY_ENV) or None
        directory = env.get(CHECKPOINTS_ENV) or str(data_dir / CHECKPOINT_DIR)
        return cls(
            CheckpointLog(Path(directory)),
            Path(configured) if configured else data_dir / KEY_FILE,
            may_generate=configured is None,
            every=_every_from(env),
            scope=env.get(SCOPE_ENV) or None,
        )

    def scope_for(self, engine: Engine) -> str:
        """The scope ``engine``'s checkpoints are filed under."""
        return self._scope or database_scope(engine)

    def due(self, old_seq: int, new_seq: int) -> bool:
        """True when an append that moved the head from ``old_seq`` to ``new_seq`` should
        be followed by a checkpoint (it crossed a multiple of ``every``)."""
        return self.every > 0 and old_seq // self.every != new_seq // self.every

    def signing_key(self) -> CheckpointKey:
        """The key, loaded once; generated first when allowed and missing (and logged)."""
        with self._lock:
            if self._key is None:
                if self._may_generate and not self.key_path.exists():
                    self._key = generate_key(self.key_path)
                    self.generated_key = self.key_path
                    _log.warning(
                        "generated a new ledger checkpoint key at %s (set %s to use your own; "
                        "keep it where the database's users cannot read it)",
                        self.key_path,
                        KEY_ENV,
                    )
                else:
                    self._key = self._load()
            return self._key

    def verifying_key(self) -> CheckpointKey | None:
        """The key if there is one; None when none was configured or generated yet."""
        with self._lock:
            if self._key is None:
                if self._may_generate and not self.key_path.exists():
                    return None
                self._key = self._load()
            return self._key

    def _load(self) -> CheckpointKey:
        if not self._may_generate and not self.key_path.exists():
            raise ConfigError(
                "environment", KEY_ENV, str(self.key_path), "an existing ed25519 PEM key file"
            )
        return load_key(self.key_path)

    def sign(self, scope: str, ledger: str, head: tuple[int, str]) -> Checkpoint:
        """Sign ``head`` of ``ledger``, append it to the scope's file, tell the witness."""
        key = self.signing_key()
        unsigned = Checkpoint(
            scope=scope,
            ledger=ledger,
            seq=head[0],
            hash=head[1],
            time=datetime.now(UTC).isoformat(timespec="microseconds"),
            key_id=key.key_id,
            signature="",
        )
        checkpoint = replace(unsigned, signature=key.sign(unsigned.message()))
        self.log.append(checkpoint)
        if self.witness is not None:
            try:
                self.witness(checkpoint)
            except Exception:  # the checkpoint is on disk; a witness outage must not undo it
                _log.exception("the ledger checkpoint witness failed for %s", ledger)
        return checkpoint

    def view(self, scope: str, ledger: str) -> AnchorView:
        """The trusted checkpoints of ``ledger`` and the problems with the rest."""
        mine = self.log.checkpoints(scope, ledger)
        key = self.verifying_key() if mine else None
        trusted: list[Checkpoint] = []
        problems = [_unreadable(line) for line in self.log.unreadable(scope)]
        for checkpoint in mine:
            problem = self._problem(checkpoint, key, scope)
            if problem is None:
                trusted.append(checkpoint)
            else:
                problems.append(problem)
        trusted.sort(key=lambda c: (c.seq, c.line))
        key_id = key.key_id if key is not None else None
        return AnchorView(ledger, scope, tuple(trusted), tuple(problems), key_id)

    def ledgers(self, scope: str) -> list[str]:
        """Every ledger name that has a checkpoint in ``scope``'s file, sorted."""
        return self.log.ledgers(scope)

    def _problem(
        self, checkpoint: Checkpoint, key: CheckpointKey | None, scope: str
    ) -> Problem | None:
        where = f"checkpoint line {checkpoint.line} (seq {checkpoint.seq}, {checkpoint.time})"
        if checkpoint.scope != scope:
            text = f"{where} belongs to database {checkpoint.scope!r}, not this one"
            return Problem("checkpoint_invalid", text, checkpoint.seq)
        if key is None:
            text = f"{where} cannot be checked: no key at {self.key_path}"
            return Problem("key_missing", text, checkpoint.seq)
        if checkpoint.key_id != key.key_id:
            text = f"{where} is signed by key {checkpoint.key_id}; the key in use is {key.key_id}"
            return Problem("key_mismatch", text, checkpoint.seq)
        memo = (checkpoint.scope, checkpoint.line, checkpoint.signature)
        trusted = self._trusted.get(memo)
        if trusted is None:
            trusted = key.verifies(checkpoint.signature, checkpoint.message())
            self._trusted[memo] = trusted
        if not trusted:
            return Problem("checkpoint_invalid", f"{where}: signature invalid", checkpoint.seq)
        return None


def _unreadable(line: LogLine) -> Problem:
    return Problem("checkpoint_unreadable", f"checkpoint line {line.line}: {line.problem}")


def _every_from(env: Mapping[str, str]) -> int:
    raw = env.get(EVERY_ENV)
    if raw is None or raw == "":
        return DEFAULT_EVERY
    try:
        value = int(raw)
    except ValueError:
        value = -1
    if value < 0:
        raise ConfigError("environment", EVERY_ENV, raw, "an int >= 0 (0: on demand only)")
    return value

"""The state fabric: session state (cache in front of SQL) and the hash-chained ledger.

Callers use :class:`StateRepository` for session state and :class:`Ledger` (or the
module-level ``append_event`` / ``replay_events`` / ``verify_ledger_integrity``) for the
ledger, anchored outside the database by a :class:`LedgerAnchor` (``LedgerAnchor.from_env()``);
:func:`open_backends` builds the engine and cache the environment selects.
"""

from agent_platform.state.backends import Backends, open_backends
from agent_platform.state.cache import (
    Cache,
    CacheUnavailableError,
    MemoryTTLCache,
    RedisCache,
    cache_from_settings,
)
from agent_platform.state.ledger.chain import GENESIS_HASH
from agent_platform.state.ledger.retry import LedgerContentionError
from agent_platform.state.ledger_replay import (
    AppendRetry,
    Checkpoint,
    Ledger,
    LedgerAnchor,
    LedgerEntry,
    LedgerVerification,
    ReplayReport,
    append_event,
    append_many,
    checkpoint_ledger,
    replay_events,
    verify_ledger_integrity,
)
from agent_platform.state.repository import IntegrityReport, RepositoryStats, StateRepository

__all__ = [
    "GENESIS_HASH",
    "AppendRetry",
    "Backends",
    "Cache",
    "CacheUnavailableError",
    "Checkpoint",
    "IntegrityReport",
    "Ledger",
    "LedgerAnchor",
    "LedgerContentionError",
    "LedgerEntry",
    "LedgerVerification",
    "MemoryTTLCache",
    "RedisCache",
    "ReplayReport",
    "RepositoryStats",
    "StateRepository",
    "append_event",
    "append_many",
    "cache_from_settings",
    "checkpoint_ledger",
    "open_backends",
    "replay_events",
    "verify_ledger_integrity",
]

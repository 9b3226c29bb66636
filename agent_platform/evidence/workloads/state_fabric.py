"""The state-fabric workload: a declared access pattern run through the real repository.

One driver for the evidence asset and for ``agent-platform workload state-fabric``. Sessions
are seeded durably first (as other workers would have written them); then each round runs the
same kind of trace against a cache that starts cold (a fresh key namespace, as after a cache
restart): session keys drawn from a Zipf distribution, a declared share of them saves
(write-through, each followed by a ledger append), the rest reads, each call timed on its own
with its start and end on the round's clock. A read counts as a hit when the repository's own
hit counter moved.

The hit ratio this produces is a property of the pattern (sessions, skew, write share, TTL);
the figure that judges the cache is the measured hits divided by what an ideal cache of the
same TTL reaches on the very same trace (:mod:`agent_platform.evidence.formats._cache_ideal`).
The evidence runs with a TTL far longer than a round (as in production, where a session is
read many times within its TTL), so its hit ratio does not depend on the machine's speed: it
follows from the seeded trace for any correct cache. A TTL shorter than a round makes the
ratio depend on how fast the calls run; the tests use one to exercise expiry.
"""

from __future__ import annotations

import itertools
import random
import time
from dataclasses import asdict, dataclass, field
from typing import Any

from sqlalchemy.engine import Engine

from agent_platform.errors import InvalidInputError
from agent_platform.evidence.files import utc_now_iso
from agent_platform.evidence.formats.state import LatencySample
from agent_platform.state.cache import Cache, MemoryTTLCache
from agent_platform.state.consumers import STATE_SAVED
from agent_platform.state.ledger_replay import Ledger, LedgerAnchor
from agent_platform.state.repository import StateRepository

__all__ = ["SEED", "AccessPattern", "StateFabricRun", "access_trace", "run_state_fabric"]

SEED = 20260601
_MAX_OPERATIONS = 1_000_000


@dataclass(frozen=True)
class AccessPattern:
    """The declared trace: ``rounds`` x ``operations`` calls over ``sessions`` keys drawn from
    Zipf(``zipf_s``), a ``write_share`` of them saves, cached entries living ``ttl_s``."""

    sessions: int
    operations: int
    rounds: int = 1
    zipf_s: float = 1.1
    write_share: float = 0.15
    ttl_s: float = 60.0
    seed: int = SEED

    def __post_init__(self) -> None:
        _check_int("operations", self.operations, 1, _MAX_OPERATIONS)
        _check_int("sessions", self.sessions, 1, _MAX_OPERATIONS)
        _check_int("rounds", self.rounds, 1, 1000)
        if not 0.0 <= self.write_share < 1.0:
            raise InvalidInputError(f"write_share: got {self.write_share!r}; allowed: [0, 1)")
        if not self.zipf_s >= 0 or not self.ttl_s > 0:
            raise InvalidInputError(
                f"zipf_s/ttl_s: got {self.zipf_s!r}/{self.ttl_s!r}; allowed: >= 0 / > 0"
            )

    def declared(self) -> dict[str, Any]:
        """The pattern as the manifest records it."""
        return {
            "distribution": "zipf",
            **asdict(self),
            "cache": "cold per round; write-through; filled on a miss; room for every session",
        }


def _check_int(name: str, value: object, low: int, high: int) -> None:
    if isinstance(value, bool) or not isinstance(value, int) or not low <= value <= high:
        raise InvalidInputError(f"{name}: got {value!r}; allowed: {low}..{high}")


def access_trace(pattern: AccessPattern) -> list[list[tuple[str, int]]]:
    """Per round, the ``(operation, session index)`` calls; the same for the same pattern."""
    rng = random.Random(pattern.seed)
    weights = [1.0 / (rank**pattern.zipf_s) for rank in range(1, pattern.sessions + 1)]
    cumulative = list(itertools.accumulate(weights))
    rounds = []
    for _ in range(pattern.rounds):
        keys = rng.choices(range(pattern.sessions), cum_weights=cumulative, k=pattern.operations)
        rounds.append([("save" if rng.random() < pattern.write_share else "get", k) for k in keys])
    return rounds


@dataclass
class StateFabricRun:
    """What one run did: every timed call, and the ledger and last repository it used."""

    pattern: AccessPattern
    ledger: Ledger
    repository: StateRepository
    samples: list[LatencySample] = field(default_factory=list)


@dataclass
class _Round:
    repo: StateRepository
    ledger: Ledger
    number: int
    samples: list[LatencySample]
    origin: float
    hits: int = 0


def _payload(rng: random.Random, step: int) -> dict[str, Any]:
    return {
        "step": step,
        "node": rng.choice(["planner", "coder", "critic", "qa", "approver"]),
        "tokens": rng.randint(50, 4000),
        "notes": "n" * rng.randint(64, 1024),
    }


def _record(
    work: _Round, operation: str, sid: str, span: tuple[float, float], outcome: str
) -> None:
    start, end = span
    work.samples.append(
        LatencySample(
            timestamp=utc_now_iso(),
            operation=operation,
            latency_ms=(end - start) * 1000.0,
            round=work.number,
            outcome=outcome,
            session=sid,
            started_s=start - work.origin,
            ended_s=end - work.origin,
        )
    )


def _timed_get(work: _Round, sid: str) -> None:
    start = time.perf_counter()
    work.repo.get(sid)
    end = time.perf_counter()
    hits = work.repo.stats().hits
    _record(work, "get", sid, (start, end), "hit" if hits > work.hits else "miss")
    work.hits = hits


def _timed_save(work: _Round, sid: str, payload: dict[str, Any]) -> None:
    start = time.perf_counter()
    work.repo.save(sid, payload)
    saved = time.perf_counter()
    work.ledger.append_event(STATE_SAVED, {"session_id": sid, "payload": payload})
    appended = time.perf_counter()
    _record(work, "save", sid, (start, saved), "ok")
    _record(work, "ledger_append", sid, (saved, appended), "ok")


def run_state_fabric(
    engine: Engine,
    cache: Cache,
    pattern: AccessPattern,
    *,
    tag: str,
    anchor: LedgerAnchor | None = None,
) -> StateFabricRun:
    """Seed ``pattern.sessions`` sessions in ``engine``, then run every round of the trace
    through a repository on ``cache`` (a new key namespace per round, so each starts cold)."""
    rng = random.Random(pattern.seed + 1)
    ids = [f"ev-{tag}-{n}" for n in range(pattern.sessions)]
    # Seeded through a private cache: the measured cache starts cold.
    StateRepository(engine, MemoryTTLCache()).save_many({s: _payload(rng, 0) for s in ids})
    ledger = Ledger(engine, f"evidence-{tag}", anchor=anchor)
    repo = StateRepository(engine, cache)
    run = StateFabricRun(pattern, ledger, repo)
    for number, calls in enumerate(access_trace(pattern), start=1):
        repo = StateRepository(
            engine, cache, ttl_seconds=pattern.ttl_s, key_prefix=f"{tag}:r{number}:"
        )
        work = _Round(repo, ledger, number, run.samples, time.perf_counter())
        for step, (operation, index) in enumerate(calls, start=1):
            if operation == "save":
                _timed_save(work, ids[index], _payload(rng, step))
            else:
                _timed_get(work, ids[index])
        run.repository = repo
    return run

"""A synthetic state-fabric workload: saves, skewed reads, ledger appends, verification.

It seeds sessions durably (as if written earlier by other workers), then runs a mix of skewed
reads and writes through a repository with a cold cache, appending a ``state.saved`` ledger
entry for every write, and finally signs the ledger's head (when given an anchor) and verifies
the ledger and the repository. Every figure in the result is measured in this run; the hit
ratio is whatever the skewed reads produced.
"""

from __future__ import annotations

import random
import time
import uuid
from dataclasses import dataclass
from typing import Any

from agent_platform.errors import InvalidInputError
from agent_platform.state.backends import Backends
from agent_platform.state.cache import MemoryTTLCache
from agent_platform.state.consumers import STATE_SAVED
from agent_platform.state.ledger_replay import Ledger, LedgerAnchor
from agent_platform.state.repository import StateRepository
from agent_platform.stats import summarize

__all__ = ["WorkloadPlan", "run_state_fabric_workload"]

_MAX_ITERATIONS = 1_000_000


@dataclass(frozen=True)
class WorkloadPlan:
    """Shape of the workload: ``iterations`` operations, ``write_share`` of them saves,
    ``hot_share`` of reads going to the ``hot_fraction`` of sessions."""

    iterations: int = 2000
    sessions: int = 200
    write_share: float = 0.2
    hot_fraction: float = 0.1
    hot_share: float = 0.9
    seed: int = 20261126
    ledger: str = "workload"

    def __post_init__(self) -> None:
        if isinstance(self.iterations, bool) or not 1 <= self.iterations <= _MAX_ITERATIONS:
            raise InvalidInputError(
                f"iterations: got {self.iterations!r}; allowed: 1..{_MAX_ITERATIONS}"
            )
        if self.sessions < 1:
            raise InvalidInputError(f"sessions: got {self.sessions!r}; allowed: >= 1")


def _payload(rng: random.Random, n: int) -> dict[str, Any]:
    return {
        "step": n,
        "node": rng.choice(["planner", "coder", "critic", "qa", "approver"]),
        "tokens": rng.randint(50, 4000),
        "notes": "x" * rng.randint(64, 1024),
    }


def _pick(rng: random.Random, ids: list[str], plan: WorkloadPlan) -> str:
    hot = max(1, int(len(ids) * plan.hot_fraction))
    if rng.random() < plan.hot_share:
        return ids[rng.randrange(hot)]
    return ids[rng.randrange(len(ids))]


def _drive(
    repo: StateRepository, ledger: Ledger, ids: list[str], plan: WorkloadPlan, rng: random.Random
) -> list[float]:
    """The measured mix of skewed reads and writes; returns each ledger append's ms."""
    appends: list[float] = []
    for n in range(plan.iterations):
        sid = _pick(rng, ids, plan)
        if rng.random() < plan.write_share:
            payload = _payload(rng, n + 1)
            repo.save(sid, payload)
            t0 = time.perf_counter()
            ledger.append_event(STATE_SAVED, {"session_id": sid, "payload": payload})
            appends.append((time.perf_counter() - t0) * 1000.0)
        else:
            repo.get(sid)
    return appends


def run_state_fabric_workload(
    backends: Backends, plan: WorkloadPlan, *, anchor: LedgerAnchor | None = None
) -> dict[str, Any]:
    """Run ``plan`` against ``backends``; returns the measured figures (JSON-ready).

    With ``anchor`` the ledger is anchored: its head is signed after the run, before it is
    verified, and the verification compares the chain with every signed checkpoint.
    """
    run_id = uuid.uuid4().hex[:10]
    rng = random.Random(plan.seed)
    ids = [f"wl-{run_id}-{n}" for n in range(plan.sessions)]
    # Seeded through a repository with a private cache: the measured one starts cold.
    seeder = StateRepository(backends.engine, MemoryTTLCache())
    seeder.save_many({sid: _payload(rng, 0) for sid in ids})
    repo = StateRepository(backends.engine, backends.cache, key_prefix=f"state:{run_id}:")
    ledger = Ledger(backends.engine, plan.ledger, anchor=anchor)
    started = time.perf_counter()
    appends = _drive(repo, ledger, ids, plan, rng)
    workload_s = time.perf_counter() - started
    checkpoint = ledger.checkpoint() if anchor is not None else None
    verification = ledger.verify()
    integrity_start = time.perf_counter()
    integrity = repo.verify_integrity()
    integrity_s = time.perf_counter() - integrity_start
    stats = repo.stats()
    latency = stats.latency_summary()
    return {
        "backends": backends.describe(),
        "iterations": plan.iterations,
        "sessions": plan.sessions,
        "workload_s": workload_s,
        "get_ms": latency.get("get"),
        "save_ms": latency.get("save"),
        "hits": stats.hits,
        "misses": stats.misses,
        "hit_ratio": stats.hit_ratio,
        "fallbacks": stats.fallbacks,
        "cache_errors": stats.cache_errors,
        "ledger": ledger.name,
        "ledger_appends": len(appends),
        "ledger_append_ms": summarize(appends) if appends else None,
        "ledger_verify_ok": verification.ok,
        "ledger_verify_entries": verification.entries_checked,
        "ledger_verify_s": verification.elapsed_s,
        "ledger_first_bad_seq": verification.first_bad_seq,
        "ledger_reason": verification.reason,
        "ledger_checkpoint_seq": checkpoint.seq if checkpoint is not None else None,
        "state_integrity_ok": integrity.ok,
        "state_integrity_checked": integrity.checked,
        "state_integrity_s": integrity_s,
    }

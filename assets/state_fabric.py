"""State fabric evidence: cached reads, durable saves and ledger appends, timed one by one.

The workload seeds sessions durably (as other workers would have), then runs rounds of skewed
reads and writes through a :class:`StateRepository` whose cache starts cold each round (a new
key namespace, as after a cache restart), appending a ledger entry after every save. Each call
is timed individually; a read counts as a hit when the repository's own hit counter moved.
"""

import random
import time
from dataclasses import dataclass
from typing import Any

from dagster import (
    AssetChecksDefinition,
    AssetExecutionContext,
    AssetKey,
    MaterializeResult,
    asset,
)

from agent_platform.evidence import layout as paths
from agent_platform.evidence.contract_model import Contract
from agent_platform.evidence.files import utc_now_iso
from agent_platform.evidence.formats.state import LatencySample, write
from agent_platform.state.cache import MemoryTTLCache
from agent_platform.state.ledger_replay import Ledger
from agent_platform.state.repository import StateRepository
from assets._checks import threshold_checks
from assets._common import finish, latency_markdown, markdown_table, sizes_for
from jobs.resources import DatabaseResource, EvidenceResource, RedisResource

__all__ = ["STATE_KEY", "state_cache_latency", "state_checks"]

STATE_KEY = AssetKey(["state_cache_latency"])
_SEED = 20260601
_HOT_FRACTION = 0.1
_HOT_SHARE = 0.9


@dataclass
class _Round:
    repo: StateRepository
    ledger: Ledger
    number: int
    samples: list[LatencySample]


def _payload(rng: random.Random, step: int) -> dict[str, Any]:
    return {
        "step": step,
        "node": rng.choice(["planner", "coder", "critic", "qa", "approver"]),
        "tokens": rng.randint(50, 4000),
        "notes": "n" * rng.randint(64, 1024),
    }


def _pick(rng: random.Random, ids: list[str]) -> str:
    hot = max(1, int(len(ids) * _HOT_FRACTION))
    return ids[rng.randrange(hot)] if rng.random() < _HOT_SHARE else ids[rng.randrange(len(ids))]


def _timed_get(work: _Round, sid: str) -> None:
    before = work.repo.stats().hits
    start = time.perf_counter()
    work.repo.get(sid)
    elapsed = (time.perf_counter() - start) * 1000.0
    outcome = "hit" if work.repo.stats().hits > before else "miss"
    work.samples.append(LatencySample(utc_now_iso(), "get", elapsed, work.number, outcome))


def _timed_save(work: _Round, sid: str, payload: dict[str, Any]) -> None:
    start = time.perf_counter()
    work.repo.save(sid, payload)
    saved = time.perf_counter()
    work.ledger.append_event("state.saved", {"session_id": sid, "payload": payload})
    appended = time.perf_counter()
    stamp = utc_now_iso()
    work.samples.append(LatencySample(stamp, "save", (saved - start) * 1000.0, work.number, "ok"))
    work.samples.append(
        LatencySample(stamp, "ledger_append", (appended - saved) * 1000.0, work.number, "ok")
    )


def run_rounds(
    database: DatabaseResource, redis: RedisResource, run_tag: str, sizes: dict[str, int]
) -> list[LatencySample]:
    """Run the workload in a scratch database; returns every timed call."""
    rng = random.Random(_SEED)
    samples: list[LatencySample] = []
    prefix = f"ev:{run_tag}:state:"
    with database.scratch("state") as engine:
        ids = [f"ev-{run_tag}-{n}" for n in range(sizes["sessions"])]
        StateRepository(engine, MemoryTTLCache()).save_many({s: _payload(rng, 0) for s in ids})
        ledger = Ledger(engine, f"evidence-{run_tag}")
        cache = redis.cache(prefix)
        try:
            for number in range(1, sizes["rounds"] + 1):
                repo = StateRepository(engine, cache, key_prefix=f"r{number}:")
                work = _Round(repo, ledger, number, samples)
                _run_round(rng, work, ids, sizes)
        finally:
            cache.close()
            redis.purge(prefix)
    return samples


def _run_round(rng: random.Random, work: _Round, ids: list[str], sizes: dict[str, int]) -> None:
    total = sizes["gets_per_round"] + sizes["saves_per_round"]
    write_share = sizes["saves_per_round"] / total
    for step in range(total):
        sid = _pick(rng, ids)
        if rng.random() < write_share:
            _timed_save(work, sid, _payload(rng, step))
        else:
            _timed_get(work, sid)


@asset(
    key=STATE_KEY,
    group_name="state_fabric",
    description="Get/save/ledger-append latencies and the cache hit ratio of the state fabric.",
)
def state_cache_latency(
    context: AssetExecutionContext,
    evidence: EvidenceResource,
    database: DatabaseResource,
    redis: RedisResource,
) -> MaterializeResult:
    started = utc_now_iso()
    sizes = sizes_for(evidence, "state_fabric")
    samples = run_rounds(database, redis, context.run.run_id[:8], sizes)
    finished = utc_now_iso()
    rows = write(evidence.layout().path(paths.STATE_LATENCY), samples, finished)
    backends = {"database": database.backend, "cache": redis.backend}
    finish(
        context,
        evidence,
        "state_fabric",
        started_at=started,
        finished_at=finished,
        sizes=sizes,
        backends=backends,
    )
    groups = {
        op: [s.latency_ms for s in samples if s.operation == op]
        for op in ("get", "save", "ledger_append")
    }
    ratios = []
    for number in range(1, sizes["rounds"] + 1):
        gets = [s for s in samples if s.operation == "get" and s.round == number]
        hits = sum(s.outcome == "hit" for s in gets)
        ratios.append((number, len(gets), hits, f"{hits / len(gets):.4f}" if gets else "n/a"))
    return MaterializeResult(
        metadata={
            "path": paths.STATE_LATENCY,
            "rows": rows,
            "latency distribution": latency_markdown(groups),
            "hit ratio per round": markdown_table(("round", "gets", "hits", "hit ratio"), ratios),
            "backends": str(backends),
        }
    )


def state_checks(contract: Contract) -> list[AssetChecksDefinition]:
    """The state fabric's threshold checks from the contract."""
    return threshold_checks(STATE_KEY, "state_fabric", contract.thresholds_for("state_fabric"))

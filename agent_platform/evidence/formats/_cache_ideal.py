"""The best hit count any cache of unbounded size and a given TTL could reach on a trace.

The yardstick for ``hit_ratio_vs_ideal``. The state repository's cache is demand-filled and
write-through: a save stores the key, a read that misses reads the database and stores what it
read, and an entry is served for at most ``ttl_s`` after it was stored (no refresh on a hit: a
value never lives in the cache longer than ``ttl_s`` past its database read or write).

The ideal cache follows the same rules with room for every key and exact timing: a read of key
``k`` starting at ``t`` hits when ``k``'s last store ended less than ``ttl_s`` before ``t``;
otherwise it misses and that miss stores ``k`` when the read ends. Stores are dated at the end
of their call and reads at their start, the generous reading of the recorded times.

Why no cache of that TTL can do better: every read that the last store does not cover must be
a miss for any cache (nothing fresh can be in it), and each miss covers the ``ttl_s`` after it.
Missing at the earliest uncovered read (what the ideal does) covers at least as far as any other
choice, so by the usual exchange argument for covering points with intervals of equal length,
the ideal misses no more often than any other cache. The ideal is computed from the trace
alone, never from what the measured cache answered.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass

__all__ = ["TraceEvent", "ideal_hits"]


@dataclass(frozen=True)
class TraceEvent:
    """One call of the trace: ``operation`` is ``get`` or ``save``; times in seconds."""

    operation: str
    key: str
    started_s: float
    ended_s: float


def ideal_hits(events: Iterable[TraceEvent], ttl_s: float) -> list[bool]:
    """For every ``get`` of ``events`` (in trace order): would the ideal cache have hit?"""
    if not ttl_s > 0:
        raise ValueError(f"ttl_s must be > 0, got {ttl_s}")
    stored_at: dict[str, float] = {}
    hits: list[bool] = []
    for event in events:
        if event.operation == "save":
            stored_at[event.key] = event.ended_s
            continue
        if event.operation != "get":
            raise ValueError(f"unknown operation {event.operation!r}; allowed: get, save")
        last = stored_at.get(event.key)
        hit = last is not None and event.started_s - last < ttl_s
        if not hit:
            stored_at[event.key] = event.ended_s
        hits.append(hit)
    return hits

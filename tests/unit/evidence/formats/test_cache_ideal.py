"""The ideal cache, on traces built by hand: every hit and miss follows from the definition."""

from __future__ import annotations

import pytest

from agent_platform.evidence.formats._cache_ideal import TraceEvent, ideal_hits


def get(key: str, at: float, took: float = 0.001) -> TraceEvent:
    return TraceEvent("get", key, at, at + took)


def save(key: str, at: float, took: float = 0.001) -> TraceEvent:
    return TraceEvent("save", key, at, at + took)


def test_first_read_of_a_key_misses_and_fills_it() -> None:
    assert ideal_hits([get("a", 0.0), get("a", 0.1), get("b", 0.2), get("b", 0.3)], 1.0) == [
        False,
        True,
        False,
        True,
    ]


def test_a_save_stores_the_key_so_the_next_read_hits() -> None:
    assert ideal_hits([save("a", 0.0), get("a", 0.5)], 1.0) == [True]


def test_an_entry_expires_ttl_after_it_was_stored_not_after_it_was_last_read() -> None:
    # Filled at 0.001; hits at 0.5 and 0.9 do not extend it; 1.2 is past 0.001 + 1.0.
    trace = [get("a", 0.0), get("a", 0.5), get("a", 0.9), get("a", 1.2), get("a", 1.5)]
    assert ideal_hits(trace, 1.0) == [False, True, True, False, True]


def test_a_save_renews_the_entry() -> None:
    trace = [get("a", 0.0), save("a", 0.8), get("a", 1.5), get("a", 1.9)]
    assert ideal_hits(trace, 1.0) == [False, True, False]


def test_store_ends_and_read_starts_decide_the_boundary() -> None:
    # Stored when the save ended (0.5); a read starting 0.999 s later still hits, 1.0 s does not.
    assert ideal_hits([save("a", 0.0, took=0.5), get("a", 1.499)], 1.0) == [True]
    assert ideal_hits([save("a", 0.0, took=0.5), get("a", 1.5)], 1.0) == [False]


def test_greedy_misses_no_more_than_a_cache_that_refills_early() -> None:
    # Any cache must miss at 0 and at 1.2 (nothing fresh); the ideal misses only there.
    trace = [get("a", 0.0), get("a", 0.9), get("a", 1.2), get("a", 1.3), get("a", 2.1)]
    assert ideal_hits(trace, 1.0).count(False) == 2


def test_bad_input_is_refused() -> None:
    with pytest.raises(ValueError, match="ttl_s"):
        ideal_hits([get("a", 0.0)], 0.0)
    with pytest.raises(ValueError, match="unknown operation"):
        ideal_hits([TraceEvent("delete", "a", 0.0, 0.1)], 1.0)

"""A delete must not be undone by a reader that read the row just before the delete committed."""

from __future__ import annotations

from pathlib import Path

from agent_platform.db import create_engine_for
from agent_platform.migrate import upgrade
from agent_platform.state._session_cache import TOMBSTONE, frame
from agent_platform.state.cache import MemoryTTLCache
from agent_platform.state.repository import StateRepository


def _repo(tmp_path: Path) -> tuple[StateRepository, MemoryTTLCache]:
    url = f"sqlite:///{tmp_path / 'state.sqlite3'}"
    upgrade(url)
    cache = MemoryTTLCache()
    return StateRepository(create_engine_for(url), cache, key_prefix="s:"), cache


def test_late_refill_after_delete_does_not_resurrect_the_session(tmp_path: Path) -> None:
    repo, cache = _repo(tmp_path)
    digest = repo.save("alpha", {"step": 1})
    stale = frame(digest, b'{"step":1}')  # what a slow reader fetched from SQL before the delete
    assert repo.delete("alpha") is True
    assert cache.get("s:alpha") == TOMBSTONE
    # The slow reader now refills "where absent", exactly as StateRepository._resolve does.
    cache.add_many({"s:alpha": stale}, 3600)
    assert repo.get("alpha") is None
    assert repo.stats().as_dict()["cache_corrupt"] == 0


def test_save_after_delete_replaces_the_tombstone(tmp_path: Path) -> None:
    repo, cache = _repo(tmp_path)
    repo.save("alpha", {"step": 1})
    repo.delete("alpha")
    repo.save("alpha", {"step": 2})
    assert repo.get("alpha") == {"step": 2}
    assert cache.get("s:alpha") != TOMBSTONE

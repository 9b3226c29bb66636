"""Names that no database can store are refused up front, in one line, before any I/O.

A lone surrogate (what Python keeps of bytes that were not UTF-8) cannot be encoded; NUL is
refused by PostgreSQL's text types. Ledger names, event types, consumers and session ids all
go through the same check; the engine here is never connected.
"""

from __future__ import annotations

from collections.abc import Iterator

import pytest
import sqlalchemy as sa

from agent_platform.db import create_engine_for
from agent_platform.errors import InvalidInputError
from agent_platform.state._text import unstorable
from agent_platform.state.cache import MemoryTTLCache
from agent_platform.state.ledger_replay import Ledger, verify_ledger_integrity
from agent_platform.state.repository import StateRepository

BAD = ["lone\ud800high", "lone\udcfflow", "nul\x00inside", "\udc80"]


@pytest.fixture
def unconnected() -> Iterator[sa.Engine]:
    engine = create_engine_for("sqlite://")
    yield engine
    engine.dispose()


def test_unstorable_names_the_first_bad_character() -> None:
    assert unstorable("run:ok-é-✓") is None
    assert "index 4" in (unstorable("lone\ud800") or "")
    assert "NUL character at index 3" in (unstorable("nul\x00") or "")


@pytest.mark.parametrize("name", BAD)
def test_every_ledger_name_is_checked(unconnected: sa.Engine, name: str) -> None:
    with pytest.raises(InvalidInputError, match="ledger name") as info:
        Ledger(unconnected, name)
    assert len(str(info.value).splitlines()) == 1
    str(info.value).encode("utf-8")  # the message itself prints anywhere
    with pytest.raises(InvalidInputError):
        verify_ledger_integrity(unconnected, name)
    ledger = Ledger(unconnected, "fine")
    with pytest.raises(InvalidInputError, match="event_type"):
        ledger.append_event(name, {})
    with pytest.raises(InvalidInputError, match="consumer"):
        ledger.position(name)


@pytest.mark.parametrize("session_id", BAD)
def test_every_session_id_is_checked(unconnected: sa.Engine, session_id: str) -> None:
    repo = StateRepository(unconnected, MemoryTTLCache())
    for call in (
        lambda: repo.save(session_id, {"v": 1}),
        lambda: repo.get(session_id),
        lambda: repo.delete(session_id),
        lambda: repo.get_many(["ok", session_id]),
        lambda: repo.save_many({"ok": 1, session_id: 2}),
    ):
        with pytest.raises(InvalidInputError, match="session_id") as info:
            call()
        assert len(str(info.value).splitlines()) == 1
        str(info.value).encode("utf-8")

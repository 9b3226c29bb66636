"""Appending to a ledger on the event loop, over an async psycopg connection (PostgreSQL).

A graph run commits its ledger entries while its nodes and LangGraph's checkpoint writes run on
the event loop. Through the synchronous engine that commit runs on a worker thread, and on a
busy loop the thread waits for the GIL after every round trip (up to the interpreter's switch
interval, 5 ms), so a commit of well under a millisecond took several (measured by
bench/graph.py's profile). Here the same append is awaited on the loop instead: the same
validation, hash chaining and compare-and-set as :mod:`.append` (whose appender, and
remembered head, it shares), as the same single ``INSERT ... SELECT`` statement in autocommit,
so the entries are written all together or not at all.

A connection that fails before the statement's outcome is known is retried once on a fresh
one; the compare-and-set makes the retry safe, and a retry that finds its own entries already
committed (the head is its last entry's hash) counts as success.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from contextlib import AbstractAsyncContextManager
from datetime import UTC, datetime
from typing import Any

import psycopg

from agent_platform.errors import InvalidInputError, LedgerConflictError, StorageError
from agent_platform.state.ledger.append import LedgerAppender, Prepared
from agent_platform.state.ledger.chain import GENESIS_HASH, chain_rows
from agent_platform.state.ledger.entry import LedgerEntry
from agent_platform.state.ledger.sql import LedgerStatements, entry_param

__all__ = ["AsyncConnect", "append_many_async"]

AsyncConnect = Callable[[], AbstractAsyncContextManager[psycopg.AsyncConnection[Any]]]
"""Lends an autocommit psycopg connection to the ledger's database (a pool's ``connection``)."""


async def append_many_async(
    appender: LedgerAppender,
    sql: LedgerStatements,
    connect: AsyncConnect,
    events: Iterable[tuple[str, Any]],
    expected_seq: int,
) -> list[LedgerEntry]:
    """Append ``events`` at ``expected_seq`` in one statement (see the module docstring).

    Raises:
        LedgerConflictError: another writer appended first; nothing written.
        InvalidInputError / PayloadError: bad events, or more than one statement can hold.
        StorageError: the database failed (twice).
    """
    prepared = appender.prepare_all(events)
    if not prepared or sql.one_statement(expected_seq == 1, len(prepared)) is None:
        raise InvalidInputError(
            f"append of {len(prepared)} entries: allowed: 1..{len(sql.append_next_rows)}"
        )
    if isinstance(expected_seq, bool) or expected_seq < 1:
        raise InvalidInputError(f"expected_seq: got {expected_seq!r}; allowed: an int >= 1")
    cached = appender.take_head()
    try:
        rows = await _attempt(appender, sql, connect, prepared, cached, expected_seq)
    except psycopg.OperationalError:
        rows = await _retry(appender, sql, connect, prepared, cached, expected_seq)
    appender.remember_head((rows[-1]["seq"], rows[-1]["entry_hash"]), old_seq=expected_seq - 1)
    return [LedgerEntry(**row) for row in rows]


async def _attempt(
    appender: LedgerAppender,
    sql: LedgerStatements,
    connect: AsyncConnect,
    prepared: list[Prepared],
    cached: tuple[int, str] | None,
    expected_seq: int,
) -> list[dict[str, Any]]:
    async with connect() as conn:
        head = await _start_head(appender, sql, conn, cached, expected_seq)
        if expected_seq != head[0] + 1:
            raise LedgerConflictError(expected_seq, head[0])
        now = datetime.now(UTC)
        rows = chain_rows(appender.name, prepared, head[0], head[1], now)
        text = sql.psycopg_sql(head[0] == 0, len(rows))
        assert text is not None
        try:
            cursor = await conn.execute(text, _params(appender.name, head, rows, now))
            written = len(await cursor.fetchall())
        except psycopg.IntegrityError as exc:  # the (ledger, seq) key of an entry or the head
            recorded = await _read_head(sql, conn, appender)
            raise LedgerConflictError(expected_seq, recorded[0]) from exc
        except psycopg.OperationalError:
            raise
        except psycopg.Error as exc:
            raise StorageError(f"appending to ledger {appender.name!r} failed: {exc}") from exc
        if written != len(rows):
            raise LedgerConflictError(expected_seq, (await _read_head(sql, conn, appender))[0])
    return rows


async def _retry(
    appender: LedgerAppender,
    sql: LedgerStatements,
    connect: AsyncConnect,
    prepared: list[Prepared],
    cached: tuple[int, str] | None,
    expected_seq: int,
) -> list[dict[str, Any]]:
    """Once more on a fresh connection; the first try may have committed before it failed."""
    try:
        return await _attempt(appender, sql, connect, prepared, None, expected_seq)
    except LedgerConflictError:
        prev = _known_prev_hash(cached, expected_seq)
        if prev is None:
            raise
        mine = chain_rows(appender.name, prepared, expected_seq - 1, prev, datetime.now(UTC))
        async with connect() as conn:
            head = await _read_head(sql, conn, appender)
        if head != (mine[-1]["seq"], mine[-1]["entry_hash"]):
            raise
        return mine  # the first try committed exactly these entries (same chain hash)
    except psycopg.Error as exc:
        raise StorageError(f"appending to ledger {appender.name!r} failed: {exc}") from exc


def _known_prev_hash(cached: tuple[int, str] | None, expected_seq: int) -> str | None:
    if expected_seq == 1:
        return GENESIS_HASH
    if cached is not None and cached[0] == expected_seq - 1:
        return cached[1]
    return None


async def _start_head(
    appender: LedgerAppender,
    sql: LedgerStatements,
    conn: psycopg.AsyncConnection[Any],
    cached: tuple[int, str] | None,
    expected_seq: int,
) -> tuple[int, str]:
    if cached is None and expected_seq == 1:
        return (0, GENESIS_HASH)  # the primary keys refuse it when the ledger is not empty
    if cached is None or expected_seq != cached[0] + 1:
        return await _read_head(sql, conn, appender)
    return cached


async def _read_head(
    sql: LedgerStatements, conn: psycopg.AsyncConnection[Any], appender: LedgerAppender
) -> tuple[int, str]:
    text = sql.psycopg_sql(None)
    assert text is not None
    cursor = await conn.execute(text, {"b_ledger": appender.name})
    row = await cursor.fetchone()
    if row is None:
        return (0, GENESIS_HASH)
    values = list(row.values()) if isinstance(row, dict) else list(row)
    return int(values[0]), str(values[1])


def _params(
    name: str, head: tuple[int, str], rows: list[dict[str, Any]], now: datetime
) -> dict[str, Any]:
    params: dict[str, Any] = {
        "b_ledger": name,
        "old_seq": head[0],
        "new_seq": rows[-1]["seq"],
        "new_hash": rows[-1]["entry_hash"],
        "now": now,
    }
    for index, row in enumerate(rows):
        params.update({entry_param(index, k): v for k, v in row.items()})
    return params

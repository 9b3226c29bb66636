"""The repository across processes and connections: concurrent writers in separate processes,
and a save on a pooled PostgreSQL connection the server closed."""

from __future__ import annotations

import json
import multiprocessing

import pytest
import sqlalchemy as sa

from agent_platform.canonical import content_hash
from agent_platform.db import create_engine_for
from agent_platform.errors import StorageError
from agent_platform.state.cache import MemoryTTLCache
from agent_platform.state.repository import StateRepository
from agent_platform.state.tables import sessions, state_audit


def _count(engine: sa.Engine, table: sa.Table) -> int:
    with engine.connect() as conn:
        return int(conn.execute(sa.select(sa.func.count()).select_from(table)).scalar_one())


def _writer(url: str, worker: int, writes: int) -> None:
    engine = create_engine_for(url)
    repo = StateRepository(engine, MemoryTTLCache())
    for n in range(writes):
        repo.save("shared", {"worker": worker, "n": n, "blob": "z" * (100 * worker)})
        repo.save(f"own-{worker}", {"n": n})
    engine.dispose()


def test_concurrent_writers_from_processes_leave_no_torn_state(db_url: str) -> None:
    workers, writes = 3, 30
    # fork: the children build their own engines and never touch the parent's connections.
    ctx = multiprocessing.get_context("fork")
    procs = [ctx.Process(target=_writer, args=(db_url, w, writes)) for w in range(workers)]
    for proc in procs:
        proc.start()
    for proc in procs:
        proc.join(timeout=120)
        assert proc.exitcode == 0
    engine = create_engine_for(db_url)
    with engine.connect() as conn:
        row = conn.execute(sa.select(sessions).where(sessions.c.id == "shared")).one()
    assert content_hash(json.loads(row.payload)) == row.payload_hash
    assert _count(engine, state_audit) == workers * writes * 2
    repo = StateRepository(engine, MemoryTTLCache())
    assert repo.verify_integrity().ok
    shared = repo.get("shared")
    assert shared["n"] == writes - 1  # the last write of whichever worker committed last
    assert shared["blob"] == "z" * (100 * shared["worker"])  # one writer's value, whole
    for w in range(workers):
        assert repo.get(f"own-{w}") == {"n": writes - 1}
    engine.dispose()


def test_a_save_survives_the_server_closing_pooled_connections(pg_url: str) -> None:
    """The save runs on the pool's connection through the driver: a connection the server
    closed is replaced at checkout, and one that breaks during the save is not reused."""
    engine = create_engine_for(pg_url)
    repo = StateRepository(engine, MemoryTTLCache())
    repo.save("s", {"v": 1})
    terminate = sa.text(
        "SELECT pg_terminate_backend(pid) FROM pg_stat_activity "
        "WHERE datname = current_database() AND pid <> pg_backend_pid()"
    )
    admin = create_engine_for(pg_url, poolclass=sa.NullPool)
    with admin.begin() as conn:
        conn.execute(terminate)
    repo.save("s", {"v": 2})  # the pool's pre-ping found the closed connection first
    assert repo.get("s") == {"v": 2}
    with pytest.raises(StorageError, match="saving session 's'"):
        with engine.connect() as held:
            # A statement that ends the session it runs in: the save's connection breaks.
            pid = held.execute(sa.text("SELECT pg_backend_pid()")).scalar_one()
            held.commit()
        trap = sa.text(
            "CREATE FUNCTION end_me() RETURNS trigger AS $$ BEGIN "
            f"PERFORM pg_terminate_backend({pid}); RETURN NEW; END $$ LANGUAGE plpgsql"
        )
        with admin.begin() as conn:
            conn.execute(trap)
            conn.execute(
                sa.text(
                    "CREATE TRIGGER end_me BEFORE INSERT ON state_audit "
                    "FOR EACH ROW EXECUTE FUNCTION end_me()"
                )
            )
        repo.save("s", {"v": 3})
    with admin.begin() as conn:
        conn.execute(sa.text("DROP TRIGGER end_me ON state_audit"))
    repo.save("s", {"v": 4})  # the broken connection was invalidated, not handed out again
    assert repo.get("s") == {"v": 4}
    admin.dispose()
    engine.dispose()

"""Tables of the state fabric: session state, its audit trail, the ledger, and the cache
invalidations still owed.

The ledger table is append-only by contract: rows are inserted, never updated. The recorded
head (for truncation detection) and each consumer's replay progress live in tables of their own.
``cache_invalidations`` holds the cache keys a write could not invalidate because the cache was
unreachable; whichever process reaches the cache first deletes those keys, then the rows.
"""

from __future__ import annotations

import sqlalchemy as sa

from agent_platform.db import metadata

SESSION_ID_MAX = 255

sessions = sa.Table(
    "sessions",
    metadata,
    sa.Column("id", sa.String(SESSION_ID_MAX), primary_key=True),
    sa.Column("payload", sa.Text(), nullable=False),
    sa.Column("payload_hash", sa.String(64), nullable=False),
    sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
)

state_audit = sa.Table(
    "state_audit",
    metadata,
    sa.Column(
        "id",
        sa.BigInteger().with_variant(sa.Integer(), "sqlite"),
        primary_key=True,
        autoincrement=True,
    ),
    sa.Column("session_id", sa.String(SESSION_ID_MAX), nullable=False, index=True),
    sa.Column("action", sa.String(16), nullable=False),
    sa.Column("payload_hash", sa.String(64), nullable=True),
    sa.Column("timestamp", sa.DateTime(timezone=True), nullable=False),
)

state_hash_index = sa.Table(
    "state_hash_index",
    metadata,
    sa.Column("hash", sa.String(64), primary_key=True),
    sa.Column("session_id", sa.String(SESSION_ID_MAX), primary_key=True),
    sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
)

ledger_entries = sa.Table(
    "ledger_entries",
    metadata,
    sa.Column("ledger", sa.String(128), primary_key=True),
    sa.Column("seq", sa.BigInteger(), primary_key=True, autoincrement=False),
    sa.Column("event_type", sa.String(128), nullable=False),
    sa.Column("payload", sa.Text(), nullable=False),
    sa.Column("checksum", sa.String(64), nullable=False),
    sa.Column("prev_hash", sa.String(64), nullable=False),
    sa.Column("entry_hash", sa.String(64), nullable=False),
    sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
)

ledger_heads = sa.Table(
    "ledger_heads",
    metadata,
    sa.Column("ledger", sa.String(128), primary_key=True),
    sa.Column("head_seq", sa.BigInteger(), nullable=False),
    sa.Column("head_hash", sa.String(64), nullable=False),
    sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
)

ledger_consumers = sa.Table(
    "ledger_consumers",
    metadata,
    sa.Column("consumer", sa.String(128), primary_key=True),
    sa.Column("ledger", sa.String(128), primary_key=True),
    sa.Column("last_seq", sa.BigInteger(), nullable=False),
    sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
)

cache_invalidations = sa.Table(
    "cache_invalidations",
    metadata,
    sa.Column(
        "id",
        sa.BigInteger().with_variant(sa.Integer(), "sqlite"),
        primary_key=True,
        autoincrement=True,
    ),
    sa.Column("namespace", sa.String(255), nullable=False),
    sa.Column("cache_key", sa.String(1024), nullable=False),
    sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
    sa.Index("ix_cache_invalidations_namespace_id", "namespace", "id"),
)

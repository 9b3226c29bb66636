"""Create the session state tables: sessions, state_audit, state_hash_index.

Revision ID: 001
Revises:
Create Date: 2026-11-26

``sessions`` holds the durable copy of each session's state and its SHA-256; ``state_audit``
records every save and delete in the same transaction; ``state_hash_index`` maps each payload
hash to the sessions that held it, so integrity checks can look a hash up without scanning.
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "001"
down_revision = None
branch_labels = None
depends_on = None

_BIGINT_ID = sa.BigInteger().with_variant(sa.Integer(), "sqlite")


def upgrade() -> None:
    op.create_table(
        "sessions",
        sa.Column("id", sa.String(255), nullable=False),
        sa.Column("payload", sa.Text(), nullable=False),
        sa.Column("payload_hash", sa.String(64), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("id", name="pk_sessions"),
    )
    op.create_table(
        "state_audit",
        sa.Column("id", _BIGINT_ID, autoincrement=True, nullable=False),
        sa.Column("session_id", sa.String(255), nullable=False),
        sa.Column("action", sa.String(16), nullable=False),
        sa.Column("payload_hash", sa.String(64), nullable=True),
        sa.Column("timestamp", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("id", name="pk_state_audit"),
    )
    op.create_index("ix_state_audit_session_id", "state_audit", ["session_id"])
    op.create_table(
        "state_hash_index",
        sa.Column("hash", sa.String(64), nullable=False),
        sa.Column("session_id", sa.String(255), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("hash", "session_id", name="pk_state_hash_index"),
    )


def downgrade() -> None:
    op.drop_table("state_hash_index")
    op.drop_index("ix_state_audit_session_id", table_name="state_audit")
    op.drop_table("state_audit")
    op.drop_table("sessions")

"""Create the ledger tables: ledger_entries, ledger_heads, ledger_consumers.

Revision ID: 002
Revises: 001
Create Date: 2026-11-26

``ledger_entries`` is append-only; its primary key (ledger, seq) is the compare-and-set that
stops two writers forking a chain. The recorded head and replay progress are separate tables so
that no ledger row is ever updated.
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "002"
down_revision = "001"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "ledger_entries",
        sa.Column("ledger", sa.String(128), nullable=False),
        sa.Column("seq", sa.BigInteger(), autoincrement=False, nullable=False),
        sa.Column("event_type", sa.String(128), nullable=False),
        sa.Column("payload", sa.Text(), nullable=False),
        sa.Column("checksum", sa.String(64), nullable=False),
        sa.Column("prev_hash", sa.String(64), nullable=False),
        sa.Column("entry_hash", sa.String(64), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("ledger", "seq", name="pk_ledger_entries"),
    )
    op.create_table(
        "ledger_heads",
        sa.Column("ledger", sa.String(128), nullable=False),
        sa.Column("head_seq", sa.BigInteger(), nullable=False),
        sa.Column("head_hash", sa.String(64), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("ledger", name="pk_ledger_heads"),
    )
    op.create_table(
        "ledger_consumers",
        sa.Column("consumer", sa.String(128), nullable=False),
        sa.Column("ledger", sa.String(128), nullable=False),
        sa.Column("last_seq", sa.BigInteger(), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("consumer", "ledger", name="pk_ledger_consumers"),
    )


def downgrade() -> None:
    op.drop_table("ledger_consumers")
    op.drop_table("ledger_heads")
    op.drop_table("ledger_entries")

"""create cache invalidations table

Revision ID: 005
Revises: 004
Create Date: 2026-12-05 09:30:00.000000
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "005"
down_revision = "004"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "cache_invalidations",
        sa.Column(
            "id",
            sa.BigInteger().with_variant(sa.Integer(), "sqlite"),
            autoincrement=True,
            nullable=False,
        ),
        sa.Column("namespace", sa.String(length=255), nullable=False),
        sa.Column("cache_key", sa.String(length=1024), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_cache_invalidations")),
    )
    with op.batch_alter_table("cache_invalidations", schema=None) as batch_op:
        batch_op.create_index(
            "ix_cache_invalidations_namespace_id", ["namespace", "id"], unique=False
        )


def downgrade() -> None:
    with op.batch_alter_table("cache_invalidations", schema=None) as batch_op:
        batch_op.drop_index("ix_cache_invalidations_namespace_id")

    op.drop_table("cache_invalidations")

"""create budget tables

Revision ID: 003
Revises: 002
Create Date: 2026-11-26 07:43:35.118832
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "003"
down_revision = "002"
branch_labels = None
depends_on = None


def upgrade() -> None:

    op.create_table(
        "budget_alerts",
        sa.Column(
            "id",
            sa.BigInteger().with_variant(sa.Integer(), "sqlite"),
            autoincrement=True,
            nullable=False,
        ),
        sa.Column("window_key", sa.String(length=128), nullable=False),
        sa.Column("level", sa.String(length=16), nullable=False),
        sa.Column("correlation_id", sa.String(length=64), nullable=False),
        sa.Column("message", sa.Text(), nullable=False),
        sa.Column("spent_eur", sa.Numeric(precision=18, scale=6), nullable=False),
        sa.Column("cap_eur", sa.Numeric(precision=18, scale=6), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_budget_alerts")),
        sa.UniqueConstraint("window_key", "level", name="uq_budget_alerts_window_level"),
    )
    op.create_table(
        "budget_counters",
        sa.Column("window_key", sa.String(length=128), nullable=False),
        sa.Column("kind", sa.String(length=16), nullable=False),
        sa.Column("limit_value", sa.Numeric(precision=18, scale=6), nullable=False),
        sa.Column("committed", sa.Numeric(precision=18, scale=6), nullable=False),
        sa.Column("reserved", sa.Numeric(precision=18, scale=6), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("window_key", name=op.f("pk_budget_counters")),
    )
    op.create_table(
        "budget_reservations",
        sa.Column("id", sa.String(length=64), nullable=False),
        sa.Column("provider", sa.String(length=64), nullable=False),
        sa.Column("model", sa.String(length=128), nullable=False),
        sa.Column("task", sa.String(length=32), nullable=False),
        sa.Column("amount_eur", sa.Numeric(precision=18, scale=6), nullable=False),
        sa.Column("tokens", sa.BigInteger(), nullable=False),
        sa.Column("window_keys", sa.Text(), nullable=False),
        sa.Column("status", sa.String(length=16), nullable=False),
        sa.Column("correlation_id", sa.String(length=64), nullable=True),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("expires_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("settled_at", sa.DateTime(timezone=True), nullable=True),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_budget_reservations")),
    )
    with op.batch_alter_table("budget_reservations", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_budget_reservations_expires_at"), ["expires_at"], unique=False
        )
        batch_op.create_index(batch_op.f("ix_budget_reservations_status"), ["status"], unique=False)

    op.create_table(
        "spend_records",
        sa.Column(
            "id",
            sa.BigInteger().with_variant(sa.Integer(), "sqlite"),
            autoincrement=True,
            nullable=False,
        ),
        sa.Column("reservation_id", sa.String(length=64), nullable=True),
        sa.Column("provider", sa.String(length=64), nullable=False),
        sa.Column("model", sa.String(length=128), nullable=False),
        sa.Column("task", sa.String(length=32), nullable=False),
        sa.Column("prompt_tokens", sa.BigInteger(), nullable=False),
        sa.Column("completion_tokens", sa.BigInteger(), nullable=False),
        sa.Column("amount", sa.Numeric(precision=18, scale=6), nullable=False),
        sa.Column("currency", sa.String(length=3), nullable=False),
        sa.Column("rate_to_eur", sa.Numeric(precision=18, scale=8), nullable=False),
        sa.Column("amount_eur", sa.Numeric(precision=18, scale=6), nullable=False),
        sa.Column("day_key", sa.String(length=16), nullable=False),
        sa.Column("month_key", sa.String(length=16), nullable=False),
        sa.Column("correlation_id", sa.String(length=64), nullable=True),
        sa.Column("recorded_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_spend_records")),
    )
    with op.batch_alter_table("spend_records", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_spend_records_day_key"), ["day_key"], unique=False)
        batch_op.create_index(batch_op.f("ix_spend_records_month_key"), ["month_key"], unique=False)


def downgrade() -> None:

    with op.batch_alter_table("spend_records", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_spend_records_month_key"))
        batch_op.drop_index(batch_op.f("ix_spend_records_day_key"))

    op.drop_table("spend_records")
    with op.batch_alter_table("budget_reservations", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_budget_reservations_status"))
        batch_op.drop_index(batch_op.f("ix_budget_reservations_expires_at"))

    op.drop_table("budget_reservations")
    op.drop_table("budget_counters")
    op.drop_table("budget_alerts")

"""Tables of the budget guardian.

``budget_counters`` holds one row per window (a day, a month, a provider's token window); a
reservation locks exactly the rows it touches (``SELECT ... FOR UPDATE`` on PostgreSQL, the
database write lock on SQLite), so concurrent reservations from many processes serialise on the
counters and a cap can never be overshot. Settled spend is kept row by row in ``spend_records``
with the conversion rate it used; alerts are edge-triggered through a unique key per window and
level.
"""

from __future__ import annotations

import sqlalchemy as sa

from agent_platform.db import metadata

MONEY = sa.Numeric(18, 6)

budget_counters = sa.Table(
    "budget_counters",
    metadata,
    sa.Column("window_key", sa.String(128), primary_key=True),
    sa.Column("kind", sa.String(16), nullable=False),
    sa.Column("limit_value", MONEY, nullable=False),
    sa.Column("committed", MONEY, nullable=False),
    sa.Column("reserved", MONEY, nullable=False),
    sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
)

budget_reservations = sa.Table(
    "budget_reservations",
    metadata,
    sa.Column("id", sa.String(64), primary_key=True),
    sa.Column("provider", sa.String(64), nullable=False),
    sa.Column("model", sa.String(128), nullable=False),
    sa.Column("task", sa.String(32), nullable=False),
    sa.Column("amount_eur", MONEY, nullable=False),
    sa.Column("tokens", sa.BigInteger(), nullable=False),
    sa.Column("window_keys", sa.Text(), nullable=False),
    sa.Column("status", sa.String(16), nullable=False, index=True),
    sa.Column("correlation_id", sa.String(64), nullable=True),
    sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
    sa.Column("expires_at", sa.DateTime(timezone=True), nullable=False, index=True),
    sa.Column("settled_at", sa.DateTime(timezone=True), nullable=True),
)

spend_records = sa.Table(
    "spend_records",
    metadata,
    sa.Column(
        "id",
        sa.BigInteger().with_variant(sa.Integer(), "sqlite"),
        primary_key=True,
        autoincrement=True,
    ),
    sa.Column("reservation_id", sa.String(64), nullable=True),
    sa.Column("provider", sa.String(64), nullable=False),
    sa.Column("model", sa.String(128), nullable=False),
    sa.Column("task", sa.String(32), nullable=False),
    sa.Column("prompt_tokens", sa.BigInteger(), nullable=False),
    sa.Column("completion_tokens", sa.BigInteger(), nullable=False),
    sa.Column("amount", MONEY, nullable=False),
    sa.Column("currency", sa.String(3), nullable=False),
    sa.Column("rate_to_eur", sa.Numeric(18, 8), nullable=False),
    sa.Column("amount_eur", MONEY, nullable=False),
    sa.Column("day_key", sa.String(16), nullable=False, index=True),
    sa.Column("month_key", sa.String(16), nullable=False, index=True),
    sa.Column("correlation_id", sa.String(64), nullable=True),
    sa.Column("recorded_at", sa.DateTime(timezone=True), nullable=False),
)

budget_alerts = sa.Table(
    "budget_alerts",
    metadata,
    sa.Column(
        "id",
        sa.BigInteger().with_variant(sa.Integer(), "sqlite"),
        primary_key=True,
        autoincrement=True,
    ),
    sa.Column("window_key", sa.String(128), nullable=False),
    sa.Column("level", sa.String(16), nullable=False),
    sa.Column("correlation_id", sa.String(64), nullable=False),
    sa.Column("message", sa.Text(), nullable=False),
    sa.Column("spent_eur", MONEY, nullable=False),
    sa.Column("cap_eur", MONEY, nullable=False),
    sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
    sa.UniqueConstraint("window_key", "level", name="uq_budget_alerts_window_level"),
)

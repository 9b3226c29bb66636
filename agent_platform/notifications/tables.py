"""Tables of the notification outbox.

An ``outbox`` row per (notification, destination) commits in the caller's transaction with the
event it announces; the dispatcher claims due rows, delivers them and records every attempt in
``delivery_attempts``. ``destination_state`` holds each destination's circuit and whether a 410
disabled it.
"""

from __future__ import annotations

import sqlalchemy as sa

from agent_platform.db import metadata

__all__ = ["OutboxStatus", "delivery_attempts", "destination_state", "outbox"]


class OutboxStatus:
    """Values of ``outbox.status``."""

    PENDING = "pending"
    DELIVERED = "delivered"
    FAILED = "failed"  # permanent failure, refused, or retries exhausted
    DISABLED = "disabled"  # its destination answered 410


outbox = sa.Table(
    "outbox",
    metadata,
    sa.Column("id", sa.String(64), primary_key=True),
    sa.Column("notification_id", sa.String(64), nullable=False, index=True),
    sa.Column("destination", sa.String(128), nullable=False),
    sa.Column("event_type", sa.String(128), nullable=False),
    sa.Column("correlation_id", sa.String(128), nullable=False),
    sa.Column("payload", sa.Text(), nullable=False),
    sa.Column("status", sa.String(16), nullable=False),
    sa.Column("attempts", sa.Integer(), nullable=False),
    sa.Column("next_attempt_at", sa.DateTime(timezone=True), nullable=False),
    sa.Column("claimed_by", sa.String(64), nullable=True),
    sa.Column("claimed_until", sa.DateTime(timezone=True), nullable=True),
    sa.Column("last_error", sa.Text(), nullable=True),
    sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
    sa.Column("delivered_at", sa.DateTime(timezone=True), nullable=True),
    sa.Index("ix_outbox_due", "status", "next_attempt_at"),
)

delivery_attempts = sa.Table(
    "delivery_attempts",
    metadata,
    sa.Column(
        "id",
        sa.BigInteger().with_variant(sa.Integer(), "sqlite"),
        primary_key=True,
        autoincrement=True,
    ),
    sa.Column("outbox_id", sa.String(64), nullable=False, index=True),
    sa.Column("notification_id", sa.String(64), nullable=False, index=True),
    sa.Column("destination", sa.String(128), nullable=False),
    sa.Column("correlation_id", sa.String(128), nullable=False),
    sa.Column("attempt", sa.Integer(), nullable=False),
    sa.Column("status", sa.String(32), nullable=False),
    sa.Column("http_status", sa.Integer(), nullable=True),
    sa.Column("latency_ms", sa.Float(), nullable=False),
    sa.Column("error", sa.Text(), nullable=True),
    sa.Column("timestamp", sa.DateTime(timezone=True), nullable=False),
)

destination_state = sa.Table(
    "destination_state",
    metadata,
    sa.Column("destination", sa.String(128), primary_key=True),
    sa.Column("disabled", sa.Boolean(), nullable=False),
    sa.Column("disabled_reason", sa.Text(), nullable=True),
    sa.Column("consecutive_failures", sa.Integer(), nullable=False),
    sa.Column("circuit_open_until", sa.DateTime(timezone=True), nullable=True),
    sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
)

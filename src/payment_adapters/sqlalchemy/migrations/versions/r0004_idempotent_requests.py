"""Idempotent requests: ``payments.moved_by_request`` and ``refunds.attempted_by_request``.

A confirm or cancel, and a refund's attempt, remember the idempotent request that made them
(an id derived from its scoped ``Idempotency-Key``), in the same row and transaction, so that
the same request again, after a crash or a lost answer, answers as it did instead of being
refused as an illegal transition or making a second attempt. (What a request creates needs no
column: its id is derived from the key.)

Revision ID: 0004
Revises: 0003
Create Date: 2026-12-01
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0004"
down_revision = "0003"
branch_labels = None
depends_on = None


def upgrade() -> None:
    # Nullable, no default: a metadata-only change on PostgreSQL and SQLite alike.
    op.add_column("payments", sa.Column("moved_by_request", sa.Uuid(), nullable=True))
    op.add_column("refunds", sa.Column("attempted_by_request", sa.Uuid(), nullable=True))


def downgrade() -> None:
    op.drop_column("refunds", "attempted_by_request")
    op.drop_column("payments", "moved_by_request")

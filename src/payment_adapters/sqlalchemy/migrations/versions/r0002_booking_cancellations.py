"""Booking cancellations: the ``bookings`` table and ``payments.refund_on_completion``.

A booking's ``booking.created`` and ``booking.cancelled`` lock the booking's row in ``bookings``
before anything else, so that they never interleave across workers and a ``booking.created``
handled after its cancellation creates no payment. A payment still in flight when its booking
is cancelled is marked ``refund_on_completion``: if the provider takes the money after all, the
completing transaction opens its full refund.

Revision ID: 0002
Revises: 0001
Create Date: 2026-11-29
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0002"
down_revision = "0001"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "bookings",
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.Column("seen_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("cancelled_at", sa.DateTime(timezone=True), nullable=True),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_bookings")),
    )
    # A constant default: PostgreSQL 11+ adds it without rewriting the table; SQLite never does.
    op.add_column(
        "payments",
        sa.Column("refund_on_completion", sa.Boolean(), server_default=sa.false(), nullable=False),
    )


def downgrade() -> None:
    op.drop_column("payments", "refund_on_completion")
    op.drop_table("bookings")

"""Disputes (chargebacks).

- ``disputes``: one row per dispute of a payment, unique per ``(provider,
  provider_dispute_id)``; its evidence sealed (JSON, encrypted like every personal free
  text); keyset indexes by payment, by status and by time; partial indexes over open
  disputes for the refund check (by payment) and for the reconciliation sweep (by
  ``next_check_at``).

Billing records gain the types ``CHARGEBACK`` and ``CHARGEBACK_REVERSED``; their ``type``
column has no CHECK, so nothing changes there.

Revision ID: 0009
Revises: 0008
Create Date: 2026-12-09
"""

from __future__ import annotations

from typing import Any

import sqlalchemy as sa
from alembic import op

revision = "0009"
down_revision = "0008"
branch_labels = None
depends_on = None

_OPEN = "status IN ('NEEDS_RESPONSE', 'UNDER_REVIEW')"


def _partial(where: str) -> dict[str, Any]:
    clause = sa.text(where)
    return {"postgresql_where": clause, "sqlite_where": clause}


def upgrade() -> None:
    op.create_table(
        "disputes",
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.Column("payment_id", sa.Uuid(), nullable=False),
        sa.Column("booking_id", sa.Uuid(), nullable=False),
        sa.Column("guest_id", sa.Uuid(), nullable=False),
        sa.Column("provider", sa.String(length=32), nullable=False),
        sa.Column("provider_dispute_id", sa.String(length=255), nullable=False),
        sa.Column("amount", sa.BigInteger(), nullable=False),
        sa.Column("currency", sa.CHAR(length=3), nullable=False),
        sa.Column("reason", sa.String(length=64), nullable=False),
        sa.Column("status", sa.String(length=16), nullable=False),
        sa.Column("inquiry", sa.Boolean(), nullable=False),
        sa.Column("evidence_due_by", sa.DateTime(timezone=True), nullable=True),
        sa.Column("evidence", sa.LargeBinary(), nullable=False),  # encrypted
        sa.Column("evidence_submitted_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("evidence_submitting", sa.Boolean(), nullable=False),
        sa.Column("funds_withdrawn", sa.Boolean(), nullable=False),
        sa.Column("next_check_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("closed_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("version", sa.Integer(), nullable=False),
        sa.CheckConstraint(
            "status IN ('NEEDS_RESPONSE', 'UNDER_REVIEW', 'WON', 'LOST')",
            name=op.f("ck_disputes_status_known"),
        ),
        sa.CheckConstraint("amount > 0", name=op.f("ck_disputes_amount_positive")),
        sa.ForeignKeyConstraint(
            ["payment_id"], ["payments.id"], name=op.f("fk_disputes_payment_id_payments")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_disputes")),
        sa.UniqueConstraint(
            "provider",
            "provider_dispute_id",
            name=op.f("uq_disputes_provider_provider_dispute_id"),
        ),
    )
    op.create_index("ix_disputes_payment_page", "disputes", ["payment_id", "created_at", "id"])
    op.create_index("ix_disputes_status_page", "disputes", ["status", "created_at", "id"])
    op.create_index("ix_disputes_created_page", "disputes", ["created_at", "id"])
    op.create_index("ix_disputes_open_by_payment", "disputes", ["payment_id"], **_partial(_OPEN))
    op.create_index("ix_disputes_check_due", "disputes", ["next_check_at", "id"], **_partial(_OPEN))


def downgrade() -> None:
    for name in (
        "ix_disputes_check_due",
        "ix_disputes_open_by_payment",
        "ix_disputes_created_page",
        "ix_disputes_status_page",
        "ix_disputes_payment_page",
    ):
        op.drop_index(name, table_name="disputes")
    op.drop_table("disputes")

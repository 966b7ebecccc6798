"""Invoices record what their payment paid: ``invoices.amount_applied``.

A payment pays its invoices only as far as what it holds (its amount less refunds and what it
already paid other invoices); ``amount_applied`` is that share of ``amount_paid``, never more,
and the sum over a payment's invoices is read under the payment's row lock (the partial index
finds the few invoices with something applied).

An invoice that an earlier version marked ``PAID`` with a payment linked counts its whole
``amount_paid`` as taken from that payment: whether it was, or was marked paid by hand, is not
recorded, and counting it keeps the payment from paying it a second time elsewhere.

Revision ID: 0003
Revises: 0002
Create Date: 2026-12-06
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0003"
down_revision = "0002"
branch_labels = None
depends_on = None

_WITHIN = "amount_applied <= amount_paid"


def upgrade() -> None:
    if op.get_bind().dialect.name == "sqlite":
        # SQLite cannot add a table constraint to a table, but takes a column's own CHECKs
        # (which may name other columns) in ADD COLUMN: no table rebuild.
        op.execute(
            "ALTER TABLE invoices ADD COLUMN amount_applied BIGINT DEFAULT '0' NOT NULL"
            " CONSTRAINT ck_invoices_amount_applied_non_negative CHECK (amount_applied >= 0)"
            f" CONSTRAINT ck_invoices_applied_within_paid CHECK ({_WITHIN})"
        )
    else:
        # A constant default: PostgreSQL 11+ adds it without rewriting the table.
        op.add_column(
            "invoices",
            sa.Column("amount_applied", sa.BigInteger(), server_default="0", nullable=False),
        )
        op.create_check_constraint(
            op.f("ck_invoices_amount_applied_non_negative"), "invoices", "amount_applied >= 0"
        )
        op.create_check_constraint(op.f("ck_invoices_applied_within_paid"), "invoices", _WITHIN)
    op.execute(
        "UPDATE invoices SET amount_applied = amount_paid"
        " WHERE status = 'PAID' AND payment_id IS NOT NULL"
    )
    where = sa.text("amount_applied > 0")
    op.create_index(
        "ix_invoices_applied_payment",
        "invoices",
        ["payment_id"],
        postgresql_where=where,
        sqlite_where=where,
    )


def downgrade() -> None:
    op.drop_index("ix_invoices_applied_payment", table_name="invoices")
    if op.get_bind().dialect.name == "sqlite":
        op.execute("ALTER TABLE invoices DROP COLUMN amount_applied")
    else:
        op.drop_column("invoices", "amount_applied")

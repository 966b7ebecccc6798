"""Documents: invoice customers, credit notes and their own yearly number sequence.

- ``invoices.customer``: the customer (name, e-mail, tax id, address) as encrypted JSON;
  ``invoices.amount_credited``: what credit notes credited, within ``0..total``.
- ``credit_notes``: issued once, never changed; ``(invoice_id, refund_id)`` unique, so a
  refund's credit note exists once per invoice whatever retries and redeliveries do.
- ``credit_note_number_counters``: one row per year, moved in the issuing transaction
  (``CN-2026-000001``), as ``invoice_number_counters`` is for invoices.

Revision ID: 0005
Revises: 0004
Create Date: 2026-12-06
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0005"
down_revision = "0004"
branch_labels = None
depends_on = None

_WITHIN = "amount_credited <= total"


def upgrade() -> None:
    op.add_column("invoices", sa.Column("customer", sa.LargeBinary(), nullable=True))
    if op.get_bind().dialect.name == "sqlite":
        # As in 0003: SQLite takes a column's own CHECKs in ADD COLUMN, not a table's.
        op.execute(
            "ALTER TABLE invoices ADD COLUMN amount_credited BIGINT DEFAULT '0' NOT NULL"
            " CONSTRAINT ck_invoices_amount_credited_non_negative CHECK (amount_credited >= 0)"
            f" CONSTRAINT ck_invoices_credited_within_total CHECK ({_WITHIN})"
        )
    else:
        # A constant default: PostgreSQL 11+ adds it without rewriting the table.
        op.add_column(
            "invoices",
            sa.Column("amount_credited", sa.BigInteger(), server_default="0", nullable=False),
        )
        op.create_check_constraint(
            op.f("ck_invoices_amount_credited_non_negative"), "invoices", "amount_credited >= 0"
        )
        op.create_check_constraint(op.f("ck_invoices_credited_within_total"), "invoices", _WITHIN)

    op.create_table(
        "credit_notes",
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.Column("number", sa.String(length=32), nullable=False),
        sa.Column("invoice_id", sa.Uuid(), nullable=False),
        sa.Column("booking_id", sa.Uuid(), nullable=False),
        sa.Column("guest_id", sa.Uuid(), nullable=False),
        sa.Column("amount", sa.BigInteger(), nullable=False),
        sa.Column("tax", sa.BigInteger(), nullable=False),
        sa.Column("currency", sa.CHAR(length=3), nullable=False),
        sa.Column("reason", sa.String(length=64), nullable=True),
        sa.Column("memo", sa.LargeBinary(), nullable=True),
        sa.Column("refund_id", sa.Uuid(), nullable=True),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("version", sa.Integer(), nullable=False),
        sa.CheckConstraint("amount > 0", name=op.f("ck_credit_notes_amount_positive")),
        sa.CheckConstraint(
            "tax >= 0 AND tax <= amount", name=op.f("ck_credit_notes_tax_within_amount")
        ),
        sa.ForeignKeyConstraint(
            ["invoice_id"], ["invoices.id"], name=op.f("fk_credit_notes_invoice_id_invoices")
        ),
        sa.ForeignKeyConstraint(
            ["refund_id"], ["refunds.id"], name=op.f("fk_credit_notes_refund_id_refunds")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_credit_notes")),
        sa.UniqueConstraint("number", name=op.f("uq_credit_notes_number")),
        sa.UniqueConstraint(
            "invoice_id", "refund_id", name=op.f("uq_credit_notes_invoice_id_refund_id")
        ),
    )
    op.create_index(
        "ix_credit_notes_invoice_page", "credit_notes", ["invoice_id", "created_at", "id"]
    )
    where = sa.text("refund_id IS NOT NULL")
    op.create_index(
        "ix_credit_notes_refund_id",
        "credit_notes",
        ["refund_id"],
        postgresql_where=where,
        sqlite_where=where,
    )
    op.create_table(
        "credit_note_number_counters",
        sa.Column("year", sa.Integer(), autoincrement=False, nullable=False),
        sa.Column("last_value", sa.Integer(), nullable=False),
        sa.CheckConstraint(
            "last_value >= 1", name=op.f("ck_credit_note_number_counters_last_value_positive")
        ),
        sa.PrimaryKeyConstraint("year", name=op.f("pk_credit_note_number_counters")),
    )


def downgrade() -> None:
    op.drop_table("credit_note_number_counters")
    op.drop_index("ix_credit_notes_refund_id", table_name="credit_notes")
    op.drop_index("ix_credit_notes_invoice_page", table_name="credit_notes")
    op.drop_table("credit_notes")
    if op.get_bind().dialect.name == "sqlite":
        op.execute("ALTER TABLE invoices DROP COLUMN amount_credited")
    else:
        op.drop_column("invoices", "amount_credited")
    op.drop_column("invoices", "customer")

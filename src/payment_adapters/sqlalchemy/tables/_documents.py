"""Invoices, credit notes, the billing records' hash chain and the documents' number sequences."""

from __future__ import annotations

from sqlalchemy import (
    JSON,
    BigInteger,
    CheckConstraint,
    Column,
    Date,
    ForeignKey,
    Index,
    Integer,
    LargeBinary,
    String,
    Table,
    Text,
    UniqueConstraint,
    Uuid,
)
from sqlalchemy.types import CHAR

from payment_adapters.sqlalchemy.tables._base import (
    CURRENCY,
    STATUS,
    metadata,
    non_negative,
    partial,
)
from payment_adapters.sqlalchemy.types import UTCDateTime

# ------------------------------------------------------------------------------ invoices
# Line items live in a JSON column, not a child table: they are a value object owned whole by
# the invoice, always read and written with it and never queried alone, and frozen once the
# invoice is issued. A child table would cost a second query (or a fanned-out join) on every
# read and a delete-and-reinsert on every draft edit, for no query we need. Totals are stored
# next to them (written from the aggregate, never read back) for reporting in SQL.
invoices = Table(
    "invoices",
    metadata,
    Column("id", Uuid, primary_key=True),
    Column("number", String(32), unique=True),  # NULL while DRAFT
    Column("status", STATUS, nullable=False),
    Column("booking_id", Uuid, nullable=False),
    Column("guest_id", Uuid, nullable=False),
    Column("currency", CURRENCY, nullable=False),
    Column("line_items", JSON, nullable=False),
    Column("subtotal", BigInteger, nullable=False),
    Column("tax", BigInteger, nullable=False),
    Column("total", BigInteger, nullable=False),
    Column("amount_paid", BigInteger, nullable=False),
    # What its payment paid; amount_paid adds what was paid otherwise (marked PAID by hand).
    Column("amount_applied", BigInteger, nullable=False, server_default="0"),
    Column("due_date", Date),
    Column("payment_id", Uuid, ForeignKey("payments.id")),
    Column("notes", LargeBinary),  # encrypted
    Column("issued_at", UTCDateTime),
    Column("paid_at", UTCDateTime),
    Column("voided_at", UTCDateTime),
    Column("created_at", UTCDateTime, nullable=False),
    Column("updated_at", UTCDateTime, nullable=False),
    Column("version", Integer, nullable=False),
    # Added by revision 0005: the customer (encrypted JSON; NULL: none) and what credit notes
    # credited, never more than the total.
    Column("customer", LargeBinary),
    Column("amount_credited", BigInteger, nullable=False, server_default="0"),
    *non_negative("subtotal", "tax", "total", "amount_paid", "amount_applied", "amount_credited"),
    CheckConstraint("amount_applied <= amount_paid", name="applied_within_paid"),
    CheckConstraint("amount_credited <= total", name="credited_within_total"),
    CheckConstraint(
        "status IN ('DRAFT', 'OPEN', 'PAID', 'VOID', 'UNCOLLECTIBLE')", name="status_known"
    ),
    Index("ix_invoices_booking_page", "booking_id", "created_at", "id"),
    # Completing a payment pays the open invoices that wait on it.
    Index(
        "ix_invoices_open_for_payment",
        "payment_id",
        **partial("status IN ('OPEN', 'UNCOLLECTIBLE')"),
    ),
    # What a payment already paid: summed under its row lock whenever it pays an invoice.
    Index("ix_invoices_applied_payment", "payment_id", **partial("amount_applied > 0")),
)

# ------------------------------------------------------------------------------ credit notes
# Issued once, never changed (no version bump ever happens, the column is there for the
# aggregate's shape). One credit note per refund and invoice: the unique index is what makes
# the automatic credit of a completing refund happen once whatever retries or redeliveries
# do; NULLs (notes by hand) never collide.
credit_notes = Table(
    "credit_notes",
    metadata,
    Column("id", Uuid, primary_key=True),
    Column("number", String(32), nullable=False, unique=True),
    Column("invoice_id", Uuid, ForeignKey("invoices.id"), nullable=False),
    Column("booking_id", Uuid, nullable=False),
    Column("guest_id", Uuid, nullable=False),
    Column("amount", BigInteger, nullable=False),
    Column("tax", BigInteger, nullable=False),
    Column("currency", CURRENCY, nullable=False),
    Column("reason", String(64)),
    Column("memo", LargeBinary),  # encrypted
    Column("refund_id", Uuid, ForeignKey("refunds.id")),
    Column("created_at", UTCDateTime, nullable=False),
    Column("version", Integer, nullable=False),
    UniqueConstraint("invoice_id", "refund_id"),
    CheckConstraint("amount > 0", name="amount_positive"),
    CheckConstraint("tax >= 0 AND tax <= amount", name="tax_within_amount"),
    Index("ix_credit_notes_invoice_page", "invoice_id", "created_at", "id"),
    Index("ix_credit_notes_refund_id", "refund_id", **partial("refund_id IS NOT NULL")),
)

# ------------------------------------------------------------------------------ billing
billing_records = Table(
    "billing_records",
    metadata,
    Column("id", Uuid, primary_key=True),
    Column("type", String(32), nullable=False),
    Column("booking_id", Uuid, nullable=False),
    Column("guest_id", Uuid, nullable=False),
    Column("sequence", Integer, nullable=False),
    Column("amount", BigInteger, nullable=False),
    Column("currency", CURRENCY, nullable=False),
    Column("description", Text, nullable=False),
    Column("created_at", UTCDateTime, nullable=False),
    Column("previous_hash", CHAR(64), nullable=False),
    Column("hash", CHAR(64), nullable=False),
    # Audit references, deliberately not foreign keys: the trail must stay readable (and
    # verifiable) on its own, and appending to it must not lock the rows it mentions.
    Column("payment_id", Uuid),
    Column("refund_id", Uuid),
    Column("invoice_id", Uuid),
    # One chain per booking: a second record with the same sequence is a fork, refused here.
    # The unique index also serves ``head`` and the verifier's (booking_id, sequence) walk.
    UniqueConstraint("booking_id", "sequence"),
    CheckConstraint("amount > 0", name="amount_positive"),
    CheckConstraint("sequence >= 1", name="sequence_positive"),
    Index("ix_billing_records_booking_page", "booking_id", "created_at", "id"),
    Index("ix_billing_records_guest_page", "guest_id", "created_at", "id"),
)

# ------------------------------------------------------------------------------ invoice numbers
invoice_number_counters = Table(
    "invoice_number_counters",
    metadata,
    Column("year", Integer, primary_key=True, autoincrement=False),
    Column("last_value", Integer, nullable=False),
    CheckConstraint("last_value >= 1", name="last_value_positive"),
)

# A sequence of their own for credit notes (CN-2026-000001), kept like invoice numbers'.
credit_note_number_counters = Table(
    "credit_note_number_counters",
    metadata,
    Column("year", Integer, primary_key=True, autoincrement=False),
    Column("last_value", Integer, nullable=False),
    CheckConstraint("last_value >= 1", name="last_value_positive"),
)

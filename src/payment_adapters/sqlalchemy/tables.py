"""The schema, as SQLAlchemy Core tables (the migrations create exactly this; a test checks it).

Conventions:

- Money is a ``BIGINT`` of minor units next to a ``CHAR(3)`` ISO 4217 code; never a float or
  a numeric with a scale.
- Ids are ``Uuid`` (native ``uuid`` on PostgreSQL, 32 hex characters on SQLite; both sort like
  the UUID's integer value, so keyset order is the same everywhere). Timestamps are
  :class:`UTCDateTime`: aware UTC with microseconds on both databases.
- Columns named in ``ENCRYPTED_COLUMNS`` hold AES-256-GCM ciphertext (``payment_adapters.crypto``)
  whose associated data is ``b"<table>.<column>:<row id>"``. No card number or security code
  is stored anywhere, in any form; a card is its brand, last four digits and expiry.
- Aggregates (payments, refunds, invoices) carry a ``version`` for optimistic locking.
- Every list is a keyset page on ``(created_at, id)`` behind an equality filter, so each has a
  composite index ``(filter, created_at, id)``: a page costs the same at any depth and size.
  The sweeps (due refunds, payments to reconcile) use partial indexes over the few rows in
  the state they look for.
- ``booking_id`` and ``guest_id`` belong to other services: indexed, never foreign keys.
"""

from __future__ import annotations

from typing import Any, Final

from sqlalchemy import (
    JSON,
    BigInteger,
    Boolean,
    CheckConstraint,
    Column,
    ColumnElement,
    Date,
    ForeignKey,
    Identity,
    Index,
    Integer,
    LargeBinary,
    SmallInteger,
    String,
    Table,
    Text,
    UniqueConstraint,
    Uuid,
    false,
    literal_column,
)
from sqlalchemy.types import CHAR

# The disputes table is declared in a module of its own, on the same metadata.
from payment_adapters.sqlalchemy import _dispute_tables
from payment_adapters.sqlalchemy._metadata import NAMING_CONVENTION, metadata
from payment_adapters.sqlalchemy.types import UTCDateTime

__all__ = [
    "CAPTURES_IN_FLIGHT",
    "ENCRYPTED_COLUMNS",
    "HOLDS",
    "HOLDS_TO_WARN",
    "NAMING_CONVENTION",
    "NOTIFY_CHANNEL",
    "billing_records",
    "bookings",
    "console_sessions",
    "credit_note_number_counters",
    "credit_notes",
    "idempotency_keys",
    "inbox",
    "invoice_number_counters",
    "invoices",
    "metadata",
    "outbox",
    "payment_methods",
    "payments",
    "refunds",
    "webhooks",
]


# A BIGINT primary key that is an identity on PostgreSQL and SQLite's rowid alias (which must
# be spelled INTEGER) there, so that it autoincrements on both.
_BIGSERIAL = BigInteger().with_variant(Integer(), "sqlite")


def _partial(where: str) -> dict[str, Any]:
    """Index options for a partial index on both databases."""
    clause: ColumnElement[bool] = literal_column(where)
    return {"postgresql_where": clause, "sqlite_where": clause}


def _non_negative(*columns: str) -> list[CheckConstraint]:
    return [CheckConstraint(f"{c} >= 0", name=f"{c}_non_negative") for c in columns]


_STATUS = String(16)
_CURRENCY = CHAR(3)
_PROVIDER = String(32)
_TOKEN = String(255)

#: Holds the expiry sweep looks at (a capture in flight is left to reconciliation).
HOLDS: Final = "status = 'AUTHORIZED' AND amount_capture_pending = 0"
#: ... of which those not warned yet.
HOLDS_TO_WARN: Final = f"{HOLDS} AND expiry_warned_at IS NULL"
#: Captures whose outcome is not known yet (reconciliation asks about them).
CAPTURES_IN_FLIGHT: Final = "amount_capture_pending > 0"

# ------------------------------------------------------------------------------ payments
payments = Table(
    "payments",
    metadata,
    Column("id", Uuid, primary_key=True),
    Column("reference", String(64), nullable=False, unique=True),
    Column("booking_id", Uuid, nullable=False),
    Column("guest_id", Uuid, nullable=False),
    Column("amount", BigInteger, nullable=False),
    Column("currency", _CURRENCY, nullable=False),
    Column("provider", _PROVIDER, nullable=False),
    Column("status", _STATUS, nullable=False),
    Column("payment_method", _TOKEN),
    Column("provider_payment_id", _TOKEN),
    Column("client_secret", LargeBinary),  # encrypted
    Column("amount_refunded", BigInteger, nullable=False),
    Column("amount_refund_pending", BigInteger, nullable=False),
    Column("card_brand", String(32)),
    Column("card_last4", CHAR(4)),
    Column("card_exp_month", SmallInteger),
    Column("card_exp_year", SmallInteger),
    Column("failure_code", String(64)),
    Column("failure_message", Text),
    Column("next_action_type", String(32)),
    Column("next_action_url", Text),
    Column("description", LargeBinary),  # encrypted
    Column("metadata", LargeBinary),  # encrypted JSON object; NULL is {}
    Column("reconcile_at", UTCDateTime),
    Column("reconcile_attempts", Integer, nullable=False),
    Column("created_at", UTCDateTime, nullable=False),
    Column("updated_at", UTCDateTime, nullable=False),
    Column("version", Integer, nullable=False),
    # Added by revision 0002 (hence last, and a default for the rows that were there).
    Column("refund_on_completion", Boolean, nullable=False, server_default=false()),
    # Added by revision 0004: the idempotent request that confirmed or cancelled it.
    Column("moved_by_request", Uuid),
    # Added by revision 0007: card holds and saved payment methods.
    Column("capture_method", String(16), nullable=False, server_default="automatic"),
    Column("amount_capturable", BigInteger, nullable=False, server_default="0"),
    Column("amount_captured", BigInteger, nullable=False, server_default="0"),
    Column("amount_capture_pending", BigInteger, nullable=False, server_default="0"),
    Column("authorization_expires_at", UTCDateTime),
    Column("expiry_warned_at", UTCDateTime),
    Column("hold_moved_by_request", Uuid),
    # Our own saved method (not a foreign key: a method points back at the payment that
    # saved it, and neither may wait on the other).
    Column("payment_method_id", Uuid),
    Column("off_session", Boolean, nullable=False, server_default=false()),
    Column("setup_future_usage", String(16)),
    CheckConstraint("amount > 0", name="amount_positive"),
    *_non_negative(
        "amount_refunded",
        "amount_refund_pending",
        "amount_capturable",
        "amount_captured",
        "amount_capture_pending",
    ),
    # The refund invariant, held by the database too: never more out or on hold than was
    # captured (revision 0007; before it, than the amount).
    CheckConstraint(
        "amount_refunded + amount_refund_pending <= amount_captured",
        name="refunds_within_captured",
    ),
    CheckConstraint("amount_captured <= amount", name="captured_within_amount"),
    CheckConstraint("amount_capturable <= amount", name="capturable_within_amount"),
    CheckConstraint(
        "amount_capture_pending <= amount_capturable", name="capture_within_capturable"
    ),
    CheckConstraint("capture_method IN ('automatic', 'manual')", name="capture_method_known"),
    CheckConstraint(
        "status IN ('PENDING', 'PROCESSING', 'COMPLETED', 'FAILED', 'CANCELLED', "
        "'AUTHORIZED', 'EXPIRED')",
        name="status_known",
    ),
    Index("ix_payments_booking_page", "booking_id", "created_at", "id"),
    Index("ix_payments_guest_page", "guest_id", "created_at", "id"),
    Index("ix_payments_provider_payment_id", "provider", "provider_payment_id"),
    # The reconciliation sweep reads only PROCESSING payments, oldest due first.
    Index("ix_payments_reconcile_due", "reconcile_at", "id", **_partial("status = 'PROCESSING'")),
    # The console's search, newest first: by time alone, and by status and time (revision 0006).
    Index("ix_payments_created_page", "created_at", "id"),
    Index("ix_payments_status_page", "status", "created_at", "id"),
    # Reconciliation also reads captures in flight; the hold sweep, holds by their expiry:
    # warnings not told yet, and every hold (revision 0007). ``status`` leads the hold
    # indexes, constant as it is, so that SQLite's planner (which has no statistics) takes
    # them over the status page index and a sort.
    Index("ix_payments_capture_due", "reconcile_at", "id", **_partial(CAPTURES_IN_FLIGHT)),
    Index("ix_payments_hold_expiry", "status", "authorization_expires_at", "id", **_partial(HOLDS)),
    Index(
        "ix_payments_hold_warning",
        "status",
        "authorization_expires_at",
        "id",
        **_partial(HOLDS_TO_WARN),
    ),
)

# ------------------------------------------------------------------------------ payment methods
# A guest's saved cards (revision 0007). The provider's token and customer id are sealed like
# every secret; the card is what a person may see. ``payment_id`` is the payment whose
# success saved it, once.
payment_methods = Table(
    "payment_methods",
    metadata,
    Column("id", Uuid, primary_key=True),
    Column("guest_id", Uuid, nullable=False),
    Column("provider", _PROVIDER, nullable=False),
    Column("type", String(16), nullable=False),
    Column("provider_token", LargeBinary, nullable=False),  # encrypted
    Column("provider_customer_id", LargeBinary),  # encrypted
    Column("card_brand", String(32)),
    Column("card_last4", CHAR(4)),
    Column("card_exp_month", SmallInteger),
    Column("card_exp_year", SmallInteger),
    Column("status", _STATUS, nullable=False),
    Column("payment_id", Uuid, unique=True),
    Column("created_at", UTCDateTime, nullable=False),
    Column("updated_at", UTCDateTime, nullable=False),
    Column("version", Integer, nullable=False),
    CheckConstraint("status IN ('ACTIVE', 'DETACHED')", name="status_known"),
    Index("ix_payment_methods_guest_page", "guest_id", "created_at", "id"),
)

# ------------------------------------------------------------------------------ refunds
refunds = Table(
    "refunds",
    metadata,
    Column("id", Uuid, primary_key=True),
    Column("reference", String(64), nullable=False, unique=True),
    Column("payment_id", Uuid, ForeignKey("payments.id"), nullable=False),
    Column("booking_id", Uuid, nullable=False),
    Column("guest_id", Uuid, nullable=False),
    Column("amount", BigInteger, nullable=False),
    Column("currency", _CURRENCY, nullable=False),
    Column("provider", _PROVIDER, nullable=False),
    Column("status", _STATUS, nullable=False),
    Column("reason", String(64)),
    Column("attempts", Integer, nullable=False),
    Column("next_retry_at", UTCDateTime),
    Column("failure_reason", Text),
    Column("last_error", Text),
    Column("provider_refund_id", _TOKEN),
    Column("key_generation", Integer, nullable=False),
    Column("created_at", UTCDateTime, nullable=False),
    Column("updated_at", UTCDateTime, nullable=False),
    Column("version", Integer, nullable=False),
    # Added by revision 0004: the idempotent request that made its latest attempt.
    Column("attempted_by_request", Uuid),
    CheckConstraint("amount > 0", name="amount_positive"),
    CheckConstraint(
        "status IN ('PENDING', 'PROCESSING', 'COMPLETED', 'FAILED')", name="status_known"
    ),
    Index("ix_refunds_payment_page", "payment_id", "created_at", "id"),
    Index("ix_refunds_booking_page", "booking_id", "created_at", "id"),
    Index("ix_refunds_provider_refund_id", "provider", "provider_refund_id"),
    # The retry worker reads PENDING refunds that are due; the watchdog, PROCESSING ones.
    Index("ix_refunds_due", "next_retry_at", "id", **_partial("status = 'PENDING'")),
    Index("ix_refunds_stuck", "updated_at", "id", **_partial("status = 'PROCESSING'")),
    # The console's overview (refunds by day) and its list of FAILED refunds (revision 0006).
    Index("ix_refunds_created_page", "created_at", "id"),
    Index("ix_refunds_failed_page", "created_at", "id", **_partial("status = 'FAILED'")),
)

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
    Column("status", _STATUS, nullable=False),
    Column("booking_id", Uuid, nullable=False),
    Column("guest_id", Uuid, nullable=False),
    Column("currency", _CURRENCY, nullable=False),
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
    *_non_negative("subtotal", "tax", "total", "amount_paid", "amount_applied", "amount_credited"),
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
        **_partial("status IN ('OPEN', 'UNCOLLECTIBLE')"),
    ),
    # What a payment already paid: summed under its row lock whenever it pays an invoice.
    Index("ix_invoices_applied_payment", "payment_id", **_partial("amount_applied > 0")),
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
    Column("currency", _CURRENCY, nullable=False),
    Column("reason", String(64)),
    Column("memo", LargeBinary),  # encrypted
    Column("refund_id", Uuid, ForeignKey("refunds.id")),
    Column("created_at", UTCDateTime, nullable=False),
    Column("version", Integer, nullable=False),
    UniqueConstraint("invoice_id", "refund_id"),
    CheckConstraint("amount > 0", name="amount_positive"),
    CheckConstraint("tax >= 0 AND tax <= amount", name="tax_within_amount"),
    Index("ix_credit_notes_invoice_page", "invoice_id", "created_at", "id"),
    Index("ix_credit_notes_refund_id", "refund_id", **_partial("refund_id IS NOT NULL")),
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
    Column("currency", _CURRENCY, nullable=False),
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

# ------------------------------------------------------------------------------ idempotency
idempotency_keys = Table(
    "idempotency_keys",
    metadata,
    Column("key", String(255), primary_key=True),
    Column("fingerprint", String(128), nullable=False),
    # Set while a request holds the key; NULL once its response is stored.
    Column("locked_at", UTCDateTime),
    Column("response_status", SmallInteger),
    Column("response_body", LargeBinary),  # encrypted: responses carry client secrets
    Column("response_content_type", String(255)),
    Column("created_at", UTCDateTime, nullable=False),
    Column("expires_at", UTCDateTime, nullable=False),
    Index("ix_idempotency_keys_expires_at", "expires_at"),
)

# ------------------------------------------------------------------------------ outbox
# Written by the unit of work in the transaction of the change; read and marked published by
# the relay (payment_adapters.sqlalchemy.outbox). ``sequence`` is the delivery order.
outbox = Table(
    "outbox",
    metadata,
    Column("sequence", _BIGSERIAL, Identity(), primary_key=True),
    Column("id", Uuid, nullable=False, unique=True),  # the event id
    Column("type", Text, nullable=False),
    Column("stream_id", Uuid, nullable=False),
    # The CloudEvents JSON (encode_event), encrypted: events carry descriptions, metadata and
    # notes. Rows an earlier version wrote may be plain JSON still; rotate-keys seals them.
    Column("body", LargeBinary, nullable=False),
    Column("created_at", UTCDateTime, nullable=False),
    Column("published_at", UTCDateTime),
    # The relay's query: unpublished rows in sequence order; small however large the table.
    Index("ix_outbox_unpublished", "sequence", **_partial("published_at IS NULL")),
    # Retention deletes published rows older than a cutoff.
    Index("ix_outbox_published_at", "published_at", **_partial("published_at IS NOT NULL")),
    # A payment's events for the console's timeline (revision 0006).
    Index("ix_outbox_stream", "stream_id", "sequence"),
    sqlite_autoincrement=True,
)
#: The channel a commit that wrote outbox rows notifies, and the relay listens on (PostgreSQL).
NOTIFY_CHANNEL: Final = "payments_outbox"

# ------------------------------------------------------------------------------ inbox
inbox = Table(
    "inbox",
    metadata,
    Column("consumer", String(64), primary_key=True),
    Column("event_id", String(255), primary_key=True),
    Column("handled_at", UTCDateTime, nullable=False),
)

# ------------------------------------------------------------------------------ bookings
# One row per booking the booking-event consumer has handled: both of its handlers lock the
# row first, so a booking's created and cancelled never interleave across workers, and a
# booking.created that arrives after its booking.cancelled creates nothing.
bookings = Table(
    "bookings",
    metadata,
    Column("id", Uuid, primary_key=True),
    Column("seen_at", UTCDateTime, nullable=False),
    Column("cancelled_at", UTCDateTime),
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

# ------------------------------------------------------------------------------ webhooks
webhooks = Table(
    "webhooks",
    metadata,
    Column("id", Uuid, primary_key=True),
    Column("provider", _PROVIDER, nullable=False),
    Column("event_id", String(255), nullable=False),
    Column("body", LargeBinary, nullable=False),  # encrypted
    Column("received_at", UTCDateTime, nullable=False),
    Column("processed_at", UTCDateTime),
    UniqueConstraint("provider", "event_id"),
    # The console's list, newest first, and its list of webhooks not processed (revision 0006).
    Index("ix_webhooks_received_page", "received_at", "id"),
    Index("ix_webhooks_unprocessed", "received_at", "id", **_partial("processed_at IS NULL")),
)

# ------------------------------------------------------------------------------ console
# Operator console sessions (payment_http.console). The cookie carries a random token; only
# its SHA-256 is stored, so reading this table gives no session away. Signing out sets
# ``revoked_at``: the cookie stops working in every process at once.
console_sessions = Table(
    "console_sessions",
    metadata,
    Column("token_hash", CHAR(64), primary_key=True),
    Column("key_id", String(32), nullable=False),
    Column("created_at", UTCDateTime, nullable=False),
    Column("last_seen_at", UTCDateTime, nullable=False),
    Column("expires_at", UTCDateTime, nullable=False),
    Column("revoked_at", UTCDateTime),
    Index("ix_console_sessions_expires_at", "expires_at"),
)

#: Every encrypted column, by table: (table, its key column, encrypted columns).
ENCRYPTED_COLUMNS: Final[tuple[tuple[Table, str, tuple[str, ...]], ...]] = (
    (payments, "id", ("client_secret", "description", "metadata")),
    (payment_methods, "id", ("provider_token", "provider_customer_id")),
    (invoices, "id", ("notes", "customer")),
    (credit_notes, "id", ("memo",)),
    (_dispute_tables.disputes, "id", ("evidence",)),
    (webhooks, "id", ("body",)),
    (idempotency_keys, "key", ("response_body",)),
    (outbox, "id", ("body",)),
)

"""Payments, the guests' saved cards and refunds."""

from __future__ import annotations

from typing import Final

from sqlalchemy import (
    BigInteger,
    Boolean,
    CheckConstraint,
    Column,
    ForeignKey,
    Index,
    Integer,
    LargeBinary,
    SmallInteger,
    String,
    Table,
    Text,
    Uuid,
    false,
)
from sqlalchemy.types import CHAR

from payment_adapters.sqlalchemy.tables._base import (
    CURRENCY,
    PROVIDER,
    STATUS,
    TOKEN,
    metadata,
    non_negative,
    partial,
)
from payment_adapters.sqlalchemy.types import UTCDateTime

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
    Column("currency", CURRENCY, nullable=False),
    Column("provider", PROVIDER, nullable=False),
    Column("status", STATUS, nullable=False),
    Column("payment_method", TOKEN),
    Column("provider_payment_id", TOKEN),
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
    *non_negative(
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
    Index("ix_payments_reconcile_due", "reconcile_at", "id", **partial("status = 'PROCESSING'")),
    # The console's search, newest first: by time alone, and by status and time (revision 0006).
    Index("ix_payments_created_page", "created_at", "id"),
    Index("ix_payments_status_page", "status", "created_at", "id"),
    # Reconciliation also reads captures in flight; the hold sweep, holds by their expiry:
    # warnings not told yet, and every hold (revision 0007). ``status`` leads the hold
    # indexes, constant as it is, so that SQLite's planner (which has no statistics) takes
    # them over the status page index and a sort.
    Index("ix_payments_capture_due", "reconcile_at", "id", **partial(CAPTURES_IN_FLIGHT)),
    Index("ix_payments_hold_expiry", "status", "authorization_expires_at", "id", **partial(HOLDS)),
    Index(
        "ix_payments_hold_warning",
        "status",
        "authorization_expires_at",
        "id",
        **partial(HOLDS_TO_WARN),
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
    Column("provider", PROVIDER, nullable=False),
    Column("type", String(16), nullable=False),
    Column("provider_token", LargeBinary, nullable=False),  # encrypted
    Column("provider_customer_id", LargeBinary),  # encrypted
    Column("card_brand", String(32)),
    Column("card_last4", CHAR(4)),
    Column("card_exp_month", SmallInteger),
    Column("card_exp_year", SmallInteger),
    Column("status", STATUS, nullable=False),
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
    Column("currency", CURRENCY, nullable=False),
    Column("provider", PROVIDER, nullable=False),
    Column("status", STATUS, nullable=False),
    Column("reason", String(64)),
    Column("attempts", Integer, nullable=False),
    Column("next_retry_at", UTCDateTime),
    Column("failure_reason", Text),
    Column("last_error", Text),
    Column("provider_refund_id", TOKEN),
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
    Index("ix_refunds_due", "next_retry_at", "id", **partial("status = 'PENDING'")),
    Index("ix_refunds_stuck", "updated_at", "id", **partial("status = 'PROCESSING'")),
    # The console's overview (refunds by day) and its list of FAILED refunds (revision 0006).
    Index("ix_refunds_created_page", "created_at", "id"),
    Index("ix_refunds_failed_page", "created_at", "id", **partial("status = 'FAILED'")),
)

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

from typing import Final

from sqlalchemy import Table

from payment_adapters.sqlalchemy.tables._base import NAMING_CONVENTION, metadata
from payment_adapters.sqlalchemy.tables._disputes import DISPUTE_STATUSES, OPEN_DISPUTES, disputes
from payment_adapters.sqlalchemy.tables._documents import (
    billing_records,
    credit_note_number_counters,
    credit_notes,
    invoice_number_counters,
    invoices,
)
from payment_adapters.sqlalchemy.tables._payments import (
    CAPTURES_IN_FLIGHT,
    HOLDS,
    HOLDS_TO_WARN,
    payment_methods,
    payments,
    refunds,
)
from payment_adapters.sqlalchemy.tables._plans import (
    DEFAULTED,
    PLAN_STATUSES,
    PLANS_AWAKE,
    payment_plans,
)
from payment_adapters.sqlalchemy.tables._plumbing import (
    NOTIFY_CHANNEL,
    bookings,
    console_sessions,
    idempotency_keys,
    inbox,
    outbox,
    webhooks,
)

__all__ = [
    "CAPTURES_IN_FLIGHT",
    "DEFAULTED",
    "DISPUTE_STATUSES",
    "ENCRYPTED_COLUMNS",
    "HOLDS",
    "HOLDS_TO_WARN",
    "NAMING_CONVENTION",
    "NOTIFY_CHANNEL",
    "OPEN_DISPUTES",
    "PLANS_AWAKE",
    "PLAN_STATUSES",
    "billing_records",
    "bookings",
    "console_sessions",
    "credit_note_number_counters",
    "credit_notes",
    "disputes",
    "idempotency_keys",
    "inbox",
    "invoice_number_counters",
    "invoices",
    "metadata",
    "outbox",
    "payment_methods",
    "payment_plans",
    "payments",
    "refunds",
    "webhooks",
]

#: Every encrypted column, by table: (table, its key column, encrypted columns).
ENCRYPTED_COLUMNS: Final[tuple[tuple[Table, str, tuple[str, ...]], ...]] = (
    (payments, "id", ("client_secret", "description", "metadata")),
    (payment_methods, "id", ("provider_token", "provider_customer_id")),
    (invoices, "id", ("notes", "customer")),
    (credit_notes, "id", ("memo",)),
    (disputes, "id", ("evidence",)),
    (payment_plans, "id", ("cancellation_reason",)),
    (webhooks, "id", ("body",)),
    (idempotency_keys, "key", ("response_body",)),
    (outbox, "id", ("body",)),
)

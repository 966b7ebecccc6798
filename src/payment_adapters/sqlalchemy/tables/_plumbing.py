"""What keeps requests and events exactly once: idempotency keys, the outbox and inbox, the
booking locks, stored webhooks and the console's sessions."""

from __future__ import annotations

from typing import Final

from sqlalchemy import (
    Column,
    Identity,
    Index,
    LargeBinary,
    SmallInteger,
    String,
    Table,
    Text,
    UniqueConstraint,
    Uuid,
)
from sqlalchemy.types import CHAR

from payment_adapters.sqlalchemy.tables._base import (
    BIGSERIAL,
    PROVIDER,
    metadata,
    partial,
)
from payment_adapters.sqlalchemy.types import UTCDateTime

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
    Column("sequence", BIGSERIAL, Identity(), primary_key=True),
    Column("id", Uuid, nullable=False, unique=True),  # the event id
    Column("type", Text, nullable=False),
    Column("stream_id", Uuid, nullable=False),
    # The CloudEvents JSON (encode_event), encrypted: events carry descriptions, metadata and
    # notes. Rows an earlier version wrote may be plain JSON still; rotate-keys seals them.
    Column("body", LargeBinary, nullable=False),
    Column("created_at", UTCDateTime, nullable=False),
    Column("published_at", UTCDateTime),
    # The relay's query: unpublished rows in sequence order; small however large the table.
    Index("ix_outbox_unpublished", "sequence", **partial("published_at IS NULL")),
    # Retention deletes published rows older than a cutoff.
    Index("ix_outbox_published_at", "published_at", **partial("published_at IS NOT NULL")),
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

# ------------------------------------------------------------------------------ webhooks
webhooks = Table(
    "webhooks",
    metadata,
    Column("id", Uuid, primary_key=True),
    Column("provider", PROVIDER, nullable=False),
    Column("event_id", String(255), nullable=False),
    Column("body", LargeBinary, nullable=False),  # encrypted
    Column("received_at", UTCDateTime, nullable=False),
    Column("processed_at", UTCDateTime),
    UniqueConstraint("provider", "event_id"),
    # The console's list, newest first, and its list of webhooks not processed (revision 0006).
    Index("ix_webhooks_received_page", "received_at", "id"),
    Index("ix_webhooks_unprocessed", "received_at", "id", **partial("processed_at IS NULL")),
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

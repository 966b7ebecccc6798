"""The console read model's records: summaries with no secret field in them, by construction.

A :class:`PaymentSummary` has no client secret, no payment method token, no description and no
metadata; a :class:`WebhookSummary` carries the stored body only for the console to translate
with its provider (it never reaches a page).
"""

from __future__ import annotations

from datetime import date, datetime
from uuid import UUID

import attrs

__all__ = [
    "DailyDisputes",
    "DailyPayments",
    "DailyRefunds",
    "OutboxBacklog",
    "OutboxItem",
    "PaymentFilter",
    "PaymentSummary",
    "RefundSummary",
    "SessionRecord",
    "StreamEvent",
    "WebhookSummary",
]


@attrs.frozen(slots=True)
class PaymentFilter:
    """What the search looks for; every field set must match. Times are ``[from, until)``."""

    booking_id: UUID | None = None
    guest_id: UUID | None = None
    reference: str | None = None
    status: str | None = None
    created_from: datetime | None = None
    created_until: datetime | None = None


@attrs.frozen(slots=True)
class PaymentSummary:
    id: UUID
    reference: str
    booking_id: UUID
    guest_id: UUID
    amount: int
    currency: str
    status: str
    provider: str
    amount_refunded: int
    card_brand: str | None
    card_last4: str | None
    failure_code: str | None
    reconcile_attempts: int
    created_at: datetime
    updated_at: datetime


@attrs.frozen(slots=True)
class RefundSummary:
    id: UUID
    reference: str
    payment_id: UUID
    amount: int
    currency: str
    status: str
    reason: str | None
    attempts: int
    next_retry_at: datetime | None
    failure_reason: str | None
    last_error: str | None
    created_at: datetime
    updated_at: datetime


@attrs.frozen(slots=True)
class DailyPayments:
    """Payments created on ``day`` (UTC) in one currency and status."""

    day: date
    currency: str
    status: str
    count: int
    amount: int
    amount_refunded: int


@attrs.frozen(slots=True)
class DailyRefunds:
    """Refunds created on ``day`` (UTC) in one currency and status."""

    day: date
    currency: str
    status: str
    count: int
    amount: int


@attrs.frozen(slots=True)
class DailyDisputes:
    """Disputes opened on ``day`` (UTC) in one currency, by the state they are in now."""

    day: date
    currency: str
    status: str
    count: int
    amount: int


@attrs.frozen(slots=True)
class WebhookSummary:
    id: UUID
    provider: str
    event_id: str
    received_at: datetime
    processed_at: datetime | None
    body: bytes = attrs.field(repr=False)


@attrs.frozen(slots=True)
class OutboxItem:
    sequence: int
    type: str
    stream_id: UUID
    created_at: datetime


@attrs.frozen(slots=True)
class OutboxBacklog:
    """Events committed and not yet published: how many, since when, of which types, the
    first few in delivery order."""

    pending: int
    oldest: datetime | None
    by_type: tuple[tuple[str, int], ...]
    first: tuple[OutboxItem, ...]


@attrs.frozen(slots=True)
class StreamEvent:
    """One event of a payment's stream (the payment's and its refunds')."""

    type: str
    created_at: datetime
    published_at: datetime | None


@attrs.frozen(slots=True)
class SessionRecord:
    """A console session; ``token_hash`` is the SHA-256 (hex) of the cookie's token."""

    token_hash: str
    key_id: str
    created_at: datetime
    last_seen_at: datetime
    expires_at: datetime
    revoked_at: datetime | None = None

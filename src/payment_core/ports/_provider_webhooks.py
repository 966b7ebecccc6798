"""Provider webhooks as the core reads them (re-exported by
:mod:`payment_core.ports.providers`)."""

from __future__ import annotations

from datetime import datetime
from enum import StrEnum
from uuid import UUID

import attrs

from payment_core.model.payment import Card
from payment_core.money import Money
from payment_core.outside_text import screen_code, screen_text
from payment_core.ports._provider_disputes import ProviderDispute
from payment_core.ports._provider_payments import SavedPaymentMethod

__all__ = ["WebhookEvent", "WebhookKind"]


class WebhookKind(StrEnum):
    """What a provider event means for us, whatever the provider calls it."""

    PAYMENT_SUCCEEDED = "payment_succeeded"
    #: A hold was placed (authorized, waiting for a capture).
    PAYMENT_AUTHORIZED = "payment_authorized"
    PAYMENT_FAILED = "payment_failed"
    PAYMENT_PROCESSING = "payment_processing"
    PAYMENT_REQUIRES_ACTION = "payment_requires_action"
    PAYMENT_CANCELED = "payment_canceled"
    REFUND_SUCCEEDED = "refund_succeeded"
    REFUND_FAILED = "refund_failed"
    #: A dispute opened, moved, closed, or its funds moved (``dispute`` says which).
    DISPUTE = "dispute"
    IGNORED = "ignored"


@attrs.frozen(slots=True)
class WebhookEvent:
    """A verified provider event, translated."""

    id: str
    type: str
    kind: WebhookKind
    created_at: datetime
    provider_payment_id: str | None = None
    provider_refund_id: str | None = None
    payment_id: UUID | None = None
    #: ``None`` when the event does not say (or not as an amount in a known currency): that is
    #: a mismatch, never "the amount we expected".
    amount: Money | None = None
    card: Card | None = None
    failure_code: str | None = attrs.field(default=None, converter=screen_code)
    failure_message: str | None = attrs.field(default=None, converter=screen_text)
    #: Minor units held (a hold placed), when the event says.
    amount_capturable: int | None = None
    #: The card saved for later (``setup_future_usage``), when the event says.
    saved_method: SavedPaymentMethod | None = None
    #: The id our own create gave the payment before the provider named it (Square's
    #: ``sqpending_…``, derived from the event's own fields): the provider's id replaces it.
    placeholder_payment_id: str | None = None
    #: The dispute a ``DISPUTE`` event reports.
    dispute: ProviderDispute | None = None

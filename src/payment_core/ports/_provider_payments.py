"""The payment operations of a provider: their requests and the provider's account of a
payment (re-exported by :mod:`payment_core.ports.providers`)."""

from __future__ import annotations

from collections.abc import Mapping
from datetime import datetime
from enum import StrEnum
from uuid import UUID

import attrs

from payment_core.model.payment import CaptureMethod, Card, NextAction
from payment_core.money import Money
from payment_core.outside_text import screen_code, screen_text

__all__ = [
    "CancelPaymentRequest",
    "ConfirmPaymentRequest",
    "CreatePaymentRequest",
    "ProviderPayment",
    "ProviderPaymentStatus",
    "RetrievePaymentRequest",
    "SavedPaymentMethod",
]


class ProviderPaymentStatus(StrEnum):
    REQUIRES_PAYMENT_METHOD = "requires_payment_method"
    REQUIRES_CONFIRMATION = "requires_confirmation"
    REQUIRES_ACTION = "requires_action"
    PROCESSING = "processing"
    #: Authorized and held, waiting for a capture (``capture_method=manual``).
    REQUIRES_CAPTURE = "requires_capture"
    SUCCEEDED = "succeeded"
    FAILED = "failed"
    CANCELED = "canceled"


@attrs.frozen(slots=True)
class CreatePaymentRequest:
    """Ask a provider to set up a payment (a PaymentIntent, an Order, ...).

    ``capture_method=manual`` asks for a hold; ``setup_future_usage="off_session"`` asks the
    provider to save the card once the payment succeeds (under ``customer_id`` when the guest
    has a customer there already); ``saved_payment_method`` (a saved method's provider token,
    with its ``customer_id``) and ``off_session`` charge a saved card without the guest.
    """

    payment_id: UUID
    amount: Money
    idempotency_key: str
    description: str | None = None
    metadata: Mapping[str, str] = attrs.field(factory=dict)
    payment_method: str | None = None
    capture_method: CaptureMethod = CaptureMethod.AUTOMATIC
    setup_future_usage: str | None = None
    off_session: bool = False
    saved_payment_method: str | None = attrs.field(default=None, repr=False)
    customer_id: str | None = attrs.field(default=None, repr=False)


@attrs.frozen(slots=True)
class ConfirmPaymentRequest:
    """Ask a provider to take the money (or, with ``capture_method=manual``, to hold it).

    ``verification_token`` is the buyer's proof of Strong Customer Authentication, for a
    provider that takes one (:attr:`PaymentProvider.takes_verification_token`); an attempt with
    one has its own ``idempotency_key``. A charge of a saved card has ``saved_payment_method``
    (and ``payment_method`` is that same token), its ``customer_id``, and ``off_session`` when
    the guest is not there (merchant-initiated).
    """

    payment_id: UUID
    provider_payment_id: str | None
    amount: Money
    payment_method: str
    idempotency_key: str
    verification_token: str | None = attrs.field(default=None, repr=False)
    capture_method: CaptureMethod = CaptureMethod.AUTOMATIC
    setup_future_usage: str | None = None
    off_session: bool = False
    saved_payment_method: str | None = attrs.field(default=None, repr=False)
    customer_id: str | None = attrs.field(default=None, repr=False)


@attrs.frozen(slots=True)
class RetrievePaymentRequest:
    """Ask a provider where a payment stands (reconciliation).

    The services ask only about payments they are confirming, so a provider that never saw
    the confirm may make it now: ``idempotency_key`` is the key of that confirm, its own (a
    provider whose first confirm key must be asked again, as Square's, keeps to that one).
    """

    payment_id: UUID
    provider_payment_id: str | None
    amount: Money
    idempotency_key: str
    payment_method: str | None = None
    capture_method: CaptureMethod = CaptureMethod.AUTOMATIC


@attrs.frozen(slots=True)
class CancelPaymentRequest:
    """Ask a provider to release a payment that will not be confirmed, or a hold that will
    not be captured."""

    payment_id: UUID
    provider_payment_id: str | None
    amount: Money
    idempotency_key: str
    payment_method: str | None = None


@attrs.frozen(slots=True)
class SavedPaymentMethod:
    """A card the provider saved for charges without the guest: what charges it again."""

    #: The provider's id of the saved card (never the token the browser sent).
    token: str = attrs.field(repr=False)
    customer_id: str | None = attrs.field(default=None, repr=False)
    card: Card | None = None


@attrs.frozen(slots=True)
class ProviderPayment:
    """A provider's account of a payment, checked against ours before it changes anything."""

    provider_payment_id: str
    status: ProviderPaymentStatus
    amount: Money
    #: Our payment id as the provider echoes it back (metadata), when it does.
    payment_id: UUID | None = None
    card: Card | None = None
    next_action: NextAction | None = None
    #: Screened as they are set (:mod:`payment_core.outside_text`): what a provider says may
    #: quote a card number or not fit; a code that is not a code is ``None``.
    failure_code: str | None = attrs.field(default=None, converter=screen_code)
    failure_message: str | None = attrs.field(default=None, converter=screen_text)
    client_secret: str | None = attrs.field(default=None, repr=False)
    #: Minor units held and not captured (a hold), when the provider says.
    amount_capturable: int | None = None
    #: Minor units taken (captured), when the provider says.
    amount_received: int | None = None
    #: When the provider lets the hold go, when it says.
    authorization_expires_at: datetime | None = None
    #: The card saved for later (``setup_future_usage``), once the payment succeeded.
    saved_method: SavedPaymentMethod | None = None

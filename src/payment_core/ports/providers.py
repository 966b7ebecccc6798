"""Providers: the :class:`PaymentProvider` port, one request type per operation (each that
may move money carrying its own idempotency key), the providers' replies and their webhooks
as the core reads them."""

from __future__ import annotations

from collections.abc import Mapping
from datetime import datetime
from enum import StrEnum
from typing import Protocol
from uuid import UUID

import attrs

from payment_core.model.payment import Card, NextAction
from payment_core.money import Money
from payment_core.outside_text import screen_code, screen_text

__all__ = [
    "CancelPaymentRequest",
    "ConfirmPaymentRequest",
    "CreatePaymentRequest",
    "PaymentProvider",
    "ProviderPayment",
    "ProviderPaymentStatus",
    "ProviderRefund",
    "ProviderRefundStatus",
    "RefundRequest",
    "RetrievePaymentRequest",
    "RetrieveRefundRequest",
    "WebhookEvent",
    "WebhookKind",
]


class ProviderPaymentStatus(StrEnum):
    REQUIRES_PAYMENT_METHOD = "requires_payment_method"
    REQUIRES_CONFIRMATION = "requires_confirmation"
    REQUIRES_ACTION = "requires_action"
    PROCESSING = "processing"
    SUCCEEDED = "succeeded"
    FAILED = "failed"
    CANCELED = "canceled"


class ProviderRefundStatus(StrEnum):
    PENDING = "pending"
    SUCCEEDED = "succeeded"
    FAILED = "failed"


@attrs.frozen(slots=True)
class CreatePaymentRequest:
    """Ask a provider to set up a payment (a PaymentIntent, an Order, ...)."""

    payment_id: UUID
    amount: Money
    idempotency_key: str
    description: str | None = None
    metadata: Mapping[str, str] = attrs.field(factory=dict)
    payment_method: str | None = None


@attrs.frozen(slots=True)
class ConfirmPaymentRequest:
    """Ask a provider to take the money.

    ``verification_token`` is the buyer's proof of Strong Customer Authentication, for a
    provider that takes one (:attr:`PaymentProvider.takes_verification_token`); an attempt with
    one has its own ``idempotency_key``.
    """

    payment_id: UUID
    provider_payment_id: str | None
    amount: Money
    payment_method: str
    idempotency_key: str
    verification_token: str | None = attrs.field(default=None, repr=False)


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


@attrs.frozen(slots=True)
class CancelPaymentRequest:
    """Ask a provider to release a payment that will not be confirmed."""

    payment_id: UUID
    provider_payment_id: str | None
    amount: Money
    idempotency_key: str
    payment_method: str | None = None


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


@attrs.frozen(slots=True)
class RefundRequest:
    """Ask a provider to give money back from a payment."""

    refund_id: UUID
    payment_id: UUID
    provider_payment_id: str | None
    amount: Money
    idempotency_key: str
    reason: str | None = None
    payment_method: str | None = None


@attrs.frozen(slots=True)
class RetrieveRefundRequest:
    """Ask a provider where a refund stands; an attempt that never reached it is made again.

    ``payment_id`` and ``reason`` are those of the attempt's :class:`RefundRequest`: a refund
    made again under the attempt's idempotency key must be exactly the same request.
    """

    refund_id: UUID
    provider_refund_id: str | None
    provider_payment_id: str | None
    amount: Money
    idempotency_key: str
    payment_method: str | None = None
    payment_id: UUID | None = None
    reason: str | None = None


@attrs.frozen(slots=True)
class ProviderRefund:
    """A provider's account of a refund."""

    provider_refund_id: str
    status: ProviderRefundStatus
    amount: Money
    #: A code or a short text from the provider, screened as it is set.
    failure_reason: str | None = attrs.field(default=None, converter=screen_text)


class WebhookKind(StrEnum):
    """What a provider event means for us, whatever the provider calls it."""

    PAYMENT_SUCCEEDED = "payment_succeeded"
    PAYMENT_FAILED = "payment_failed"
    PAYMENT_PROCESSING = "payment_processing"
    PAYMENT_REQUIRES_ACTION = "payment_requires_action"
    PAYMENT_CANCELED = "payment_canceled"
    REFUND_SUCCEEDED = "refund_succeeded"
    REFUND_FAILED = "refund_failed"
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
    #: The id our own create gave the payment before the provider named it (Square's
    #: ``sqpending_…``, derived from the event's own fields): the provider's id replaces it.
    placeholder_payment_id: str | None = None


class PaymentProvider(Protocol):
    """One payment provider behind one interface.

    Every request that may move money carries an idempotency key derived from our ids, so a
    retry can never charge or refund twice. Adapters raise only ``ProviderDeclinedError`` (a
    definite no), ``ProviderUnavailableError`` (outcome unknown) or ``ProviderRejectedError``
    (invalid request).
    """

    @property
    def name(self) -> str:
        """The provider's name in the API (``stripe``, ``fake``, ...)."""
        ...

    @property
    def takes_verification_token(self) -> bool:
        """Whether a confirm may bring the buyer's verification token (Square's SCA), and so a
        payment waiting for the buyer may be confirmed again with one."""
        ...

    async def create_payment(self, request: CreatePaymentRequest) -> ProviderPayment:
        """Set up a payment at the provider; nothing is charged yet."""
        ...

    async def confirm_payment(self, request: ConfirmPaymentRequest) -> ProviderPayment:
        """Take the money; a decline is a ``failed`` reply or a ``ProviderDeclinedError``."""
        ...

    async def retrieve_payment(self, request: RetrievePaymentRequest) -> ProviderPayment:
        """Where the payment stands now."""
        ...

    async def cancel_payment(self, request: CancelPaymentRequest) -> None:
        """Release a payment that will not be confirmed (best effort)."""
        ...

    async def refund(self, request: RefundRequest) -> ProviderRefund:
        """Give money back."""
        ...

    async def retrieve_refund(self, request: RetrieveRefundRequest) -> ProviderRefund:
        """Where the refund stands now."""
        ...

    async def prepare_webhook(self, headers: Mapping[str, str], *, now: datetime) -> None:
        """Fetch, without blocking, what verifying a delivery with these headers needs (PayPal's
        signing certificate); nothing for most providers. Never raises: what cannot be had
        makes :meth:`parse_webhook` refuse the delivery."""
        ...

    def parse_webhook(
        self, body: bytes, headers: Mapping[str, str], *, now: datetime
    ) -> WebhookEvent:
        """Verify the signature on the raw body and translate the event (after
        :meth:`prepare_webhook` with the same headers).

        Raises ``WebhookSignatureError`` for a missing, wrong, stale or future signature and
        ``ValidationError`` for a body that is not an event.
        """
        ...

    def translate_webhook(self, body: bytes) -> WebhookEvent:
        """Translate a body whose signature was verified when it arrived (for replays)."""
        ...

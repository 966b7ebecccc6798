"""Providers: the :class:`PaymentProvider` port, one request type per operation (each that
may move money carrying its own idempotency key), the providers' replies and their webhooks
as the core reads them.

The types live in one module per group of operations (payments, holds and saved cards,
refunds, disputes, webhooks); every name is importable from here.
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import datetime
from typing import Protocol

from payment_core.ports._provider_disputes import (
    DisputeProvider,
    FundsMovement,
    ProviderDispute,
    RetrieveDisputeRequest,
    SubmitDisputeEvidenceRequest,
    dispute_provider,
)
from payment_core.ports._provider_holds import (
    CapturePaymentRequest,
    DetachPaymentMethodRequest,
    IncrementAuthorizationRequest,
    ProviderCapabilities,
)
from payment_core.ports._provider_payments import (
    CancelPaymentRequest,
    ConfirmPaymentRequest,
    CreatePaymentRequest,
    ProviderPayment,
    ProviderPaymentStatus,
    RetrievePaymentRequest,
    SavedPaymentMethod,
)
from payment_core.ports._provider_refunds import (
    ProviderRefund,
    ProviderRefundStatus,
    RefundRequest,
    RetrieveRefundRequest,
)
from payment_core.ports._provider_webhooks import WebhookEvent, WebhookKind

__all__ = [
    "CancelPaymentRequest",
    "CapturePaymentRequest",
    "ConfirmPaymentRequest",
    "CreatePaymentRequest",
    "DetachPaymentMethodRequest",
    "DisputeProvider",
    "FundsMovement",
    "IncrementAuthorizationRequest",
    "PaymentProvider",
    "ProviderCapabilities",
    "ProviderDispute",
    "ProviderPayment",
    "ProviderPaymentStatus",
    "ProviderRefund",
    "ProviderRefundStatus",
    "RefundRequest",
    "RetrieveDisputeRequest",
    "RetrievePaymentRequest",
    "RetrieveRefundRequest",
    "SavedPaymentMethod",
    "SubmitDisputeEvidenceRequest",
    "WebhookEvent",
    "WebhookKind",
    "dispute_provider",
]


class PaymentProvider(Protocol):
    """One payment provider behind one interface.

    Every request that may move money carries an idempotency key derived from our ids, so a
    retry can never charge or refund twice. Adapters raise only ``ProviderDeclinedError`` (a
    definite no), ``ProviderUnavailableError`` (outcome unknown) or ``ProviderRejectedError``
    (invalid request; ``NotSupportedByProviderError`` for what it cannot do, which its
    :attr:`capabilities` say beforehand).
    """

    @property
    def name(self) -> str:
        """The provider's name in the API (``stripe``, ``fake``, ...)."""
        ...

    @property
    def capabilities(self) -> ProviderCapabilities:
        """What it can do beyond taking money at once: the core refuses the rest
        (``NotSupportedByProviderError``) before calling."""
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
        """Release a payment that will not be confirmed, or a hold that will not be captured
        (best effort)."""
        ...

    async def capture_payment(self, request: CapturePaymentRequest) -> ProviderPayment:
        """Take (part of) a hold; the rest is released. ``NotSupportedByProviderError`` where
        the provider cannot."""
        ...

    async def increment_authorization(
        self, request: IncrementAuthorizationRequest
    ) -> ProviderPayment:
        """Raise a hold; a decline is ``ProviderDeclinedError`` and leaves the hold as it was.
        ``NotSupportedByProviderError`` where the provider cannot."""
        ...

    async def detach_payment_method(self, request: DetachPaymentMethodRequest) -> None:
        """Forget a saved card at the provider (detaching one twice is no error)."""
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

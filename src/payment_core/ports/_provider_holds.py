"""What a provider can do beyond taking money at once, and the operations on holds and saved
cards (re-exported by :mod:`payment_core.ports.providers`)."""

from __future__ import annotations

from uuid import UUID

import attrs

from payment_core.money import Money

__all__ = [
    "CapturePaymentRequest",
    "DetachPaymentMethodRequest",
    "IncrementAuthorizationRequest",
    "ProviderCapabilities",
]


@attrs.frozen(slots=True)
class ProviderCapabilities:
    """What a provider can do, so that the core refuses what it cannot (422
    ``not_supported_by_provider``) before anything changes or is sent.

    A provider that can hold money (``manual_capture``) can capture and release the hold; the
    rest is said one by one.
    """

    #: Authorize now, capture later (``capture_method=manual``).
    manual_capture: bool = False
    #: Capture less than the hold (the rest is released).
    partial_capture: bool = False
    #: Raise a hold's amount (incremental authorization).
    increment_authorization: bool = False
    #: Save the card while a payment succeeds (``setup_future_usage``).
    save_payment_method: bool = False
    #: Charge a saved card without the guest (merchant-initiated).
    off_session: bool = False

    @classmethod
    def all(cls) -> ProviderCapabilities:
        return cls(True, True, True, True, True)


@attrs.frozen(slots=True)
class CapturePaymentRequest:
    """Ask a provider to take ``amount_to_capture`` of a hold of ``amount``; the rest of the
    hold is released. The reply is the payment, ``succeeded``, with ``amount_received``."""

    payment_id: UUID
    provider_payment_id: str | None
    amount: Money
    amount_to_capture: Money
    idempotency_key: str
    payment_method: str | None = None


@attrs.frozen(slots=True)
class IncrementAuthorizationRequest:
    """Ask a provider to raise a hold to ``amount`` (the new total, above the current
    ``current_amount``); a decline is ``ProviderDeclinedError`` and changes nothing. The reply
    is the payment, still held, with its new ``amount`` and ``amount_capturable``."""

    payment_id: UUID
    provider_payment_id: str | None
    current_amount: Money
    amount: Money
    idempotency_key: str
    payment_method: str | None = None


@attrs.frozen(slots=True)
class DetachPaymentMethodRequest:
    """Ask a provider to forget a saved card: it can never be charged again."""

    payment_method_id: UUID
    provider_token: str = attrs.field(repr=False)
    customer_id: str | None = attrs.field(default=None, repr=False)
    idempotency_key: str = ""

"""Domain errors.

Every error is an ``attrs`` frozen exception carrying the facts of what went wrong, so a caller
(the HTTP layer, a worker, a test) can act on them without parsing a message. All of them derive
from :class:`PaymentError`. ``payment_http.errors`` maps each class to a status and a stable
``code``; the ``code`` attribute here is that stable string.
"""

from __future__ import annotations

from payment_core.errors._base import (
    CaptureExceedsAuthorizedError,
    CaptureInProgressError,
    ConcurrencyError,
    CreditExceedsInvoiceError,
    CurrencyMismatchError,
    IdempotencyKeyReusedError,
    IdempotencyRequestInProgressError,
    InvalidAmountError,
    InvalidTransitionError,
    InvoiceCreditedError,
    InvoiceNotEditableError,
    InvoicePaymentMismatchError,
    MalformedBodyError,
    NotFoundError,
    PaymentError,
    PaymentMethodDetachedError,
    PaymentMethodGuestMismatchError,
    PaymentMethodRequiredError,
    RawCardDataError,
    RefundExceedsRefundableError,
    UnknownCurrencyError,
    UnknownProviderError,
    ValidationError,
    WebhookSignatureError,
)
from payment_core.errors._provider import (
    CardDeclinedError,
    NotSupportedByProviderError,
    ProviderDeclinedError,
    ProviderError,
    ProviderRejectedError,
    ProviderUnavailableError,
)

__all__ = [
    "CaptureExceedsAuthorizedError",
    "CaptureInProgressError",
    "CardDeclinedError",
    "ConcurrencyError",
    "CreditExceedsInvoiceError",
    "CurrencyMismatchError",
    "IdempotencyKeyReusedError",
    "IdempotencyRequestInProgressError",
    "InvalidAmountError",
    "InvalidTransitionError",
    "InvoiceCreditedError",
    "InvoiceNotEditableError",
    "InvoicePaymentMismatchError",
    "MalformedBodyError",
    "NotFoundError",
    "NotSupportedByProviderError",
    "PaymentError",
    "PaymentMethodDetachedError",
    "PaymentMethodGuestMismatchError",
    "PaymentMethodRequiredError",
    "ProviderDeclinedError",
    "ProviderError",
    "ProviderRejectedError",
    "ProviderUnavailableError",
    "RawCardDataError",
    "RefundExceedsRefundableError",
    "UnknownCurrencyError",
    "UnknownProviderError",
    "ValidationError",
    "WebhookSignatureError",
]

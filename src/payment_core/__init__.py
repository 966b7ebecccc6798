"""payment_core: the pure domain of the payment and billing service.

Money in integer minor units, payments, refunds, invoices and a hash-chained billing trail,
the use cases over them, and the ports (``typing.Protocol``) that adapters implement. It
imports nothing but the standard library, ``attrs`` and ``cattrs``.
"""

from payment_core.errors import (
    ConcurrencyError,
    CurrencyMismatchError,
    IdempotencyKeyReusedError,
    IdempotencyRequestInProgressError,
    InvalidAmountError,
    InvalidTransitionError,
    InvoiceNotEditableError,
    NotFoundError,
    PaymentError,
    ProviderDeclinedError,
    ProviderError,
    ProviderRejectedError,
    ProviderUnavailableError,
    RawCardDataError,
    RefundExceedsRefundableError,
    UnknownCurrencyError,
    UnknownProviderError,
    ValidationError,
    WebhookSignatureError,
)
from payment_core.events import (
    DomainEvent,
    InvoiceIssued,
    InvoicePaid,
    InvoiceVoided,
    PaymentCancelled,
    PaymentCompleted,
    PaymentFailed,
    PaymentInitiated,
    RefundCompleted,
    RefundFailed,
    RefundInitiated,
    RefundReversed,
)
from payment_core.model.billing import BillingRecord, BillingRecordType, verify_chain
from payment_core.model.invoice import Invoice, InvoiceStatus, LineItem
from payment_core.model.payment import Card, NextAction, Payment, PaymentStatus
from payment_core.model.refund import Refund, RefundStatus
from payment_core.money import MAX_AMOUNT, Currency, Money
from payment_core.pagination import Page, PageRequest
from payment_core.services import (
    CreateInvoice,
    CreatePayment,
    Dependencies,
    ProviderRegistry,
    ServiceConfig,
    Services,
    UpdateInvoice,
)

__version__ = "0.1.0"

__all__ = [
    "MAX_AMOUNT",
    "BillingRecord",
    "BillingRecordType",
    "Card",
    "ConcurrencyError",
    "CreateInvoice",
    "CreatePayment",
    "Currency",
    "CurrencyMismatchError",
    "Dependencies",
    "DomainEvent",
    "IdempotencyKeyReusedError",
    "IdempotencyRequestInProgressError",
    "InvalidAmountError",
    "InvalidTransitionError",
    "Invoice",
    "InvoiceIssued",
    "InvoiceNotEditableError",
    "InvoicePaid",
    "InvoiceStatus",
    "InvoiceVoided",
    "LineItem",
    "Money",
    "NextAction",
    "NotFoundError",
    "Page",
    "PageRequest",
    "Payment",
    "PaymentCancelled",
    "PaymentCompleted",
    "PaymentError",
    "PaymentFailed",
    "PaymentInitiated",
    "PaymentStatus",
    "ProviderDeclinedError",
    "ProviderError",
    "ProviderRegistry",
    "ProviderRejectedError",
    "ProviderUnavailableError",
    "RawCardDataError",
    "Refund",
    "RefundCompleted",
    "RefundExceedsRefundableError",
    "RefundFailed",
    "RefundInitiated",
    "RefundReversed",
    "RefundStatus",
    "ServiceConfig",
    "Services",
    "UnknownCurrencyError",
    "UnknownProviderError",
    "UpdateInvoice",
    "ValidationError",
    "WebhookSignatureError",
    "__version__",
    "verify_chain",
]

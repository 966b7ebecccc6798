"""The domain's errors about requests, state, amounts, documents and idempotency."""

from __future__ import annotations

from typing import ClassVar
from uuid import UUID

import attrs


class PaymentError(Exception):
    """Root of every error this library raises on purpose."""

    code: ClassVar[str] = "payment_error"

    def __str__(self) -> str:
        return self.describe()

    def describe(self) -> str:
        """A one-line, secret-free description for humans."""
        return self.__class__.__name__


@attrs.frozen(auto_exc=True)
class ValidationError(PaymentError, ValueError):
    """An input is malformed or out of range."""

    code: ClassVar[str] = "validation_error"
    field: str
    reason: str

    def describe(self) -> str:
        return f"{self.field}: {self.reason}"


@attrs.frozen(auto_exc=True)
class MalformedBodyError(ValidationError):
    """A body that cannot be read as JSON at all: not UTF-8, not JSON, nested beyond reason, or
    holding a lone surrogate (which is no text)."""

    code: ClassVar[str] = "malformed_json"


@attrs.frozen(auto_exc=True)
class InvalidAmountError(PaymentError, TypeError):
    """An amount is not an exact integer of minor units (a float, bool, Decimal or str)."""

    code: ClassVar[str] = "invalid_amount"
    value: object = attrs.field(repr=False)
    reason: str

    def describe(self) -> str:
        return f"amount: {self.reason}"


@attrs.frozen(auto_exc=True)
class UnknownCurrencyError(PaymentError, ValueError):
    """The code is not an ISO 4217 currency with a minor unit."""

    code: ClassVar[str] = "unknown_currency"
    currency: str

    def describe(self) -> str:
        return f"unknown currency {self.currency[:8]!r}"


@attrs.frozen(auto_exc=True)
class CurrencyMismatchError(PaymentError, ValueError):
    """Two amounts in different currencies were combined."""

    code: ClassVar[str] = "currency_mismatch"
    left: str
    right: str

    def describe(self) -> str:
        return f"currency mismatch: {self.left} vs {self.right}"


@attrs.frozen(auto_exc=True)
class InvalidTransitionError(PaymentError):
    """A state change that the aggregate's state machine does not allow."""

    code: ClassVar[str] = "invalid_state_transition"
    entity: str
    entity_id: UUID
    current: str
    requested: str

    def describe(self) -> str:
        return f"{self.entity} {self.entity_id} is {self.current}; cannot move to {self.requested}"


@attrs.frozen(auto_exc=True)
class CaptureInProgressError(InvalidTransitionError):
    """A capture of the hold is in flight (its outcome not known yet): nothing else may move
    the hold until reconciliation has settled it."""

    code: ClassVar[str] = "capture_in_progress"

    def describe(self) -> str:
        return (
            f"{self.entity} {self.entity_id} has a capture in flight; cannot move to "
            f"{self.requested} until it is settled"
        )


@attrs.frozen(auto_exc=True)
class CaptureExceedsAuthorizedError(PaymentError):
    """A capture of more than the hold still holds."""

    code: ClassVar[str] = "capture_exceeds_authorized"
    payment_id: UUID
    requested: int
    capturable: int

    def describe(self) -> str:
        return (
            f"a capture of {self.requested} exceeds the {self.capturable} held on payment "
            f"{self.payment_id}"
        )


@attrs.frozen(auto_exc=True)
class InvoiceNotEditableError(PaymentError):
    """The content of an invoice can change only while it is a draft."""

    code: ClassVar[str] = "invoice_not_editable"
    invoice_id: UUID
    status: str

    def describe(self) -> str:
        return f"invoice {self.invoice_id} is {self.status}; only a DRAFT can be edited"


@attrs.frozen(auto_exc=True)
class InvoicePaymentMismatchError(ValidationError):
    """An invoice may pay only with a payment of its own booking, in its own currency."""

    code: ClassVar[str] = "invoice_payment_mismatch"


@attrs.frozen(auto_exc=True)
class InvoiceCreditedError(PaymentError):
    """An invoice with credit notes against it cannot be voided: the notes stand."""

    code: ClassVar[str] = "invoice_has_credit_notes"
    invoice_id: UUID
    amount_credited: int

    def describe(self) -> str:
        return (
            f"invoice {self.invoice_id} has {self.amount_credited} credited by credit notes; "
            "it cannot be voided"
        )


@attrs.frozen(auto_exc=True)
class CreditExceedsInvoiceError(PaymentError):
    """A credit note that would take the invoice's credits above its total."""

    code: ClassVar[str] = "credit_exceeds_invoice"
    invoice_id: UUID
    requested: int
    creditable: int

    def describe(self) -> str:
        return (
            f"a credit of {self.requested} exceeds the {self.creditable} still creditable "
            f"on invoice {self.invoice_id}"
        )


@attrs.frozen(auto_exc=True)
class NotFoundError(PaymentError):
    """No such resource."""

    code: ClassVar[str] = "not_found"
    entity: str
    key: str

    def describe(self) -> str:
        return f"no {self.entity} {self.key[:80]}"


@attrs.frozen(auto_exc=True)
class RefundExceedsRefundableError(PaymentError):
    """A refund larger than what remains refundable on the payment."""

    code: ClassVar[str] = "refund_exceeds_refundable"
    payment_id: UUID
    requested: int
    refundable: int

    def describe(self) -> str:
        return (
            f"refund of {self.requested} exceeds the refundable remainder {self.refundable} "
            f"of payment {self.payment_id}"
        )


@attrs.frozen(auto_exc=True)
class RawCardDataError(PaymentError):
    """A request carried what looks like a card number or security code.

    ``field`` names where it was found; the value itself is never kept.
    """

    code: ClassVar[str] = "raw_card_data_forbidden"
    field: str

    def describe(self) -> str:
        return f"{self.field}: raw card data is forbidden; pass a provider payment-method token"


@attrs.frozen(auto_exc=True)
class PaymentMethodGuestMismatchError(ValidationError):
    """A saved payment method may pay only for the guest it belongs to."""

    code: ClassVar[str] = "payment_method_guest_mismatch"


@attrs.frozen(auto_exc=True)
class PaymentMethodRequiredError(ValidationError):
    """An off-session charge needs a saved payment method (``payment_method_id``)."""

    code: ClassVar[str] = "payment_method_required"


@attrs.frozen(auto_exc=True)
class PaymentMethodDetachedError(PaymentError):
    """A saved payment method that was detached can never be charged again."""

    code: ClassVar[str] = "payment_method_detached"
    payment_method_id: UUID

    def describe(self) -> str:
        return f"payment method {self.payment_method_id} is detached"


@attrs.frozen(auto_exc=True)
class ConcurrencyError(PaymentError):
    """The aggregate changed under us (optimistic lock); the operation may be retried."""

    code: ClassVar[str] = "concurrent_modification"
    entity: str
    entity_id: UUID

    def describe(self) -> str:
        return f"{self.entity} {self.entity_id} was modified concurrently"


@attrs.frozen(auto_exc=True)
class UnknownProviderError(PaymentError):
    """No payment provider of that name is configured."""

    code: ClassVar[str] = "unknown_provider"
    provider: str

    def describe(self) -> str:
        return f"payment provider {self.provider[:40]!r} is not configured"


@attrs.frozen(auto_exc=True)
class IdempotencyKeyReusedError(PaymentError):
    """The idempotency key was first used with another request."""

    code: ClassVar[str] = "idempotency_key_reused"
    key: str

    def describe(self) -> str:
        return "this Idempotency-Key was used with a different request"


@attrs.frozen(auto_exc=True)
class IdempotencyRequestInProgressError(PaymentError):
    """The first request with this idempotency key is still running."""

    code: ClassVar[str] = "idempotency_request_in_progress"
    key: str

    def describe(self) -> str:
        return "a request with this Idempotency-Key is still in progress"


@attrs.frozen(auto_exc=True)
class WebhookSignatureError(PaymentError):
    """A provider webhook whose signature is missing, wrong, stale or from the future."""

    code: ClassVar[str] = "invalid_signature"
    reason: str

    def describe(self) -> str:
        return f"webhook signature rejected: {self.reason}"

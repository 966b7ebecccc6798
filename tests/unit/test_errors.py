"""Domain errors carry their facts, a stable code, and a secret-free one-line description."""

from __future__ import annotations

from uuid import UUID

import pytest

from payment_core import errors
from payment_core.errors import PaymentError

ID = UUID(int=1)

CASES: list[tuple[PaymentError, str, str]] = [
    (
        errors.ValidationError(field="amount", reason="too big"),
        "validation_error",
        "amount: too big",
    ),
    (
        errors.InvalidAmountError(value=1.5, reason="not an int"),
        "invalid_amount",
        "amount: not an int",
    ),
    (
        errors.UnknownCurrencyError(currency="EURO-DOLLARS"),
        "unknown_currency",
        "unknown currency 'EURO-DOL'",
    ),
    (
        errors.CurrencyMismatchError(left="EUR", right="USD"),
        "currency_mismatch",
        "currency mismatch: EUR vs USD",
    ),
    (
        errors.InvoiceNotEditableError(invoice_id=ID, status="OPEN"),
        "invoice_not_editable",
        f"invoice {ID} is OPEN; only a DRAFT can be edited",
    ),
    (errors.NotFoundError(entity="payment", key="x" * 100), "not_found", "no payment " + "x" * 80),
    (
        errors.RefundExceedsRefundableError(payment_id=ID, requested=5, refundable=4),
        "refund_exceeds_refundable",
        f"refund of 5 exceeds the refundable remainder 4 of payment {ID}",
    ),
    (
        errors.RawCardDataError(field="metadata.note"),
        "raw_card_data_forbidden",
        "metadata.note: raw card data is forbidden; pass a provider payment-method token",
    ),
    (
        errors.ConcurrencyError(entity="payment", entity_id=ID),
        "concurrent_modification",
        f"payment {ID} was modified concurrently",
    ),
    (
        errors.UnknownProviderError(provider="adyen"),
        "unknown_provider",
        "payment provider 'adyen' is not configured",
    ),
    (
        errors.IdempotencyKeyReusedError(key="k"),
        "idempotency_key_reused",
        "this Idempotency-Key was used with a different request",
    ),
    (
        errors.IdempotencyRequestInProgressError(key="k"),
        "idempotency_request_in_progress",
        "a request with this Idempotency-Key is still in progress",
    ),
    (
        errors.WebhookSignatureError(reason="timestamp too old"),
        "invalid_signature",
        "webhook signature rejected: timestamp too old",
    ),
    (
        errors.ProviderDeclinedError(decline_code="card_declined", message="No."),
        "provider_declined",
        "declined: card_declined",
    ),
    (
        errors.ProviderUnavailableError(message="timeout"),
        "provider_unavailable",
        "provider unavailable: timeout",
    ),
    (
        errors.ProviderRejectedError(reason_code="bad_request", message="x"),
        "provider_rejected",
        "rejected by provider: bad_request",
    ),
    (errors.ProviderError(), "provider_error", "ProviderError"),
]


@pytest.mark.parametrize(("error", "code", "text"), CASES, ids=[type(c[0]).__name__ for c in CASES])
def test_each_error_has_its_code_and_description(error: PaymentError, code: str, text: str) -> None:
    assert isinstance(error, PaymentError)
    assert error.code == code
    assert str(error) == text


def test_every_public_error_is_a_payment_error_named_error() -> None:
    for name in errors.__all__:
        cls = getattr(errors, name)
        assert name.endswith("Error")
        assert issubclass(cls, PaymentError)


def test_codes_are_unique() -> None:
    codes = [getattr(errors, name).code for name in errors.__all__]
    assert len(codes) == len(set(codes))


def test_an_invalid_amount_keeps_its_value_out_of_the_repr() -> None:
    assert "1.5" not in repr(errors.InvalidAmountError(value=1.5, reason="x"))

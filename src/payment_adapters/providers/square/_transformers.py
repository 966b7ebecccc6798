"""Square's request and reply shapes: idempotency keys as Square takes them, the placeholder
id of a payment Square has not seen yet, payments and refunds as the port's replies, the
status maps, and an error reply as one of the port's errors."""

from __future__ import annotations

import hashlib
import logging
import re
from collections.abc import Callable, Mapping
from typing import Any, Final
from uuid import UUID

from payment_adapters.providers._common import Redactor, parse_uuid, retry_after
from payment_adapters.providers._http import HttpReply
from payment_adapters.providers._units import ProviderUnits
from payment_core.errors import (
    ProviderDeclinedError,
    ProviderRejectedError,
    ProviderUnavailableError,
)
from payment_core.model.payment import Card, NextAction
from payment_core.money import Currency, Money
from payment_core.ports import (
    ConfirmPaymentRequest,
    ProviderPayment,
    ProviderPaymentStatus,
    ProviderRefund,
    ProviderRefundStatus,
)

__all__ = [
    "REFUND_STATUS",
    "SQUARE_UNITS",
    "VERIFICATION_CODES",
    "attempt_key",
    "decline_of",
    "error_from",
    "first_error",
    "parse_placeholder",
    "payment_key",
    "payment_reply",
    "placeholder_id",
    "refund_reply",
    "square_card",
    "square_key",
    "square_money",
    "to_square_money",
]

logger = logging.getLogger(__name__)

#: Square's ``Money.amount`` is "in the smallest denomination of the currency": ISO's unit.
SQUARE_UNITS: Final = ProviderUnits(provider="square")

_MAX_KEY: Final = 45
_PLACEHOLDER: Final = re.compile(
    r"^sqpending_(?P<id>[0-9a-f]{32})_(?P<amount>\d{1,15})_(?P<cur>[A-Z]{3})$"
)
VERIFICATION_CODES: Final = frozenset({"CARD_DECLINED_VERIFICATION_REQUIRED"})
_DECLINE_CODES: Final[Mapping[str, str]] = {
    "GENERIC_DECLINE": "card_declined",
    "CARD_DECLINED": "card_declined",
    "INSUFFICIENT_FUNDS": "insufficient_funds",
    "CVV_FAILURE": "incorrect_cvc",
    "ADDRESS_VERIFICATION_FAILURE": "incorrect_zip",
    "INVALID_EXPIRATION": "expired_card",
    "EXPIRED_CARD": "expired_card",
    "CARD_DECLINED_CALL_ISSUER": "call_issuer",
    "INVALID_CARD": "invalid_card",
}
_PAYMENT_STATUS: Final[Mapping[str, ProviderPaymentStatus]] = {
    # Authorised, not captured: our confirm completes it straight away.
    "APPROVED": ProviderPaymentStatus.PROCESSING,
    "PENDING": ProviderPaymentStatus.PROCESSING,
    "COMPLETED": ProviderPaymentStatus.SUCCEEDED,
    "CANCELED": ProviderPaymentStatus.CANCELED,
    "FAILED": ProviderPaymentStatus.FAILED,
}
REFUND_STATUS: Final[Mapping[str, ProviderRefundStatus]] = {
    "PENDING": ProviderRefundStatus.PENDING,
    "COMPLETED": ProviderRefundStatus.SUCCEEDED,
    "REJECTED": ProviderRefundStatus.FAILED,
    "FAILED": ProviderRefundStatus.FAILED,
}


# ---------------------------------------------------------------------------- keys and ids


def square_key(key: str) -> str:
    """Our idempotency key as Square takes it (at most 45 characters), stable across retries."""
    if len(key) <= _MAX_KEY:
        return key
    return "h" + hashlib.sha256(key.encode()).hexdigest()[: _MAX_KEY - 1]


def payment_key(payment_id: UUID) -> str:
    """The idempotency key of our first Square payment attempt for a payment of ours.

    Derived from our payment id alone, so that reconciliation can ask the same question again.
    """
    return f"sq-pay-{payment_id.hex}"


def attempt_key(request: ConfirmPaymentRequest) -> str:
    """The Square key of one confirm attempt: :func:`payment_key`, or for an attempt with a
    buyer-verification token, the confirm's own key (derived from our payment id and the
    attempt), fitted to Square's 45 characters."""
    if request.verification_token is None:
        return payment_key(request.payment_id)
    return square_key(request.idempotency_key)


def placeholder_id(payment_id: UUID, amount: Money) -> str:
    """The provider id of a payment before Square has heard of it (see the package doc)."""
    return f"sqpending_{payment_id.hex}_{amount.amount}_{amount.currency.code}"


def parse_placeholder(value: str | None) -> tuple[UUID, Money] | None:
    """Our payment id and amount named by a placeholder id, or ``None`` for any other id."""
    match = _PLACEHOLDER.match(value or "")
    if match is None:
        return None
    try:
        return UUID(match["id"]), Money(int(match["amount"]), Currency.of(match["cur"]))
    except ValueError:
        return None


# ---------------------------------------------------------------------------- errors


def first_error(reply: HttpReply, redactor: Redactor) -> tuple[str, str, str]:
    """Category, code and (redacted) detail of an error reply's first error."""
    errors = reply.object().get("errors")
    first = errors[0] if isinstance(errors, list) and errors else None
    if not isinstance(first, dict):
        return "", f"http_{reply.status}", f"Square answered {reply.status}"
    return (
        str(first.get("category") or ""),
        str(first.get("code") or f"http_{reply.status}"),
        redactor.clean(first.get("detail"), default=f"Square answered {reply.status}"),
    )


def error_from(reply: HttpReply, redactor: Redactor) -> Exception:
    """A non-2xx reply as a port error."""
    category, code, detail = first_error(reply, redactor)
    if reply.status == 429 or category == "RATE_LIMIT_ERROR":
        return ProviderUnavailableError(
            message="square rate limit (429)",
            retry_after_seconds=retry_after(reply.headers),
        )
    if reply.status >= 500 or category == "API_ERROR" or reply.status == 409:
        return ProviderUnavailableError(
            message=f"square answered {reply.status}",
            retry_after_seconds=retry_after(reply.headers),
        )
    if reply.status == 401 or category == "AUTHENTICATION_ERROR":
        return ProviderRejectedError(
            reason_code="authentication_failed", message="Square refused the access token."
        )
    if category in ("PAYMENT_METHOD_ERROR", "REFUND_ERROR"):
        return ProviderDeclinedError(
            decline_code=_DECLINE_CODES.get(code, code.lower()), message=detail
        )
    if reply.status == 403:
        return ProviderRejectedError(reason_code="permission_denied", message=detail)
    if 400 <= reply.status < 500:
        return ProviderRejectedError(reason_code=code.lower(), message=detail)
    return ProviderUnavailableError(message=f"square answered {reply.status}")


# ---------------------------------------------------------------------------- replies


def payment_reply(
    payment: Mapping[str, Any],
    *,
    fallback_id: str | None,
    verify_buyer: Callable[[UUID | None], NextAction],
) -> ProviderPayment:
    """A Square payment as the port's reply; one the bank declined for want of buyer
    verification waits for the buyer (``verify_buyer`` says where they go)."""
    payment_ref = payment.get("id")
    amount = square_money(payment.get("amount_money"))
    if not isinstance(payment_ref, str) or amount is None:
        raise ProviderUnavailableError(message="square reply is not a payment")
    raw = str(payment.get("status"))
    status = _PAYMENT_STATUS.get(raw, ProviderPaymentStatus.PROCESSING)
    failure_code = None
    next_action = None
    payment_id = parse_uuid(payment.get("reference_id"))
    if status is ProviderPaymentStatus.FAILED:
        failure_code = decline_of(payment)
        if failure_code is None:
            status = ProviderPaymentStatus.REQUIRES_ACTION
            next_action = verify_buyer(payment_id)
    logger.debug("square payment=%s ours=%s status=%s", payment_ref, payment_id, raw)
    if next_action is not None and parse_placeholder(fallback_id) is not None:
        # A verified buyer pays with a new Square payment: ours keeps its placeholder
        # (never this attempt's id) until then, so that the new payment's webhook, which
        # derives the placeholder, finds it (see translate_webhook).
        payment_ref = fallback_id
    return ProviderPayment(
        provider_payment_id=payment_ref or fallback_id or "",
        status=status,
        amount=amount,
        payment_id=payment_id,
        card=square_card(payment),
        next_action=next_action,
        failure_code=failure_code,
        failure_message="The payment was declined." if failure_code else None,
    )


def refund_reply(refund: Mapping[str, Any]) -> ProviderRefund:
    """A Square refund as the port's reply."""
    refund_id = refund.get("id")
    amount = square_money(refund.get("amount_money"))
    if not isinstance(refund_id, str) or amount is None:
        raise ProviderUnavailableError(message="square reply is not a refund")
    status = REFUND_STATUS.get(str(refund.get("status")), ProviderRefundStatus.PENDING)
    return ProviderRefund(
        provider_refund_id=refund_id,
        status=status,
        amount=amount,
        failure_reason=(
            str(refund.get("status")).lower() if status is ProviderRefundStatus.FAILED else None
        ),
    )


# ---------------------------------------------------------------------------- parts


def decline_of(payment: Mapping[str, Any]) -> str | None:
    """Our failure code for a failed payment; ``None`` when the bank wants the buyer verified
    (Strong Customer Authentication), which is no decline."""
    codes = _card_error_codes(payment)
    if codes & VERIFICATION_CODES:
        return None
    code = next(iter(sorted(codes)), "GENERIC_DECLINE")
    return _DECLINE_CODES.get(code, code.lower())


def to_square_money(money: Money) -> dict[str, Any]:
    """``money`` as Square's ``{amount, currency}``."""
    return {"amount": SQUARE_UNITS.to_provider(money), "currency": money.currency.code}


def square_money(value: object) -> Money | None:
    """Square's ``{amount, currency}`` as ours, or ``None``."""
    if not isinstance(value, dict):
        return None
    amount, currency = value.get("amount"), value.get("currency")
    if type(amount) is not int or not isinstance(currency, str):
        return None
    try:
        return SQUARE_UNITS.from_provider(amount, Currency.of(currency))
    except ValueError:
        return None


def _card_error_codes(payment: Mapping[str, Any]) -> set[str]:
    details = payment.get("card_details")
    errors = details.get("errors") if isinstance(details, dict) else None
    return {
        str(e["code"])
        for e in (errors if isinstance(errors, list) else ())
        if isinstance(e, dict) and isinstance(e.get("code"), str)
    }


def square_card(payment: Mapping[str, Any]) -> Card | None:
    """The card of a payment's ``card_details``, if any."""
    details = payment.get("card_details")
    card = details.get("card") if isinstance(details, dict) else None
    if not isinstance(card, dict):
        return None
    try:
        return Card(
            brand=str(card.get("card_brand", "unknown")).lower(),
            last4=str(card.get("last_4", "")),
            exp_month=card.get("exp_month") if type(card.get("exp_month")) is int else None,
            exp_year=card.get("exp_year") if type(card.get("exp_year")) is int else None,
        )
    except ValueError:
        return None

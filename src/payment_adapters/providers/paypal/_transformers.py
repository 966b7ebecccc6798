"""PayPal's request and reply shapes: amounts as PayPal's decimal text, orders, captures and
refunds as the port's replies, the status maps, and an error reply as one of the port's
errors."""

from __future__ import annotations

import logging
from collections.abc import Mapping
from typing import Any, Final

from payment_adapters.providers._common import Redactor, parse_uuid, retry_after
from payment_adapters.providers._http import HttpReply
from payment_adapters.providers._units import ProviderUnits
from payment_core.errors import ProviderRejectedError, ProviderUnavailableError
from payment_core.model.payment import Card, NextAction
from payment_core.money import Money
from payment_core.ports import (
    ProviderPayment,
    ProviderPaymentStatus,
    ProviderRefund,
    ProviderRefundStatus,
)

__all__ = [
    "ACTION_ISSUES",
    "DECLINE_ISSUES",
    "FINAL_REFUND_ISSUES",
    "PAYPAL_UNITS",
    "REFUND_STATUS",
    "amount_of",
    "card_of",
    "error_from",
    "first_unit",
    "issue_of",
    "last_authorization",
    "last_capture",
    "order_of",
    "order_payment",
    "paypal_money",
    "processor_code",
    "refund_reply",
    "unavailable",
]

logger = logging.getLogger(__name__)

#: PayPal's currency codes page: HUF, JPY and TWD "do not support decimals".
PAYPAL_UNITS: Final = ProviderUnits(provider="paypal", exponents={"HUF": 0, "JPY": 0, "TWD": 0})

DECLINE_ISSUES: Final[Mapping[str, str]] = {
    "INSTRUMENT_DECLINED": "card_declined",
    "TRANSACTION_REFUSED": "card_declined",
    "CARD_EXPIRED": "expired_card",
    "INSUFFICIENT_FUNDS": "insufficient_funds",
    "PAYER_CANNOT_PAY": "card_declined",
}
ACTION_ISSUES: Final = frozenset({"PAYER_ACTION_REQUIRED", "ORDER_NOT_APPROVED"})
FINAL_REFUND_ISSUES: Final = frozenset(
    {
        "REFUND_AMOUNT_EXCEEDED",
        "CAPTURE_FULLY_REFUNDED",
        "REFUND_CAPTURE_CURRENCY_MISMATCH",
        "REFUND_TIME_LIMIT_EXCEEDED",
        "REFUND_NOT_ALLOWED",
        "PERMISSION_DENIED",
    }
)
#: Card processor response codes -> our failure codes.
_PROCESSOR_CODES: Final[Mapping[str, str]] = {
    "0500": "card_declined",
    "5100": "card_declined",
    "5120": "insufficient_funds",
    "5400": "expired_card",
    "00N7": "incorrect_cvc",
    "9500": "fraudulent",
    # The issuer wants the cardholder authenticated (a merchant-initiated charge of a saved
    # card): the guest has to pay on-session.
    "5650": "authentication_required",
}
_CAPTURE_STATUS: Final[Mapping[str, ProviderPaymentStatus]] = {
    "COMPLETED": ProviderPaymentStatus.SUCCEEDED,
    "PARTIALLY_REFUNDED": ProviderPaymentStatus.SUCCEEDED,
    "REFUNDED": ProviderPaymentStatus.SUCCEEDED,
    "PENDING": ProviderPaymentStatus.PROCESSING,
    "DECLINED": ProviderPaymentStatus.FAILED,
    "FAILED": ProviderPaymentStatus.FAILED,
}
REFUND_STATUS: Final[Mapping[str, ProviderRefundStatus]] = {
    "COMPLETED": ProviderRefundStatus.SUCCEEDED,
    "PENDING": ProviderRefundStatus.PENDING,
    "FAILED": ProviderRefundStatus.FAILED,
    "CANCELLED": ProviderRefundStatus.FAILED,
}


# ---------------------------------------------------------------------------- errors


def issue_of(reply: HttpReply, redactor: Redactor) -> tuple[str, str]:
    """The issue code of an error reply (its first detail's, else its name) and its message."""
    body = reply.object()
    details = body.get("details")
    issue = None
    description = None
    if isinstance(details, list) and details and isinstance(details[0], dict):
        issue = details[0].get("issue")
        description = details[0].get("description")
    name = body.get("name") or body.get("error")
    code = issue if isinstance(issue, str) and issue else name
    message = description if isinstance(description, str) else body.get("message")
    return (
        str(code or f"http_{reply.status}"),
        redactor.clean(message, default=f"PayPal answered {reply.status}"),
    )


def unavailable(reply: HttpReply) -> ProviderUnavailableError:
    """An answer that says nothing of the outcome, as the port's outcome-unknown error."""
    return ProviderUnavailableError(
        message=f"paypal answered {reply.status}",
        retry_after_seconds=retry_after(reply.headers),
    )


def error_from(reply: HttpReply, redactor: Redactor) -> Exception:
    """A non-2xx reply that no operation-specific rule took, as a port error."""
    if reply.status == 429 or reply.status >= 500 or reply.status == 409:
        return unavailable(reply)
    issue, message = issue_of(reply, redactor)
    if reply.status == 401:
        return ProviderRejectedError(
            reason_code="authentication_failed", message="PayPal refused the access token."
        )
    if reply.status == 403:
        return ProviderRejectedError(reason_code="permission_denied", message=message)
    if reply.status in (400, 404, 422):
        return ProviderRejectedError(reason_code=issue.lower(), message=message)
    return unavailable(reply)


# ---------------------------------------------------------------------------- replies


def order_of(reply: HttpReply) -> Mapping[str, Any]:
    """The order a successful reply carries; anything else is no answer."""
    order = reply.object()
    if not isinstance(order.get("id"), str) or not isinstance(order.get("status"), str):
        raise ProviderUnavailableError(message="paypal reply is not an order")
    return order


def order_payment(
    order: Mapping[str, Any], *, expected_id: str | None, awaiting_payer: bool
) -> ProviderPayment:
    """An order (and its last capture) as the port's reply.

    With ``awaiting_payer`` (after our capture), an order still waiting is waiting for the
    buyer to approve it.
    """
    order_id: str = order["id"]
    if expected_id is not None and order_id != expected_id:
        raise ProviderUnavailableError(message="paypal reply names another order")
    unit = first_unit(order)
    capture = last_capture(unit)
    amount = paypal_money(capture.get("amount")) if capture else None
    amount = amount or paypal_money(unit.get("amount"))
    if amount is None:
        raise ProviderUnavailableError(message="paypal order has no amount")
    payment_id = parse_uuid(unit.get("custom_id"))
    if capture is not None and capture.get("custom_id") is not None:
        payment_id = parse_uuid(capture.get("custom_id"))
    order_status = order["status"]
    failure_code = failure_message = None
    next_action = None
    if capture is not None:
        status = _CAPTURE_STATUS.get(str(capture.get("status")), ProviderPaymentStatus.PROCESSING)
        if status is ProviderPaymentStatus.FAILED:
            failure_code = processor_code(capture)
            failure_message = "The payment was declined."
    elif order_status == "PAYER_ACTION_REQUIRED" or (
        awaiting_payer and order_status in ("CREATED", "SAVED")
    ):
        status = ProviderPaymentStatus.REQUIRES_ACTION
        link = _link(order, "payer-action") or _link(order, "approve")
        next_action = NextAction(type="redirect", url=link) if link else None
    elif order_status == "APPROVED":
        status = ProviderPaymentStatus.REQUIRES_CONFIRMATION
    elif order_status == "VOIDED":
        status = ProviderPaymentStatus.CANCELED
    elif order_status in ("CREATED", "SAVED"):
        status = ProviderPaymentStatus.REQUIRES_PAYMENT_METHOD
    else:
        status = ProviderPaymentStatus.PROCESSING
    logger.debug(
        "paypal order=%s payment=%s status=%s capture=%s",
        order_id,
        payment_id,
        order_status,
        capture.get("status") if capture else None,
    )
    return ProviderPayment(
        provider_payment_id=order_id,
        status=status,
        amount=amount,
        payment_id=payment_id,
        card=card_of(order),
        next_action=next_action,
        failure_code=failure_code,
        failure_message=failure_message,
    )


def refund_reply(refund: Mapping[str, Any]) -> ProviderRefund:
    """A refund as the port's reply."""
    refund_id = refund.get("id")
    amount = paypal_money(refund.get("amount"))
    if not isinstance(refund_id, str) or amount is None:
        raise ProviderUnavailableError(message="paypal reply is not a refund")
    status = REFUND_STATUS.get(str(refund.get("status")), ProviderRefundStatus.PENDING)
    reason = None
    if status is ProviderRefundStatus.FAILED:
        details = refund.get("status_details")
        reason = details.get("reason") if isinstance(details, dict) else None
        reason = str(reason or refund.get("status")).lower()
    return ProviderRefund(
        provider_refund_id=refund_id, status=status, amount=amount, failure_reason=reason
    )


# ---------------------------------------------------------------------------- parts


def amount_of(money: Money) -> dict[str, str]:
    """``money`` as PayPal's ``{currency_code, value}``."""
    return {"currency_code": money.currency.code, "value": PAYPAL_UNITS.to_decimal_text(money)}


def paypal_money(value: object) -> Money | None:
    """PayPal's ``{currency_code, value}`` as ours, or ``None``."""
    if not isinstance(value, dict):
        return None
    currency, amount = value.get("currency_code"), value.get("value")
    if not isinstance(currency, str) or not isinstance(amount, str):
        return None
    try:
        return Money.parse(amount, currency)
    except ValueError:
        return None


def first_unit(order: Mapping[str, Any]) -> Mapping[str, Any]:
    """An order's (only) purchase unit."""
    units = order.get("purchase_units")
    if isinstance(units, list) and units and isinstance(units[0], dict):
        return units[0]
    return {}


def last_capture(unit: Mapping[str, Any]) -> Mapping[str, Any] | None:
    """A purchase unit's latest capture, if any."""
    payments = unit.get("payments")
    captures = payments.get("captures") if isinstance(payments, dict) else None
    if isinstance(captures, list) and captures and isinstance(captures[-1], dict):
        return captures[-1]
    return None


def last_authorization(unit: Mapping[str, Any]) -> Mapping[str, Any] | None:
    """A purchase unit's latest authorization (a reauthorization's replaces the one before)."""
    payments = unit.get("payments")
    found = payments.get("authorizations") if isinstance(payments, dict) else None
    if isinstance(found, list) and found and isinstance(found[-1], dict):
        return found[-1]
    return None


def processor_code(capture: Mapping[str, Any]) -> str:
    """Our failure code for a declined capture, from its card processor's response code."""
    response = capture.get("processor_response")
    code = response.get("response_code") if isinstance(response, dict) else None
    return _PROCESSOR_CODES.get(str(code), "card_declined")


def _link(obj: Mapping[str, Any], rel: str) -> str | None:
    links = obj.get("links")
    for link in links if isinstance(links, list) else ():
        if isinstance(link, dict) and link.get("rel") == rel and isinstance(link.get("href"), str):
            return str(link["href"])
    return None


def card_of(order: Mapping[str, Any]) -> Card | None:
    """The card an order was paid with, as PayPal describes it (brand, last digits, expiry)."""
    source = order.get("payment_source")
    card = source.get("card") if isinstance(source, dict) else None
    if not isinstance(card, dict):
        return None
    month = year = None
    expiry = card.get("expiry")
    if isinstance(expiry, str) and len(expiry) == 7 and expiry[4] == "-":
        year_text, month_text = expiry.split("-")
        if year_text.isdigit() and month_text.isdigit():
            year, month = int(year_text), int(month_text)
    try:
        return Card(
            brand=str(card.get("brand", "unknown")).lower(),
            last4=str(card.get("last_digits", "")),
            exp_month=month,
            exp_year=year,
        )
    except ValueError:
        return None

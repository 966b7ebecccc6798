"""Stripe's request and reply shapes: amounts in Stripe's units, the status maps, the
parameters of a PaymentIntent and of a Refund, and an SDK error as one of the port's errors."""

from __future__ import annotations

import logging
from collections.abc import Mapping
from typing import TYPE_CHECKING, Any, Final
from uuid import UUID

import stripe as stripe_sdk

from payment_adapters.providers._common import Redactor, get_header, parse_retry_after, parse_uuid
from payment_adapters.providers._units import ProviderUnits
from payment_core.errors import (
    ProviderDeclinedError,
    ProviderError,
    ProviderRejectedError,
    ProviderUnavailableError,
)
from payment_core.intent_events import charge_card, nonempty
from payment_core.model.payment import Card, NextAction
from payment_core.money import Currency, Money
from payment_core.ports import (
    ProviderPayment,
    ProviderPaymentStatus,
    ProviderRefund,
    ProviderRefundStatus,
)

if TYPE_CHECKING:
    from stripe.params import PaymentIntentCreateParams, RefundCreateParams

__all__ = [
    "EXPAND",
    "STRIPE_UNITS",
    "decline_code",
    "error_from",
    "id_of",
    "intent_params",
    "payment_reply",
    "refund_params",
    "refund_reply",
    "stripe_card",
    "stripe_money",
]

logger = logging.getLogger(__name__)

_STRIPE_ZERO_DECIMAL: Final = (
    "BIF",
    "CLP",
    "DJF",
    "GNF",
    "JPY",
    "KMF",
    "KRW",
    "MGA",
    "PYG",
    "RWF",
    "VND",
    "VUV",
    "XAF",
    "XOF",
    "XPF",
)
_STRIPE_THREE_DECIMAL: Final = ("BHD", "JOD", "KWD", "OMR", "TND")

#: Stripe's units (https://docs.stripe.com/currencies: zero-decimal, three-decimal, special cases).
STRIPE_UNITS: Final = ProviderUnits(
    provider="stripe",
    default_exponent=2,
    exponents={
        **dict.fromkeys(_STRIPE_ZERO_DECIMAL, 0),
        **dict.fromkeys(_STRIPE_THREE_DECIMAL, 3),
    },
    steps={
        # "Backwards compatibility requires you to represent it as a two-decimal value, where
        # the decimal amount is always 00"; UGX is also on the zero-decimal list, the special
        # case is the rule.
        "ISK": 100,
        "UGX": 100,
        # "These API calls require the least-significant (last) digit to be 0."
        **dict.fromkeys(_STRIPE_THREE_DECIMAL, 10),
    },
)

#: What every PaymentIntent reply expands: the card and the charge behind it.
EXPAND: Final = ("payment_method", "latest_charge")
_REFUND_REASONS: Final = frozenset({"duplicate", "fraudulent", "requested_by_customer"})

_PAYMENT_STATUS: Final[Mapping[str, ProviderPaymentStatus]] = {
    "requires_payment_method": ProviderPaymentStatus.REQUIRES_PAYMENT_METHOD,
    "requires_confirmation": ProviderPaymentStatus.REQUIRES_CONFIRMATION,
    "requires_action": ProviderPaymentStatus.REQUIRES_ACTION,
    "processing": ProviderPaymentStatus.PROCESSING,
    # Authorised, not captured yet: we never ask for manual capture, so it is on its way.
    "requires_capture": ProviderPaymentStatus.PROCESSING,
    "succeeded": ProviderPaymentStatus.SUCCEEDED,
    "canceled": ProviderPaymentStatus.CANCELED,
}

_REFUND_STATUS: Final[Mapping[str, ProviderRefundStatus]] = {
    "pending": ProviderRefundStatus.PENDING,
    "requires_action": ProviderRefundStatus.PENDING,
    "succeeded": ProviderRefundStatus.SUCCEEDED,
    "failed": ProviderRefundStatus.FAILED,
    "canceled": ProviderRefundStatus.FAILED,
}


# ---------------------------------------------------------------------------- requests


def intent_params(
    payment_id: UUID,
    amount: Money,
    *,
    payment_method: str | None,
    metadata: Mapping[str, str] | None = None,
    description: str | None = None,
    confirm: bool = False,
) -> PaymentIntentCreateParams:
    """A PaymentIntent for one payment of ours, card only, its replies expanded."""
    params: PaymentIntentCreateParams = {
        "amount": STRIPE_UNITS.to_provider(amount),
        "currency": amount.currency.code.lower(),
        "metadata": {**(metadata or {}), "payment_id": str(payment_id)},
        "allowed_payment_method_types": ["card"],
        "confirm": confirm,
        "expand": list(EXPAND),
    }
    if description:
        params["description"] = description
    if payment_method:
        params["payment_method"] = payment_method
    return params


def refund_params(
    intent_id: str,
    amount: Money,
    *,
    refund_id: UUID,
    payment_id: UUID | None,
    key: str,
    reason: str | None,
) -> RefundCreateParams:
    """The one way a refund's parameters are made: its first request and any re-creation under
    the same key send exactly these."""
    # The key tags the refund so that a lost answer can be found again (see retrieve_refund).
    metadata = {"refund_id": str(refund_id), "idempotency_key": key}
    if payment_id is not None:
        metadata["payment_id"] = str(payment_id)
    params: RefundCreateParams = {
        "payment_intent": intent_id,
        "amount": STRIPE_UNITS.to_provider(amount),
        "metadata": metadata,
    }
    if reason in _REFUND_REASONS:
        params["reason"] = reason
    return params


# ---------------------------------------------------------------------------- replies


def payment_reply(
    obj: Mapping[str, Any], redactor: Redactor, *, expected_id: str | None, operation: str
) -> ProviderPayment:
    """A PaymentIntent as the port's reply; one naming another intent is no answer."""
    intent_id = nonempty(obj.get("id"))
    amount = stripe_money(obj)
    if intent_id is None or amount is None:
        raise ProviderUnavailableError(message="stripe reply is not a PaymentIntent")
    if expected_id is not None and intent_id != expected_id:
        raise ProviderUnavailableError(message="stripe reply names another PaymentIntent")
    metadata = obj.get("metadata")
    payment_id = parse_uuid(metadata.get("payment_id")) if isinstance(metadata, dict) else None
    raw_status = obj.get("status")
    status = _PAYMENT_STATUS.get(str(raw_status), ProviderPaymentStatus.PROCESSING)
    last_error = obj.get("last_payment_error")
    failure_code = failure_message = None
    if isinstance(last_error, dict):
        failure_code = decline_code(last_error)
        failure_message = redactor.clean(last_error.get("message")) or None
        if status is ProviderPaymentStatus.REQUIRES_PAYMENT_METHOD:
            # The last attempt was declined: for us the payment failed.
            status = ProviderPaymentStatus.FAILED
    logger.debug(
        "stripe %s payment=%s intent=%s status=%s", operation, payment_id, intent_id, raw_status
    )
    return ProviderPayment(
        provider_payment_id=intent_id,
        status=status,
        amount=amount,
        payment_id=payment_id,
        card=stripe_card(obj),
        next_action=_next_action(obj),
        failure_code=failure_code if status is ProviderPaymentStatus.FAILED else None,
        failure_message=failure_message if status is ProviderPaymentStatus.FAILED else None,
        client_secret=nonempty(obj.get("client_secret")),
    )


def refund_reply(obj: Mapping[str, Any], *, payment_intent: str | None) -> ProviderRefund:
    """A Refund as the port's reply; one of another PaymentIntent is no answer."""
    refund_id = nonempty(obj.get("id"))
    amount = stripe_money(obj)
    if refund_id is None or amount is None:
        raise ProviderUnavailableError(message="stripe reply is not a Refund")
    echoed = id_of(obj.get("payment_intent"))
    if payment_intent is not None and echoed is not None and echoed != payment_intent:
        raise ProviderUnavailableError(message="stripe refund names another PaymentIntent")
    status = _REFUND_STATUS.get(str(obj.get("status")), ProviderRefundStatus.PENDING)
    logger.debug("stripe refund %s status=%s", refund_id, obj.get("status"))
    return ProviderRefund(
        provider_refund_id=refund_id,
        status=status,
        amount=amount,
        failure_reason=(
            nonempty(obj.get("failure_reason")) or str(obj.get("status"))
            if status is ProviderRefundStatus.FAILED
            else None
        ),
    )


def error_from(exc: stripe_sdk.StripeError, redactor: Redactor) -> ProviderError:
    """An SDK error as one of the three errors the port allows; no SDK type escapes."""
    body = exc.json_body.get("error") if isinstance(exc.json_body, dict) else None
    error: Mapping[str, Any] = body if isinstance(body, dict) else {}
    message = redactor.clean(error.get("message"))
    code = nonempty(error.get("code")) or nonempty(exc.code)
    if isinstance(exc, stripe_sdk.CardError):
        return ProviderDeclinedError(
            decline_code=decline_code(error) or code or "card_declined",
            message=message or "The card was declined.",
        )
    if isinstance(exc, stripe_sdk.RateLimitError):
        return ProviderUnavailableError(
            message="stripe rate limit (429)",
            retry_after_seconds=parse_retry_after(get_header(exc.headers, "Retry-After")),
        )
    if isinstance(exc, stripe_sdk.APIConnectionError):
        return ProviderUnavailableError(message="stripe connection failed or timed out")
    if isinstance(exc, stripe_sdk.AuthenticationError):
        # Stripe's message quotes part of the key: say nothing of it.
        return ProviderRejectedError(
            reason_code="authentication_failed", message="Stripe refused the API key."
        )
    if isinstance(exc, stripe_sdk.PermissionError):
        return ProviderRejectedError(
            reason_code="permission_denied",
            message=message or "The API key may not do this.",
        )
    if isinstance(exc, stripe_sdk.IdempotencyError):
        return ProviderRejectedError(
            reason_code="idempotency_error", message=message or "Idempotency key misuse."
        )
    if isinstance(exc, stripe_sdk.InvalidRequestError):
        return ProviderRejectedError(
            reason_code=code or "invalid_request", message=message or "Invalid request."
        )
    status = exc.http_status
    return ProviderUnavailableError(
        message=f"stripe answered {status}" if status else "stripe gave no usable answer",
        retry_after_seconds=parse_retry_after(get_header(exc.headers, "Retry-After")),
    )


def decline_code(error: Mapping[str, Any]) -> str | None:
    """The decline code of an error object, else its code: ``generic_decline`` says no more
    than ``card_declined``, so the code is reported then."""
    decline = nonempty(error.get("decline_code"))
    return decline if decline and decline != "generic_decline" else nonempty(error.get("code"))


# ---------------------------------------------------------------------------- parts


def stripe_money(obj: Mapping[str, Any]) -> Money | None:
    """``amount`` and ``currency`` of a Stripe object, from Stripe's unit to ours."""
    amount, currency = obj.get("amount"), obj.get("currency")
    if type(amount) is not int or not isinstance(currency, str):
        return None
    try:
        return STRIPE_UNITS.from_provider(amount, Currency.of(currency.upper()))
    except ValueError:
        return None


def id_of(value: object) -> str | None:
    """An id, whether Stripe sent the id or the expanded object."""
    if isinstance(value, dict):
        return nonempty(value.get("id"))
    return nonempty(value)


def stripe_card(obj: Mapping[str, Any]) -> Card | None:
    """Brand, last 4 and expiry from the expanded payment method, else the latest charge."""
    method = obj.get("payment_method")
    if isinstance(method, dict) and isinstance(method.get("card"), dict):
        card = method["card"]
        try:
            return Card(
                brand=str(card.get("brand", "unknown")),
                last4=str(card.get("last4", "")),
                exp_month=card.get("exp_month") if type(card.get("exp_month")) is int else None,
                exp_year=card.get("exp_year") if type(card.get("exp_year")) is int else None,
            )
        except ValueError:
            return None
    charge = obj.get("latest_charge")
    if isinstance(charge, dict):
        return charge_card(charge)
    return charge_card(obj)


def _next_action(obj: Mapping[str, Any]) -> NextAction | None:
    action = obj.get("next_action")
    if not isinstance(action, dict) or not isinstance(action.get("type"), str):
        return None
    kind: str = action["type"]
    if kind == "redirect_to_url":
        redirect = action.get("redirect_to_url")
        url = redirect.get("url") if isinstance(redirect, dict) else None
        if isinstance(url, str) and url:
            return NextAction(type="redirect", url=url)
    # ``use_stripe_sdk`` and friends: the browser finishes it with the client secret.
    return NextAction(type=kind, url="")

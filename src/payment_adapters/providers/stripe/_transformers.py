"""Stripe's request and reply shapes: amounts in Stripe's units, the status maps, the
parameters of a PaymentIntent (holds and saved cards included) and of a Refund, and a
PaymentIntent's hold and saved card as the port reads them."""

from __future__ import annotations

import logging
from collections.abc import Mapping
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any, Final
from uuid import UUID

import attrs

from payment_adapters.providers._common import Redactor, parse_uuid
from payment_adapters.providers._units import ProviderUnits
from payment_adapters.providers.stripe._errors import decline_code
from payment_core.errors import ProviderUnavailableError
from payment_core.intent_events import charge_card, nonempty
from payment_core.model.payment import Card, NextAction
from payment_core.money import Currency, Money
from payment_core.ports import (
    ProviderPayment,
    ProviderPaymentStatus,
    ProviderRefund,
    ProviderRefundStatus,
    SavedPaymentMethod,
)

if TYPE_CHECKING:
    from stripe.params import PaymentIntentCreateParams, RefundCreateParams

__all__ = [
    "EXPAND",
    "OFF_SESSION_TAG",
    "STRIPE_UNITS",
    "IntentOptions",
    "id_of",
    "intent_params",
    "minor_units",
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
    # Authorized and held (capture_method=manual), waiting for a capture.
    "requires_capture": ProviderPaymentStatus.REQUIRES_CAPTURE,
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


#: The metadata key that marks an intent to be confirmed without the guest: Stripe keeps no
#: ``off_session`` on the intent, and a confirm made again (reconciliation) must be the same.
OFF_SESSION_TAG: Final = "off_session"

# ---------------------------------------------------------------------------- requests


@attrs.frozen(kw_only=True)
class IntentOptions:
    """What a PaymentIntent asks beyond taking money at once: a hold, the customer whose saved
    card it charges or to whom it saves the card, and a charge without the guest."""

    hold: bool = False
    customer: str | None = attrs.field(default=None, repr=False)
    setup_future_usage: str | None = None
    off_session: bool = False


def intent_params(
    payment_id: UUID,
    amount: Money,
    *,
    payment_method: str | None,
    metadata: Mapping[str, str] | None = None,
    description: str | None = None,
    confirm: bool = False,
    options: IntentOptions | None = None,
) -> PaymentIntentCreateParams:
    """A PaymentIntent for one payment of ours, card only, its replies expanded."""
    options = options or IntentOptions()
    tags = {OFF_SESSION_TAG: "true"} if options.off_session else {}
    params: PaymentIntentCreateParams = {
        "amount": STRIPE_UNITS.to_provider(amount),
        "currency": amount.currency.code.lower(),
        "metadata": {**(metadata or {}), **tags, "payment_id": str(payment_id)},
        "allowed_payment_method_types": ["card"],
        "confirm": confirm,
        "expand": list(EXPAND),
    }
    if description:
        params["description"] = description
    if payment_method:
        params["payment_method"] = payment_method
    if options.hold:
        params["capture_method"] = "manual"
        # Stripe raises a hold only if the intent asked for it before it was authorized.
        params["payment_method_options"] = {
            "card": {"request_incremental_authorization": "if_available"}
        }
    if options.customer:
        params["customer"] = options.customer
    if options.setup_future_usage == "off_session":
        params["setup_future_usage"] = "off_session"
    if options.off_session and confirm:
        params["off_session"] = True  # Stripe takes it only with confirm=true
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
        amount_capturable=minor_units(obj.get("amount_capturable"), amount.currency),
        amount_received=minor_units(obj.get("amount_received"), amount.currency),
        authorization_expires_at=(
            capture_before(obj) if status is ProviderPaymentStatus.REQUIRES_CAPTURE else None
        ),
        saved_method=_saved_method(obj, status),
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


# ---------------------------------------------------------------------------- parts


def minor_units(value: object, currency: Currency) -> int | None:
    """An amount field (``amount_capturable``, ``amount_received``) in our minor units; ``None``
    when missing or no whole amount of ours (then it matches nothing)."""
    if type(value) is not int:
        return None
    money = STRIPE_UNITS.from_provider(value, currency)
    return None if money is None else money.amount


def card_details(obj: Mapping[str, Any]) -> Mapping[str, Any]:
    """``latest_charge.payment_method_details.card`` of an intent (expanded), else empty."""
    found: object = obj.get("latest_charge")
    for key in ("payment_method_details", "card"):
        found = found.get(key) if isinstance(found, dict) else None
    return found if isinstance(found, dict) else {}


def capture_before(obj: Mapping[str, Any]) -> datetime | None:
    """When Stripe lets the hold go: its charge's ``capture_before`` (Unix time)."""
    stamp = card_details(obj).get("capture_before")
    if type(stamp) is not int:
        return None
    try:
        return datetime.fromtimestamp(stamp, UTC)
    except (OverflowError, OSError, ValueError):
        return None


def _saved_method(
    obj: Mapping[str, Any], status: ProviderPaymentStatus
) -> SavedPaymentMethod | None:
    """The card an intent with ``setup_future_usage=off_session`` saved on its customer, once
    it is held or taken: the saved ``pm_…`` (not the token that was sent) and the customer."""
    if obj.get("setup_future_usage") != "off_session" or status not in (
        ProviderPaymentStatus.REQUIRES_CAPTURE,
        ProviderPaymentStatus.SUCCEEDED,
    ):
        return None
    token, customer = id_of(obj.get("payment_method")), id_of(obj.get("customer"))
    if token is None or customer is None:
        return None
    return SavedPaymentMethod(token=token, customer_id=customer, card=stripe_card(obj))


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

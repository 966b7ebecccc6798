"""An order as the port's reply whatever its intent: taken at once (``CAPTURE``), held
(``AUTHORIZE``: its latest authorization and the captures of it), and the card it saved in
PayPal's vault; and the replies of the authorization endpoints (capture, reauthorize).

Every reply is checked before it is believed: a capture that names another authorization is no
answer, and one without an amount in the hold's currency reports nothing received (the services
then flag a mismatch and settle nothing).
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any, Final

import attrs

from payment_adapters.providers._common import parse_rfc3339, parse_uuid
from payment_adapters.providers.paypal._transformers import (
    card_of,
    first_unit,
    last_authorization,
    order_payment,
    paypal_money,
    processor_code,
)
from payment_core.errors import ProviderDeclinedError, ProviderUnavailableError
from payment_core.money import Money
from payment_core.ports import ProviderPayment, ProviderPaymentStatus, SavedPaymentMethod

__all__ = [
    "HOLDING",
    "authorization_payment",
    "capture_payment_reply",
    "captured",
    "payment_of",
    "saved_method_of",
]

#: Captures that took the money (a refund later does not undo the capture).
_TAKEN: Final = frozenset({"COMPLETED", "PARTIALLY_REFUNDED", "REFUNDED"})
#: Authorizations that still hold money.
HOLDING: Final = frozenset({"CREATED", "PENDING", "PARTIALLY_CAPTURED"})


def payment_of(
    order: Mapping[str, Any], *, expected_id: str | None, awaiting_payer: bool
) -> ProviderPayment:
    """``order`` as the port's reply (see :func:`order_payment` for ``awaiting_payer``)."""
    unit = first_unit(order)
    auth = last_authorization(unit)
    if order.get("intent") == "AUTHORIZE" and auth is not None:
        reply = _held(order, unit, auth, expected_id=expected_id)
    else:
        reply = order_payment(order, expected_id=expected_id, awaiting_payer=awaiting_payer)
        if reply.status is ProviderPaymentStatus.SUCCEEDED:
            reply = attrs.evolve(reply, amount_received=captured(unit, reply.amount))
    saved = saved_method_of(order)
    return reply if saved is None else attrs.evolve(reply, saved_method=saved)


def captured(unit: Mapping[str, Any], hold: Money) -> int | None:
    """Minor units the unit's captures took, in ``hold``'s currency (``None``: none did, or
    one says another currency or no amount)."""
    payments = unit.get("payments")
    captures = payments.get("captures") if isinstance(payments, dict) else None
    total, any_taken = 0, False
    for capture in captures if isinstance(captures, list) else ():
        if not isinstance(capture, dict) or capture.get("status") not in _TAKEN:
            continue
        amount = paypal_money(capture.get("amount"))
        if amount is None or amount.currency != hold.currency:
            return None
        total += amount.amount
        any_taken = True
    return total if any_taken else None


def _held(
    order: Mapping[str, Any],
    unit: Mapping[str, Any],
    auth: Mapping[str, Any],
    *,
    expected_id: str | None,
) -> ProviderPayment:
    order_id: str = order["id"]
    if expected_id is not None and order_id != expected_id:
        raise ProviderUnavailableError(message="paypal reply names another order")
    reply = authorization_payment(auth, order_id=order_id, unit=unit)
    status = str(auth.get("status"))
    received = captured(unit, reply.amount)
    if status in ("CAPTURED", "PARTIALLY_CAPTURED") and received is not None:
        reply = attrs.evolve(
            reply,
            status=ProviderPaymentStatus.SUCCEEDED,
            amount_capturable=0,
            amount_received=received,
            authorization_expires_at=None,
        )
    elif status == "CAPTURED":
        reply = attrs.evolve(reply, status=ProviderPaymentStatus.PROCESSING, amount_capturable=0)
    return attrs.evolve(reply, card=card_of(order))


def authorization_payment(
    auth: Mapping[str, Any], *, order_id: str, unit: Mapping[str, Any]
) -> ProviderPayment:
    """An authorization (of order ``order_id``) as the port's reply: held while ``CREATED``,
    with PayPal's ``expiration_time`` as the hold's deadline."""
    amount = paypal_money(auth.get("amount")) or paypal_money(unit.get("amount"))
    if amount is None:
        raise ProviderUnavailableError(message="paypal authorization has no amount")
    status_text = str(auth.get("status"))
    failure_code = failure_message = None
    if status_text == "CREATED":
        status = ProviderPaymentStatus.REQUIRES_CAPTURE
    elif status_text == "DENIED":
        status = ProviderPaymentStatus.FAILED
        failure_code, failure_message = processor_code(auth), "The payment was declined."
    elif status_text in ("VOIDED", "EXPIRED"):
        status = ProviderPaymentStatus.CANCELED  # released, or lapsed: nothing is held
    else:
        status = ProviderPaymentStatus.PROCESSING  # PENDING (under review), or unknown
    held = status is ProviderPaymentStatus.REQUIRES_CAPTURE
    return ProviderPayment(
        provider_payment_id=order_id,
        status=status,
        amount=amount,
        payment_id=parse_uuid(auth.get("custom_id")) or parse_uuid(unit.get("custom_id")),
        failure_code=failure_code,
        failure_message=failure_message,
        amount_capturable=amount.amount if held else 0,
        authorization_expires_at=parse_rfc3339(auth.get("expiration_time")) if held else None,
    )


def capture_payment_reply(
    capture: Mapping[str, Any], *, order_id: str, auth: Mapping[str, Any], hold: ProviderPayment
) -> ProviderPayment:
    """The reply to a capture of authorization ``auth`` (held as ``hold``): taken, or still
    pending; a declined capture is ``ProviderDeclinedError`` (the hold is as it was)."""
    related = capture.get("supplementary_data")
    ids = related.get("related_ids") if isinstance(related, dict) else None
    named = ids.get("authorization_id") if isinstance(ids, dict) else None
    if named is not None and named != auth.get("id"):
        raise ProviderUnavailableError(message="paypal capture names another authorization")
    status_text = str(capture.get("status"))
    if status_text in ("DECLINED", "FAILED"):
        raise ProviderDeclinedError(
            decline_code=processor_code(capture), message="The capture was declined."
        )
    amount = paypal_money(capture.get("amount"))
    received = amount.amount if amount and amount.currency == hold.amount.currency else None
    status = (
        ProviderPaymentStatus.SUCCEEDED
        if status_text in _TAKEN
        else ProviderPaymentStatus.PROCESSING  # PENDING: reconciliation will see it settle
    )
    return attrs.evolve(
        hold,
        provider_payment_id=order_id,
        status=status,
        payment_id=parse_uuid(capture.get("custom_id")) or hold.payment_id,
        amount_capturable=0,
        amount_received=received if status is ProviderPaymentStatus.SUCCEEDED else None,
        authorization_expires_at=None,
    )


def saved_method_of(order: Mapping[str, Any]) -> SavedPaymentMethod | None:
    """The card the order saved in PayPal's vault (``store_in_vault=ON_SUCCESS``): its payment
    token and PayPal customer, once the vault says ``VAULTED``."""
    source = order.get("payment_source")
    card = source.get("card") if isinstance(source, dict) else None
    attributes = card.get("attributes") if isinstance(card, dict) else None
    vault = attributes.get("vault") if isinstance(attributes, dict) else None
    if not isinstance(vault, dict) or vault.get("status") != "VAULTED":
        return None
    token = vault.get("id")
    customer = vault.get("customer")
    customer_id = customer.get("id") if isinstance(customer, dict) else None
    if not isinstance(token, str) or not token or len(token) > 255:
        return None
    return SavedPaymentMethod(
        token=token,
        customer_id=customer_id if isinstance(customer_id, str) and customer_id else None,
        card=card_of(order),
    )

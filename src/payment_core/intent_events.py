"""Webhook events in the payment-intent shape, translated into a
:class:`~payment_core.ports.WebhookEvent`.

The shape is Stripe's (``{id, type, created, data: {object}}``, ``payment_intent.*`` and refund
events), and the wire contract gives it to the fake provider's webhooks: the fake reads its
events here. The Stripe adapter reads Stripe's own with it too, and adds what only Stripe does
(its currency units, expanded objects, cancelled refunds), so that both read an event the same
way. :func:`read_event` checks the envelope (:func:`event_body` writes one);
:func:`translate_event` maps ``payment_intent.*`` and refund events to a ``WebhookKind``,
anything else to ``IGNORED``.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from datetime import UTC, datetime
from typing import Any, Final
from uuid import UUID

from payment_core.errors import ValidationError
from payment_core.model.payment import Card
from payment_core.money import Currency, Money
from payment_core.ports import (
    ProviderRefundStatus,
    SavedPaymentMethod,
    WebhookEvent,
    WebhookKind,
)
from payment_core.webhook_json import Envelope, provider_id, read_envelope

__all__ = [
    "PAYMENT_INTENT_KINDS",
    "REFUND_EVENT_TYPES",
    "charge_card",
    "event_body",
    "nonempty",
    "object_money",
    "read_event",
    "translate_event",
    "translate_intent_event",
    "unix_time",
]

PAYMENT_INTENT_KINDS: Final[Mapping[str, WebhookKind]] = {
    "payment_intent.succeeded": WebhookKind.PAYMENT_SUCCEEDED,
    # A hold was placed (capture_method=manual): Stripe's word for "authorized".
    "payment_intent.amount_capturable_updated": WebhookKind.PAYMENT_AUTHORIZED,
    "payment_intent.payment_failed": WebhookKind.PAYMENT_FAILED,
    "payment_intent.processing": WebhookKind.PAYMENT_PROCESSING,
    "payment_intent.requires_action": WebhookKind.PAYMENT_REQUIRES_ACTION,
    "payment_intent.canceled": WebhookKind.PAYMENT_CANCELED,
}

REFUND_EVENT_TYPES: Final = frozenset(
    {"refund.updated", "charge.refund.updated", "refund.failed", "refund.succeeded"}
)

#: The refund states an event settles a refund with; any other leaves it as it is.
_FINAL_REFUND_STATUS: Final[Mapping[str, ProviderRefundStatus]] = {
    "succeeded": ProviderRefundStatus.SUCCEEDED,
    "failed": ProviderRefundStatus.FAILED,
}


def event_body(
    event_type: str, obj: Mapping[str, Any], *, event_id: str, created: datetime
) -> bytes:
    """The body of an event about ``obj``, as :func:`read_event` reads it."""
    event = {
        "id": event_id,
        "object": "event",
        "type": event_type,
        "created": int(created.timestamp()),
        "data": {"object": dict(obj)},
    }
    return json.dumps(event, separators=(",", ":")).encode()


def read_event(body: bytes) -> Envelope:
    """The envelope of a body, checked (``id``, ``type``, ``data.object``).

    The body is read by :func:`payment_core.webhook_json.load_object` (malformed JSON is a
    :class:`~payment_core.errors.MalformedBodyError`); a bad envelope is a ``ValidationError``.
    """
    return read_envelope(body, created_field="created", created=unix_time)


def translate_intent_event(body: bytes) -> WebhookEvent:
    """A payment-intent-shaped event body -> a :class:`WebhookEvent`."""
    return translate_event(read_event(body))


def translate_event(envelope: Envelope) -> WebhookEvent:
    """An event checked by :func:`read_event` -> a :class:`WebhookEvent`."""
    obj = envelope.subject
    amount = object_money(obj)
    kind = PAYMENT_INTENT_KINDS.get(envelope.type)
    if kind is not None:
        metadata = obj.get("metadata")
        payment_id = None
        if isinstance(metadata, dict) and isinstance(metadata.get("payment_id"), str):
            try:
                payment_id = UUID(metadata["payment_id"])
            except ValueError:
                payment_id = None
        last_error = obj.get("last_payment_error")
        code = message = None
        if isinstance(last_error, dict):
            code = nonempty(last_error.get("decline_code")) or nonempty(last_error.get("code"))
            message = nonempty(last_error.get("message"))
        capturable = obj.get("amount_capturable")
        card = charge_card(obj)
        return envelope.event(
            kind,
            provider_payment_id=provider_id(obj.get("id")),
            payment_id=payment_id,
            amount=amount,
            card=card,
            failure_code=code,
            failure_message=message,
            amount_capturable=capturable if type(capturable) is int else None,
            saved_method=_saved_method(obj, card),
        )
    if envelope.type in REFUND_EVENT_TYPES:
        refund = envelope.refund_event(
            _FINAL_REFUND_STATUS.get(str(obj.get("status"))),
            refund_ref=obj.get("id"),
            payment_ref=obj.get("payment_intent"),
            amount=amount,
            failure_code=nonempty(obj.get("failure_reason")),
        )
        if refund is not None:
            return refund
    return envelope.ignored()


def _saved_method(obj: Mapping[str, Any], card: Card | None) -> SavedPaymentMethod | None:
    """The card an intent saves for later (``setup_future_usage``): its payment method, on
    its customer."""
    token, customer = provider_id(obj.get("payment_method")), provider_id(obj.get("customer"))
    if obj.get("setup_future_usage") != "off_session" or token is None or customer is None:
        return None
    return SavedPaymentMethod(token=token, customer_id=customer, card=card)


def nonempty(value: object) -> str | None:
    """A non-empty string, or ``None``."""
    return value if isinstance(value, str) and value else None


def object_money(obj: Mapping[str, Any]) -> Money | None:
    """``amount`` (minor units) and ``currency`` (lower case) of an object."""
    amount, currency = obj.get("amount"), obj.get("currency")
    if type(amount) is not int or not isinstance(currency, str):
        return None
    try:
        return Money(amount, Currency.of(currency.upper()))
    except ValueError:
        return None


def charge_card(obj: Mapping[str, Any]) -> Card | None:
    """The card of ``obj["payment_method_details"]["card"]`` (a charge's), if any."""
    details = obj.get("payment_method_details")
    card = details.get("card") if isinstance(details, dict) else None
    if not isinstance(card, dict):
        return None
    try:
        return Card(
            brand=card.get("brand"),
            last4=str(card.get("last4", "")),
            exp_month=card.get("exp_month"),
            exp_year=card.get("exp_year"),
        )
    except ValidationError:
        return None


def unix_time(value: object) -> datetime | None:
    """A Unix time in seconds an event carries, or ``None`` when it is not one."""
    if type(value) is int and 0 <= value < 2**33:
        return datetime.fromtimestamp(value, UTC)
    return None

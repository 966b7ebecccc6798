"""Stripe's event shape, translated into a :class:`~payment_core.ports.WebhookEvent`.

Shared by the fake provider (whose webhooks use Stripe's shapes) and the Stripe adapter, so
that both read an event the same way. :func:`load_event` checks the envelope,
:func:`translate_event` maps ``payment_intent.*`` and refund events to a ``WebhookKind``;
anything else is ``IGNORED``.
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import UTC, datetime
from typing import Any, Final
from uuid import UUID

from payment_core.errors import ValidationError
from payment_core.model.payment import Card
from payment_core.money import Currency, Money
from payment_core.ports import WebhookEvent, WebhookKind
from payment_core.webhook_json import event_id, load_object, provider_id

__all__ = [
    "PAYMENT_INTENT_KINDS",
    "REFUND_EVENT_TYPES",
    "load_event",
    "stripe_card",
    "stripe_money",
    "stripe_str",
    "translate_event",
    "translate_stripe_event",
]

PAYMENT_INTENT_KINDS: Final[Mapping[str, WebhookKind]] = {
    "payment_intent.succeeded": WebhookKind.PAYMENT_SUCCEEDED,
    "payment_intent.payment_failed": WebhookKind.PAYMENT_FAILED,
    "payment_intent.processing": WebhookKind.PAYMENT_PROCESSING,
    "payment_intent.requires_action": WebhookKind.PAYMENT_REQUIRES_ACTION,
    "payment_intent.canceled": WebhookKind.PAYMENT_CANCELED,
}

REFUND_EVENT_TYPES: Final = frozenset(
    {"refund.updated", "charge.refund.updated", "refund.failed", "refund.succeeded"}
)


def load_event(body: bytes) -> dict[str, Any]:
    """The event object of a body, its envelope checked (``id``, ``type``, ``data.object``).

    The body is read by :func:`payment_core.webhook_json.load_object` (malformed JSON is a
    :class:`~payment_core.errors.MalformedBodyError`); a bad envelope is a ``ValidationError``.
    """
    event = load_object(body)
    event_id(event.get("id"))
    data = event.get("data")
    obj = data.get("object") if isinstance(data, dict) else None
    if not isinstance(event.get("type"), str) or not isinstance(obj, dict):
        raise ValidationError(field="data.object", reason="an event needs a type and an object")
    return event


def translate_stripe_event(body: bytes) -> WebhookEvent:
    """Stripe's event shape -> a :class:`WebhookEvent`."""
    return translate_event(load_event(body))


def translate_event(event: Mapping[str, Any]) -> WebhookEvent:
    """An event checked by :func:`load_event` -> a :class:`WebhookEvent`."""
    id_: str = event["id"]
    event_type: str = event["type"]
    obj: Mapping[str, Any] = event["data"]["object"]
    created = event.get("created")
    created_at = (
        datetime.fromtimestamp(created, UTC)
        if type(created) is int and 0 <= created < 2**33
        else datetime.fromtimestamp(0, UTC)
    )
    amount = stripe_money(obj)
    metadata = obj.get("metadata")
    payment_id = None
    if isinstance(metadata, dict) and isinstance(metadata.get("payment_id"), str):
        try:
            payment_id = UUID(metadata["payment_id"])
        except ValueError:
            payment_id = None
    kind = PAYMENT_INTENT_KINDS.get(event_type)
    if kind is not None:
        last_error = obj.get("last_payment_error")
        code = message = None
        if isinstance(last_error, dict):
            code = stripe_str(last_error.get("decline_code")) or stripe_str(last_error.get("code"))
            message = stripe_str(last_error.get("message"))
        return WebhookEvent(
            id=id_,
            type=event_type,
            kind=kind,
            created_at=created_at,
            provider_payment_id=provider_id(obj.get("id")),
            payment_id=payment_id,
            amount=amount,
            card=stripe_card(obj),
            failure_code=code,
            failure_message=message,
        )
    if event_type in REFUND_EVENT_TYPES:
        status = obj.get("status")
        if status in ("succeeded", "failed"):
            return WebhookEvent(
                id=id_,
                type=event_type,
                kind=(
                    WebhookKind.REFUND_SUCCEEDED
                    if status == "succeeded"
                    else WebhookKind.REFUND_FAILED
                ),
                created_at=created_at,
                provider_refund_id=provider_id(obj.get("id")),
                provider_payment_id=provider_id(obj.get("payment_intent")),
                amount=amount,
                failure_code=stripe_str(obj.get("failure_reason")),
            )
    return WebhookEvent(id=id_, type=event_type, kind=WebhookKind.IGNORED, created_at=created_at)


def stripe_str(value: object) -> str | None:
    """A non-empty string, or ``None``."""
    return value if isinstance(value, str) and value else None


def stripe_money(obj: Mapping[str, Any]) -> Money | None:
    """``amount`` (minor units) and ``currency`` (lower case) of a Stripe object."""
    amount, currency = obj.get("amount"), obj.get("currency")
    if type(amount) is not int or not isinstance(currency, str):
        return None
    try:
        return Money(amount, Currency.of(currency.upper()))
    except ValueError:
        return None


def stripe_card(obj: Mapping[str, Any]) -> Card | None:
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

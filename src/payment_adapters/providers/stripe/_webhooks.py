"""Stripe's webhooks: the ``Stripe-Signature`` check and Stripe's events as the core reads them.

Stripe's events have the payment-intent shape the fake provider's have
(:mod:`payment_core.intent_events`); on top of it Stripe writes amounts in its own units,
cancels refunds, and sends ``generic_decline`` where the code says more.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from datetime import datetime
from typing import Final

import attrs

from payment_adapters.providers._common import get_header
from payment_adapters.providers.stripe._disputes import translate_dispute
from payment_adapters.providers.stripe._transformers import (
    id_of,
    minor_units,
    stripe_card,
    stripe_money,
)
from payment_core import signing
from payment_core.intent_events import REFUND_EVENT_TYPES, nonempty, read_event, translate_event
from payment_core.ports import WebhookEvent, WebhookKind
from payment_core.webhook_json import provider_id

__all__ = ["SIGNATURE_HEADER", "translate", "verify"]

SIGNATURE_HEADER: Final = "Stripe-Signature"


def verify(
    body: bytes,
    headers: Mapping[str, str],
    secrets: Sequence[str],
    *,
    now: datetime,
    tolerance_seconds: int,
) -> None:
    """Check the ``Stripe-Signature`` of a raw body (``WebhookSignatureError`` if it fails)."""
    signing.verify(
        get_header(headers, SIGNATURE_HEADER),
        body,
        secrets,
        now=now,
        tolerance_seconds=tolerance_seconds,
    )


def translate(body: bytes) -> WebhookEvent:
    """A Stripe event body -> a :class:`WebhookEvent`."""
    envelope = read_event(body)
    disputed = translate_dispute(envelope)
    if disputed is not None:
        return disputed
    translated = translate_event(envelope)
    obj = envelope.subject
    if translated.amount is not None:
        # Read in Stripe's unit, not ISO's (an ISK ``amount`` of 100 is one króna).
        translated = attrs.evolve(translated, amount=stripe_money(obj))
    if translated.amount is not None and translated.amount_capturable is not None:
        # A hold's amount too (a mismatch when it is no whole amount of ours).
        capturable = minor_units(obj.get("amount_capturable"), translated.amount.currency)
        translated = attrs.evolve(translated, amount_capturable=capturable)
    if translated.kind is WebhookKind.IGNORED and envelope.type in REFUND_EVENT_TYPES:
        if obj.get("status") == "canceled":
            # A canceled refund paid nothing back: for us it failed.
            translated = attrs.evolve(
                translated,
                kind=WebhookKind.REFUND_FAILED,
                provider_refund_id=provider_id(obj.get("id")),
                provider_payment_id=provider_id(id_of(obj.get("payment_intent"))),
                amount=stripe_money(obj),
                failure_code="canceled",
            )
        return translated
    if translated.failure_code == "generic_decline":
        last_error = obj.get("last_payment_error")
        code = nonempty(last_error.get("code")) if isinstance(last_error, dict) else None
        translated = attrs.evolve(translated, failure_code=code or "card_declined")
    if translated.card is None and translated.kind is not WebhookKind.IGNORED:
        translated = attrs.evolve(translated, card=stripe_card(obj))
    return translated

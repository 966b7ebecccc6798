"""Payment-intent events (the fake's, and Stripe's under its additions) translated into what
the core acts on."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from uuid import UUID

import pytest

from payment_core import Card, Money
from payment_core.errors import ValidationError
from payment_core.intent_events import translate_intent_event
from payment_core.ports import WebhookKind


def event(event_type: str, obj: object, **extra: object) -> bytes:
    return json.dumps(
        {
            "id": "evt_1",
            "type": event_type,
            "created": 1_700_000_000,
            "data": {"object": obj},
            **extra,
        }
    ).encode()


def test_a_payment_intent_event_carries_ids_amount_card_and_failure() -> None:
    translated = translate_intent_event(
        event(
            "payment_intent.payment_failed",
            {
                "id": "pi_1",
                "amount": 1234,
                "currency": "eur",
                "metadata": {"payment_id": str(UUID(int=7))},
                "payment_method_details": {
                    "card": {"brand": "visa", "last4": "0002", "exp_month": 1, "exp_year": 2030}
                },
                "last_payment_error": {"code": "card_declined", "message": "Declined."},
            },
        )
    )
    assert translated.kind is WebhookKind.PAYMENT_FAILED
    assert (translated.id, translated.provider_payment_id, translated.payment_id) == (
        "evt_1",
        "pi_1",
        UUID(int=7),
    )
    assert translated.amount == Money.of(1234, "EUR")
    assert translated.card == Card("visa", "0002", 1, 2030)
    assert (translated.failure_code, translated.failure_message) == ("card_declined", "Declined.")
    assert translated.created_at == datetime.fromtimestamp(1_700_000_000, UTC)


@pytest.mark.parametrize(
    ("obj", "field", "value"),
    [
        ({"metadata": {"payment_id": "not-a-uuid"}}, "payment_id", None),
        ({"amount": 100, "currency": "xyz"}, "amount", None),
        ({"amount": "100", "currency": "eur"}, "amount", None),
        ({"payment_method_details": {"card": {"brand": "visa", "last4": "x"}}}, "card", None),
        ({"payment_method_details": "card"}, "card", None),
        ({"id": ""}, "provider_payment_id", None),
    ],
)
def test_unusable_parts_of_an_object_are_left_out(obj: dict, field: str, value: object) -> None:
    translated = translate_intent_event(event("payment_intent.succeeded", obj))
    assert getattr(translated, field) == value


@pytest.mark.parametrize("created", ["yesterday", -1, 2**40, True])
def test_a_bad_created_time_falls_back_to_the_epoch(created: object) -> None:
    translated = translate_intent_event(event("customer.created", {}, created=created))
    assert translated.created_at == datetime.fromtimestamp(0, UTC)


@pytest.mark.parametrize(
    ("status", "kind"),
    [("succeeded", WebhookKind.REFUND_SUCCEEDED), ("failed", WebhookKind.REFUND_FAILED)],
)
def test_refund_events_by_status(status: str, kind: WebhookKind) -> None:
    translated = translate_intent_event(
        event(
            "charge.refund.updated",
            {"id": "re_1", "status": status, "payment_intent": "pi_1", "failure_reason": "lost"},
        )
    )
    assert (translated.kind, translated.provider_refund_id, translated.provider_payment_id) == (
        kind,
        "re_1",
        "pi_1",
    )


@pytest.mark.parametrize(
    ("body", "field"),
    [
        (b"not json", "body"),
        (b"\xff\xfe", "body"),
        (b"[]", "body"),
        (json.dumps({"type": "x", "data": {"object": {}}}).encode(), "id"),
        (json.dumps({"id": "e" * 256, "type": "x", "data": {"object": {}}}).encode(), "id"),
        (json.dumps({"id": "e", "data": {"object": {}}}).encode(), "data.object"),
        (json.dumps({"id": "e", "type": "x", "data": []}).encode(), "data.object"),
    ],
)
def test_a_body_that_is_not_an_event_is_refused(body: bytes, field: str) -> None:
    with pytest.raises(ValidationError) as caught:
        translate_intent_event(body)
    assert caught.value.field == field

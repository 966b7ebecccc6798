"""The fake provider's kit: the in-process provider the service ships."""

from __future__ import annotations

import secrets
from datetime import datetime, timedelta
from typing import Any

from payment_core.model.payment import Payment
from payment_core.testing import FakeProvider

from ._base import (
    FAKE_WEBHOOK_SECRET,
    Delivery,
    EventKind,
    Kit,
)


class FakeKit(Kit):
    name = "fake"

    def __init__(self, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.fake = FakeProvider(webhook_secrets=(FAKE_WEBHOOK_SECRET,))
        self.provider = self.fake
        self.secrets = (FAKE_WEBHOOK_SECRET,)

    def customer_authenticates(self, payment: Payment) -> None:
        return None  # the fake completes on the webhook itself

    def event(
        self, payment: Payment, kind: EventKind, now: datetime, event_id: str | None = None
    ) -> Delivery:
        assert payment.provider_payment_id is not None
        status = {
            "succeeded": "succeeded",
            "processing": "processing",
            "failed": "requires_payment_method",
        }[kind]
        obj = self.fake.payment_intent_object(payment.provider_payment_id, status=status)
        event_type = {
            "succeeded": "payment_intent.succeeded",
            "processing": "payment_intent.processing",
            "failed": "payment_intent.payment_failed",
        }[kind]
        if kind == "failed":
            obj["last_payment_error"] = {
                "code": "card_declined",
                "message": "Your card was declined.",
            }
        return self.fake.build_webhook(
            event_type, obj, event_id=event_id or f"evt_{secrets.token_hex(8)}", now=now
        )

    def charges(self, payment: Payment) -> int:
        intent = self.fake._intents.get(payment.provider_payment_id or "")
        return 1 if intent is not None and intent.status.value == "succeeded" else 0

    def refunded(self, payment: Payment) -> int:
        intent = self.fake._intents.get(payment.provider_payment_id or "")
        return intent.refunded if intent is not None else 0

    def advance(self, delta: timedelta) -> None:
        raise NotImplementedError("the fake provider keeps its own clock (FAKE_AUTHORIZATION_TTL)")

    def sent(self, prefix: str = "") -> list[Delivery]:
        raise NotImplementedError("the fake provider sends its own webhooks")

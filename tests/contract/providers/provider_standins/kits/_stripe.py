"""Stripe's kit: the Stripe adapter pointed at its stand-in."""

from __future__ import annotations

import json
import secrets
from collections import Counter, defaultdict
from datetime import datetime
from typing import Any

from payment_adapters.providers.stripe import StripeProvider
from payment_core import signing
from payment_core.model.payment import Payment

from ..stripe import StripeStandIn
from ._base import (
    RETURN_URL,
    STRIPE_WEBHOOK_SECRETS,
    Delivery,
    EventKind,
    Keys,
    Kit,
    _operation,
)


class StripeKit(Kit):
    name = "stripe"

    def __init__(self, standin: StripeStandIn, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.standin = standin
        self.stripe = standin
        self.provider = StripeProvider(
            standin.api_key,
            webhook_secrets=STRIPE_WEBHOOK_SECRETS,
            api_base=standin.base_url,
            return_url=RETURN_URL,
            timeout=self.timeout,
            backoff=self.backoff,
            rate_limiter=self.limiter,
        )
        self.secrets = (standin.api_key, *STRIPE_WEBHOOK_SECRETS)

    def customer_authenticates(self, payment: Payment) -> None:
        assert payment.provider_payment_id is not None
        self.stripe.complete_action(payment.provider_payment_id)

    def event(
        self, payment: Payment, kind: EventKind, now: datetime, event_id: str | None = None
    ) -> Delivery:
        assert payment.provider_payment_id is not None
        with self.stripe.lock:
            obj = self.stripe.intent_json(self.stripe.intents[payment.provider_payment_id])
        event_type = {
            "succeeded": "payment_intent.succeeded",
            "processing": "payment_intent.processing",
            "failed": "payment_intent.payment_failed",
        }[kind]
        if kind == "processing":
            obj["status"] = "processing"
        if kind == "failed":
            obj["status"] = "requires_payment_method"
            obj["last_payment_error"] = {
                "type": "card_error",
                "code": "card_declined",
                "decline_code": "generic_decline",
                "message": "Your card was declined.",
            }
        return self.stripe_event(event_type, obj, now, event_id)

    def stripe_event(
        self,
        event_type: str,
        obj: dict[str, Any],
        now: datetime,
        event_id: str | None = None,
        secret: str | None = None,
    ) -> Delivery:
        body = json.dumps(
            {
                "id": event_id or f"evt_{secrets.token_hex(12)}",
                "object": "event",
                "api_version": "2026-10-28.endive",
                "type": event_type,
                "created": int(now.timestamp()),
                "livemode": False,
                "data": {"object": obj},
            },
            separators=(",", ":"),
        ).encode()
        header = signing.signature_header(
            secret or STRIPE_WEBHOOK_SECRETS[0], int(now.timestamp()), body
        )
        return body, {"Stripe-Signature": header}

    def charges(self, payment: Payment) -> int:
        with self.stripe.lock:
            intent = self.stripe.intents.get(payment.provider_payment_id or "")
            return intent.charges if intent else 0

    def refunded(self, payment: Payment) -> int:
        with self.stripe.lock:
            return self.stripe.refunded(payment.provider_payment_id or "")

    def post_keys(self) -> Keys:
        keys: Keys = defaultdict(list)
        for r in self.stripe.find("POST"):
            params = r.params or {}
            metadata = params.get("metadata") or {}
            if r.path == "/v1/payment_intents":
                ident = ("create", str(metadata.get("payment_id")))
            elif r.path == "/v1/refunds":
                ident = ("refund", str(metadata.get("refund_id")))
            else:
                ident = ("intent", _operation(r.path, r.header("idempotency-key")))
            keys[ident].append(r.header("idempotency-key"))
        return keys

    def payouts(self) -> Counter[str]:
        with self.stripe.lock:
            return Counter(
                r.metadata.get("refund_id", "?")
                for r in self.stripe.refunds.values()
                if r.status != "failed"
            )

    def decline_increments(self, payment: Payment) -> None:
        with self.stripe.lock:
            self.stripe.increment_declines.add(payment.provider_payment_id or "")

    def open_dispute(self, payment: Payment, *, inquiry: bool = False) -> None:
        self.stripe.open_dispute(payment.provider_payment_id or "", inquiry=inquiry)

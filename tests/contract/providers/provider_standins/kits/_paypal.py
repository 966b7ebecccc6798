"""PayPal's kit: the PayPal adapter pointed at its stand-in."""

from __future__ import annotations

import copy
import json
import secrets
from collections import Counter, defaultdict
from datetime import datetime
from typing import Any

from payment_adapters.providers.paypal import PayPalProvider
from payment_core.model.payment import Payment
from payment_core.money import Money

from ..paypal import PayPalStandIn
from ._base import (
    PAYPAL_WEBHOOK_ID,
    Delivery,
    EventKind,
    Keys,
    Kit,
    _iso,
    _operation,
    refund_id_of,
)


class PayPalKit(Kit):
    name = "paypal"

    def __init__(self, standin: PayPalStandIn, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.standin = standin
        self.paypal = standin
        self.provider = PayPalProvider(
            standin.client_id,
            standin.client_secret,
            webhook_id=PAYPAL_WEBHOOK_ID,
            environment="sandbox",
            api_base=standin.base_url,
            timeout=self.timeout,
            backoff=self.backoff,
            rate_limiter=self.limiter,
            cert_origins=(standin.base_url,),
        )
        self._client_secrets = (standin.client_id, standin.client_secret)

    @property  # type: ignore[override]
    def secrets(self) -> tuple[str, ...]:
        """The client credentials and every access token the stand-in issued."""
        return (*self._client_secrets, *self.paypal.all_tokens)

    def customer_authenticates(self, payment: Payment) -> None:
        assert payment.provider_payment_id is not None
        self.paypal.approve(payment.provider_payment_id, capture=True)

    def event(
        self, payment: Payment, kind: EventKind, now: datetime, event_id: str | None = None
    ) -> Delivery:
        assert payment.provider_payment_id is not None
        with self.paypal.lock:
            order = self.paypal.orders[payment.provider_payment_id]
            captures = copy.deepcopy(order.captures)
            amount = {
                "currency_code": order.currency,
                "value": self._value(order.amount, order.currency),
            }
        capture = (
            captures[-1]
            if captures
            else {
                "id": f"CAP{secrets.token_hex(6).upper()}",
                "amount": amount,
                "custom_id": str(payment.id),
                "supplementary_data": {"related_ids": {"order_id": payment.provider_payment_id}},
            }
        )
        event_type = {
            "succeeded": "PAYMENT.CAPTURE.COMPLETED",
            "processing": "PAYMENT.CAPTURE.PENDING",
            "failed": "PAYMENT.CAPTURE.DENIED",
        }[kind]
        capture["status"] = {
            "succeeded": "COMPLETED",
            "processing": "PENDING",
            "failed": "DECLINED",
        }[kind]
        return self.paypal_event(event_type, "capture", capture, now, event_id)

    @staticmethod
    def _value(amount: int, currency: str) -> str:
        return Money.of(amount, currency).format()

    def paypal_event(
        self,
        event_type: str,
        resource_type: str,
        resource: dict[str, Any],
        now: datetime,
        event_id: str | None = None,
    ) -> Delivery:
        body = json.dumps(
            {
                "id": event_id or f"WH-{secrets.token_hex(8).upper()}",
                "event_version": "1.0",
                "create_time": _iso(now),
                "resource_type": resource_type,
                "resource_version": "2.0",
                "event_type": event_type,
                "summary": f"{event_type} (stand-in)",
                "resource": resource,
            },
            separators=(",", ":"),
        ).encode()
        return body, self.paypal.sign(body, webhook_id=PAYPAL_WEBHOOK_ID, when=now)

    def charges(self, payment: Payment) -> int:
        with self.paypal.lock:
            order = self.paypal.orders.get(payment.provider_payment_id or "")
            return order.charges if order else 0

    def refunded(self, payment: Payment) -> int:
        with self.paypal.lock:
            order = self.paypal.orders.get(payment.provider_payment_id or "")
            return self.paypal.refunded(order) if order else 0

    def post_keys(self) -> Keys:
        keys: Keys = defaultdict(list)
        for r in self.paypal.find("POST"):
            body = r.params or {}
            if r.path == "/v1/oauth2/token":
                continue
            if r.path == "/v2/checkout/orders":
                ident = ("create", str(body["purchase_units"][0].get("custom_id")))
            elif r.path.endswith("/refund"):
                ident = ("refund", refund_id_of(body.get("custom_id")))
            else:
                ident = ("order", _operation(r.path, r.header("paypal-request-id")))
            keys[ident].append(r.header("paypal-request-id"))
        return keys

    def payouts(self) -> Counter[str]:
        with self.paypal.lock:
            return Counter(
                refund_id_of(r.get("custom_id"))
                for r in self.paypal.refunds.values()
                if r["status"] != "FAILED"
            )

    def decline_increments(self, payment: Payment) -> None:
        return None  # PayPal cannot increase a card authorization at all

    def open_dispute(self, payment: Payment, *, inquiry: bool = False) -> None:
        with self.paypal.lock:
            order = self.paypal.orders[payment.provider_payment_id or ""]
            [capture, *_] = [c for c in reversed(order.captures) if c["status"] == "COMPLETED"]
        self.paypal.open_dispute(capture["id"], stage="INQUIRY" if inquiry else "CHARGEBACK")

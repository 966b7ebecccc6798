"""Square's kit: the Square adapter pointed at its stand-in."""

from __future__ import annotations

import copy
import json
import secrets
from collections import Counter, defaultdict
from datetime import datetime
from typing import Any

from payment_adapters.providers.square import SquareProvider
from payment_core.model.payment import Payment

from ..square import SquareStandIn
from ._base import (
    SQUARE_NOTIFICATION_URL,
    SQUARE_SIGNATURE_KEY,
    VERIFY_URL,
    Delivery,
    EventKind,
    Keys,
    Kit,
    _iso,
    refund_id_of,
)


class SquareKit(Kit):
    name = "square"

    def __init__(self, standin: SquareStandIn, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.standin = standin
        self.square = standin
        self.provider = SquareProvider(
            standin.access_token,
            webhook_signature_keys=(SQUARE_SIGNATURE_KEY,),
            notification_url=SQUARE_NOTIFICATION_URL,
            environment="sandbox",
            api_base=standin.base_url,
            verification_url=VERIFY_URL,
            timeout=self.timeout,
            backoff=self.backoff,
            rate_limiter=self.limiter,
        )
        self.secrets = (standin.access_token, SQUARE_SIGNATURE_KEY)

    def customer_authenticates(self, payment: Payment) -> None:
        self.square.verified(str(payment.id))

    def latest(self, payment: Payment) -> dict[str, Any] | None:
        with self.square.lock:
            found = [
                p for p in self.square.payments.values() if p["reference_id"] == str(payment.id)
            ]
            return copy.deepcopy(found[-1]) if found else None

    def event(
        self, payment: Payment, kind: EventKind, now: datetime, event_id: str | None = None
    ) -> Delivery:
        obj = self.latest(payment) or {
            "id": f"sq{secrets.token_hex(8)}",
            "amount_money": {
                "amount": payment.amount.amount,
                "currency": payment.amount.currency.code,
            },
            "reference_id": str(payment.id),
            "card_details": {},
        }
        obj["status"] = {"succeeded": "COMPLETED", "processing": "APPROVED", "failed": "FAILED"}[
            kind
        ]
        if kind == "failed":
            obj["card_details"]["errors"] = [
                {"category": "PAYMENT_METHOD_ERROR", "code": "GENERIC_DECLINE"}
            ]
        else:
            obj["card_details"].pop("errors", None)
        return self.square_event("payment.updated", "payment", obj, now, event_id)

    def square_event(
        self,
        event_type: str,
        object_type: str,
        obj: dict[str, Any],
        now: datetime,
        event_id: str | None = None,
        key: str = SQUARE_SIGNATURE_KEY,
    ) -> Delivery:
        body = json.dumps(
            {
                "merchant_id": "MLSTANDIN0001",
                "type": event_type,
                "event_id": event_id
                or f"{secrets.token_hex(4)}-0000-4000-8000-{secrets.token_hex(6)}",
                "created_at": _iso(now),
                "data": {"type": object_type, "id": obj["id"], "object": {object_type: obj}},
            },
            separators=(",", ":"),
        ).encode()
        return body, SquareStandIn.sign(body, key=key, notification_url=SQUARE_NOTIFICATION_URL)

    def charges(self, payment: Payment) -> int:
        with self.square.lock:
            return self.square.charges_for(str(payment.id))

    def post_keys(self) -> Keys:
        keys: Keys = defaultdict(list)
        for r in self.square.find("POST"):
            body = r.params or {}
            if r.path == "/v2/payments":
                ident = ("payment", str(body.get("reference_id")))
            elif r.path == "/v2/refunds":
                ident = ("refund", refund_id_of(body.get("reason")))
            else:
                continue  # complete and cancel carry no key (they are idempotent by state)
            keys[ident].append(body.get("idempotency_key"))
        return keys

    def payouts(self) -> Counter[str]:
        with self.square.lock:
            return Counter(
                refund_id_of(r.get("reason"))
                for r in self.square.refunds.values()
                if r["status"] not in ("FAILED", "REJECTED")
            )

    def refunded(self, payment: Payment) -> int:
        with self.square.lock:
            return sum(
                self.square.refunded(p)
                for p in self.square.payments.values()
                if p["reference_id"] == str(payment.id)
            )

    def decline_increments(self, payment: Payment) -> None:
        found = self.latest(payment)
        with self.square.lock:
            self.square.increment_declines.add(found["id"] if found else "*")

    def open_dispute(self, payment: Payment, *, inquiry: bool = False) -> None:
        found = self.latest(payment)
        assert found is not None, "no Square payment to dispute"
        self.square.open_dispute(found["id"], inquiry=inquiry)

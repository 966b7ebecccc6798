"""One kit per provider: the adapter wired to its stand-in, and the provider-side moves a
contract test needs (the customer passes 3-D Secure, the provider sends an event).

Every kit speaks in the same terms, so that one test body runs over every provider.
"""

from __future__ import annotations

import asyncio
import copy
import json
import re
import secrets
from collections import Counter, defaultdict
from collections.abc import Awaitable, Callable
from datetime import UTC, datetime
from typing import Any, Literal

from tests import _leakscan

from payment_adapters.providers import Backoff
from payment_adapters.providers.paypal import PayPalProvider
from payment_adapters.providers.ratelimit import TokenBucket
from payment_adapters.providers.square import SquareProvider
from payment_adapters.providers.stripe import StripeProvider
from payment_core import signing
from payment_core.model.payment import Payment
from payment_core.money import Money
from payment_core.ports import PaymentProvider
from payment_core.testing import FakeProvider

from ._server import StandIn
from .paypal import PayPalStandIn
from .square import SquareStandIn
from .stripe import StripeStandIn

EventKind = Literal["succeeded", "processing", "failed"]
Keys = dict[tuple[str, str], list[str | None]]
_REFUND_KEY = re.compile(r"refund-(?P<id>[0-9a-f-]{36})-\d+")
Delivery = tuple[bytes, dict[str, str]]

STRIPE_WEBHOOK_SECRETS = ("whsec_contract_new_8d3f0a9c1b2e", "whsec_contract_old_77aa51e0c4d9")
FAKE_WEBHOOK_SECRET = "whsec_fake_contract_secret_5a0c"
PAYPAL_WEBHOOK_ID = "1JE4291016473214C"
SQUARE_SIGNATURE_KEY = "sq0wss-standin-signature-key-4d2b9e"
SQUARE_NOTIFICATION_URL = "https://payments.example.test/api/v1/webhooks/square"
RETURN_URL = "https://shop.example.test/payments/return"
VERIFY_URL = "https://shop.example.test/payments/{payment_id}/verify"
#: Card numbers that must never show up anywhere (the test cards behind the tokens).
KNOWN_PANS = ("4242424242424242", "4000000000000002", "5555555555554444", "4000002760003184")


class RecordingSleep:
    """An injectable ``sleep`` that records each wait and does not wait."""

    def __init__(self) -> None:
        self.waits: list[float] = []

    async def __call__(self, seconds: float) -> None:
        self.waits.append(seconds)
        await asyncio.sleep(0)


def fast_backoff(sleep: RecordingSleep, attempts: int = 3) -> Backoff:
    return Backoff(attempts=attempts, base_seconds=0.05, cap_seconds=0.4, sleep=sleep)


def _iso(now: datetime) -> str:
    return now.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


class VirtualPace:
    """A clock that moves only when a token bucket sleeps, and how long it slept in all."""

    def __init__(self) -> None:
        self.now = 0.0
        self.waited = 0.0

    def clock(self) -> float:
        return self.now

    async def sleep(self, seconds: float) -> None:
        self.now += seconds
        self.waited += seconds


class Kit:
    """A provider under test, with what its contract tests need around it."""

    name: str
    provider: PaymentProvider
    standin: StandIn | None = None
    #: Everything that must never be logged or put in an error message.
    secrets: tuple[str, ...] = ()

    def __init__(self, timeout: float = 0.25, attempts: int = 3, rate: float = 10_000) -> None:
        self.sleep = RecordingSleep()
        self.backoff = fast_backoff(self.sleep, attempts)
        self.timeout = timeout
        # The adapters' client-side rate limit, in virtual time: pacing is observed, not waited.
        self.pace = VirtualPace()
        self.limiter = TokenBucket(rate, clock=self.pace.clock, sleep=self.pace.sleep)
        # Read at each scan: PayPal's access tokens are issued while the kit is in use.
        _leakscan.SCANNER.add_source(self, lambda: self.secrets)

    async def aclose(self) -> None:
        close: Callable[[], Awaitable[None]] | None = getattr(self.provider, "aclose", None)
        if close is not None:
            await close()
        _leakscan.SCANNER.retire_source(self)

    def customer_authenticates(self, payment: Payment) -> None:
        """The customer passes 3-D Secure / approves; the provider takes the money."""
        raise NotImplementedError

    def event(
        self, payment: Payment, kind: EventKind, now: datetime, event_id: str | None = None
    ) -> Delivery:
        """A signed delivery saying the payment is now ``kind``."""
        raise NotImplementedError

    def charges(self, payment: Payment) -> int:
        """How many times the provider took money for this payment."""
        raise NotImplementedError

    def refunded(self, payment: Payment) -> int:
        """Minor units the provider paid back on this payment (refunds not failed)."""
        raise NotImplementedError

    def post_keys(self) -> Keys:
        """Idempotency keys of every recorded POST, grouped by the operation it repeats."""
        raise NotImplementedError

    def payouts(self) -> Counter[str]:
        """How many provider refunds (not failed) each of our refunds got."""
        raise NotImplementedError


def _operation(path: str, key: str | None) -> str:
    """A confirm, or reconciliation finishing one that never arrived (its own operation)."""
    return f"{path} (reconcile)" if "-reconcile" in (key or "") else path


def refund_id_of(text: object) -> str:
    match = _REFUND_KEY.search(str(text))
    return match["id"] if match else "?"


# ---------------------------------------------------------------------------- fake


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


# ---------------------------------------------------------------------------- stripe


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


# ---------------------------------------------------------------------------- paypal


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


# ---------------------------------------------------------------------------- square


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

"""Stripe's v1 API as far as the adapter uses it: PaymentIntents and Refunds.

Form-encoded requests (``metadata[payment_id]=…``, ``expand[0]=…``), JSON replies, errors as
``{"error": {"type", "code", "decline_code", "message", ...}}`` with Stripe's status codes
(400 invalid request, 401 bad key, 402 card error, 404 missing, 429 rate limit, 5xx),
``Idempotency-Key`` on every POST (same key and parameters: the stored answer; same key and
other parameters: 400 ``idempotency_error``). Payment methods are the fake provider's test
tokens, with the outcomes the wire contract gives them.

It refuses what Stripe refuses: a parameter the endpoint does not have (taken from the official
SDK's typed parameters: 400 ``parameter_unknown``), ``allowed_payment_method_types`` under an API
version (``Stripe-Version``) older than the one that introduced it, and an amount Stripe's unit
for its currency cannot take (ISK and UGX in whole units written with two decimals ``00``,
three-decimal currencies with a last digit 0), from its own table (docs.stripe.com/currencies),
not the adapter's.
"""

from __future__ import annotations

import itertools
import re
import secrets
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import parse_qsl

from stripe import params as sdk_params
from stripe._request_options import RequestOptions

from payment_core.testing import FAKE_TOKENS

from ._server import Recorded, Response, StandIn

_COUNTER = itertools.count(1)
_INTENT_PATH = re.compile(
    r"^/v1/payment_intents/(?P<id>pi_[A-Za-z0-9]+)(?P<action>/confirm|/cancel)?$"
)
_REFUND_PATH = re.compile(r"^/v1/refunds/(?P<id>re_[A-Za-z0-9]+)$")


def _accepted(params_type: type) -> frozenset[str]:
    """The request parameters of one endpoint, as the official SDK types them."""
    return frozenset(params_type.__annotations__) - frozenset(RequestOptions.__annotations__)


_CREATE_INTENT = _accepted(sdk_params.PaymentIntentCreateParams)
_CONFIRM_INTENT = _accepted(sdk_params.PaymentIntentConfirmParams)
_CANCEL_INTENT = _accepted(sdk_params.PaymentIntentCancelParams)
_RETRIEVE_INTENT = _accepted(sdk_params.PaymentIntentRetrieveParams)
_CREATE_REFUND = _accepted(sdk_params.RefundCreateParams)
_LIST_REFUNDS = _accepted(sdk_params.RefundListParams)
_RETRIEVE_REFUND = _accepted(sdk_params.RefundRetrieveParams)
#: Parameters younger than the API: the first version that has each.
_SINCE_VERSION = {"allowed_payment_method_types": "2026-07-29"}
#: Stripe's amount steps in its own unit (docs.stripe.com/currencies, special cases).
_AMOUNT_STEPS = {"isk": 100, "ugx": 100, "bhd": 10, "jod": 10, "kwd": 10, "omr": 10, "tnd": 10}

_MESSAGES = {
    "generic_decline": "Your card was declined.",
    "insufficient_funds": "Your card has insufficient funds.",
}


def _id(prefix: str) -> str:
    return f"{prefix}_{next(_COUNTER):06d}{secrets.token_hex(6)}"


def parse_stripe_form(pairs: list[tuple[str, str]]) -> dict[str, Any]:
    """``a[b][0]=x`` pairs -> nested dicts and lists, as Stripe reads them."""
    root: dict[str, Any] = {}
    for key, value in pairs:
        parts = re.findall(r"[^\[\]]+", key)
        node = root
        for part in parts[:-1]:
            node = node.setdefault(part, {})
        node[parts[-1]] = value

    def lists(node: Any) -> Any:
        if isinstance(node, dict):
            node = {k: lists(v) for k, v in node.items()}
            if node and all(k.isdigit() for k in node):
                return [node[k] for k in sorted(node, key=int)]
        return node

    return lists(root)


@dataclass
class Intent:
    id: str
    amount: int
    currency: str
    metadata: dict[str, str]
    description: str | None
    client_secret: str
    status: str = "requires_payment_method"
    payment_method: str | None = None
    latest_charge: str | None = None
    next_action: dict[str, Any] | None = None
    last_payment_error: dict[str, Any] | None = None
    created: int = 1_767_268_800
    charges: int = 0


@dataclass
class Refund:
    id: str
    payment_intent: str
    amount: int
    currency: str
    status: str
    metadata: dict[str, str]
    reason: str | None = None
    failure_reason: str | None = None
    created: int = 1_767_268_800
    key: str | None = None
    extra: dict[str, Any] = field(default_factory=dict)


class StripeStandIn(StandIn):
    name = "stripe"

    def __init__(self, api_key: str = "sk_test_standin_4eC39HqLyjWDarjtT1zdp7dc") -> None:
        self.api_key = api_key
        super().__init__()

    def reset_state(self) -> None:
        self.intents: dict[str, Intent] = {}
        self.refunds: dict[str, Refund] = {}

    # ------------------------------------------------------------------ wire helpers
    def parse(self, request: Recorded) -> Any:
        pairs = list(request.query)
        if request.body:
            pairs += parse_qsl(request.body.decode(), keep_blank_values=True)
        return parse_stripe_form(pairs)

    @staticmethod
    def error(status: int, type_: str, message: str, **extra: Any) -> Response:
        return Response(
            status,
            {"error": {"type": type_, "message": message, **extra}},
            {"Request-Id": _id("req")},
        )

    def fault_response(self, kind: str, retry_after: int) -> Response:
        if kind == "429":
            response = self.error(
                429,
                "invalid_request_error",
                "Too many requests hit the API too quickly.",
                code="rate_limit",
            )
            response.headers["Retry-After"] = str(retry_after)
            return response
        return self.error(500, "api_error", "Something went wrong on Stripe's end.")

    # ------------------------------------------------------------------ objects
    def intent_json(
        self, intent: Intent, expand: list[str] | tuple[str, ...] = ()
    ) -> dict[str, Any]:
        token = FAKE_TOKENS.get(intent.payment_method or "")
        amount = (
            intent.amount + 1
            if token is not None and token.outcome == "mismatch"
            else intent.amount
        )
        method: Any = intent.payment_method
        if "payment_method" in expand and intent.payment_method and token is not None:
            method = {
                "id": intent.payment_method,
                "object": "payment_method",
                "type": "card",
                "card": {
                    "brand": token.card.brand,
                    "last4": token.card.last4,
                    "exp_month": token.card.exp_month,
                    "exp_year": token.card.exp_year,
                    "funding": "credit",
                },
            }
        charge: Any = intent.latest_charge
        if "latest_charge" in expand and intent.latest_charge and token is not None:
            charge = {
                "id": intent.latest_charge,
                "object": "charge",
                "amount": amount,
                "currency": intent.currency,
                "payment_intent": intent.id,
                "status": "succeeded",
                "payment_method_details": {
                    "type": "card",
                    "card": {
                        "brand": token.card.brand,
                        "last4": token.card.last4,
                        "exp_month": token.card.exp_month,
                        "exp_year": token.card.exp_year,
                    },
                },
            }
        return {
            "id": intent.id,
            "object": "payment_intent",
            "amount": amount,
            "amount_received": amount if intent.status == "succeeded" else 0,
            "currency": intent.currency,
            "status": intent.status,
            "metadata": dict(intent.metadata),
            "description": intent.description,
            "client_secret": intent.client_secret,
            "payment_method": method,
            "latest_charge": charge,
            "next_action": intent.next_action,
            "last_payment_error": intent.last_payment_error,
            "capture_method": "automatic",
            "confirmation_method": "automatic",
            "payment_method_types": ["card"],
            "created": intent.created,
            "livemode": False,
        }

    def refund_json(self, refund: Refund) -> dict[str, Any]:
        return {
            "id": refund.id,
            "object": "refund",
            "amount": refund.amount,
            "currency": refund.currency,
            "payment_intent": refund.payment_intent,
            "status": refund.status,
            "metadata": dict(refund.metadata),
            "reason": refund.reason,
            "failure_reason": refund.failure_reason,
            "created": refund.created,
        }

    # ------------------------------------------------------------------ routing
    def handle(self, request: Recorded) -> Response:
        auth = request.header("authorization") or ""
        if auth != f"Bearer {self.api_key}":
            presented = auth.removeprefix("Bearer ")
            return self.error(
                401,
                "invalid_request_error",
                f"Invalid API Key provided: {presented[:8]}{'*' * 8}{presented[-4:]}",
            )
        params: dict[str, Any] = request.params or {}
        expand = tuple(params.get("expand") or ())
        refused = self._refuse_unknown(request, params)
        if refused is not None:
            return refused
        if request.method == "POST":
            key = request.header("idempotency-key")
            fingerprint = (request.path, repr(sorted(_flat(params))))

            def conflict() -> Response:
                return self.error(
                    400,
                    "idempotency_error",
                    "Keys for idempotent requests can only be used with the same parameters "
                    "they were first used with.",
                )

            return self.idempotent(
                key, fingerprint, lambda: self._post(request.path, params, expand), conflict
            )
        if request.method == "GET":
            return self._get(request.path, params, expand)
        return self.error(404, "invalid_request_error", "Unrecognized request URL.")

    def _refuse_unknown(self, request: Recorded, params: dict[str, Any]) -> Response | None:
        """400 ``parameter_unknown`` for a parameter this endpoint (at this version) lacks."""
        accepted = self._accepted(request.method, request.path)
        if accepted is None:
            return None
        version = request.header("stripe-version") or ""
        for name in params:
            since = _SINCE_VERSION.get(name)
            if name not in accepted or (since is not None and version[:10] < since):
                return self.error(
                    400,
                    "invalid_request_error",
                    f"Received unknown parameter: {name}",
                    code="parameter_unknown",
                    param=name,
                )
        return None

    @staticmethod
    def _accepted(method: str, path: str) -> frozenset[str] | None:
        if method == "POST" and path == "/v1/payment_intents":
            return _CREATE_INTENT
        if method == "POST" and path == "/v1/refunds":
            return _CREATE_REFUND
        if method == "GET" and path == "/v1/refunds":
            return _LIST_REFUNDS
        if _REFUND_PATH.match(path):
            return _RETRIEVE_REFUND
        match = _INTENT_PATH.match(path)
        if match is None:
            return None
        return {"/confirm": _CONFIRM_INTENT, "/cancel": _CANCEL_INTENT, None: _RETRIEVE_INTENT}[
            match["action"]
        ]

    def _bad_amount(self, amount: int, currency: str) -> Response | None:
        step = _AMOUNT_STEPS.get(currency, 1)
        if amount % step == 0:
            return None
        return self.error(
            400,
            "invalid_request_error",
            f"Invalid amount. Currency {currency.upper()} charged amounts must be evenly "
            f"divisible by {step}. See https://stripe.com/docs/currencies#special-cases",
            code="invalid_charge_amount_no_decimal_compatible",
            param="amount",
        )

    def _post(self, path: str, params: dict[str, Any], expand: tuple[str, ...]) -> Response:
        if path == "/v1/payment_intents":
            return self._create_intent(params, expand)
        if path == "/v1/refunds":
            return self._create_refund(params)
        match = _INTENT_PATH.match(path)
        if match and match["action"]:
            intent = self.intents.get(match["id"])
            if intent is None:
                return self._missing("payment_intent", match["id"])
            if match["action"] == "/confirm":
                return self._confirm(intent, params, expand)
            return self._cancel(intent, expand)
        return self.error(404, "invalid_request_error", "Unrecognized request URL.")

    def _get(self, path: str, params: dict[str, Any], expand: tuple[str, ...]) -> Response:
        match = _INTENT_PATH.match(path)
        if match and not match["action"]:
            intent = self.intents.get(match["id"])
            if intent is None:
                return self._missing("payment_intent", match["id"])
            return Response(200, self.intent_json(intent, expand))
        match = _REFUND_PATH.match(path)
        if match:
            refund = self.refunds.get(match["id"])
            if refund is None:
                return self._missing("refund", match["id"])
            return Response(200, self.refund_json(refund))
        if path == "/v1/refunds":
            items = [
                r
                for r in reversed(self.refunds.values())
                if params.get("payment_intent") in (None, r.payment_intent)
            ]
            after = params.get("starting_after")
            if after:
                ids = [r.id for r in items]
                items = items[ids.index(after) + 1 :] if after in ids else []
            limit = int(params.get("limit") or 10)
            return Response(
                200,
                {
                    "object": "list",
                    "url": "/v1/refunds",
                    "data": [self.refund_json(r) for r in items[:limit]],
                    "has_more": len(items) > limit,
                },
            )
        return self.error(404, "invalid_request_error", "Unrecognized request URL.")

    def _missing(self, kind: str, ident: str) -> Response:
        return self.error(
            404,
            "invalid_request_error",
            f"No such {kind}: '{ident}'",
            code="resource_missing",
            param="id",
        )

    # ------------------------------------------------------------------ payment intents
    def _create_intent(self, params: dict[str, Any], expand: tuple[str, ...]) -> Response:
        try:
            amount = int(params["amount"])
            currency = str(params["currency"])
        except (KeyError, ValueError):
            return self.error(
                400,
                "invalid_request_error",
                "Missing required param: amount.",
                code="parameter_missing",
                param="amount",
            )
        if currency != currency.lower():
            return self.error(400, "invalid_request_error", "Invalid currency.", param="currency")
        bad = self._bad_amount(amount, currency)
        if bad is not None:
            return bad
        if params.get("confirm") == "true":
            return self.error(
                400, "invalid_request_error", "stand-in: confirm on create unsupported"
            )
        intent_id = _id("pi")
        intent = Intent(
            id=intent_id,
            amount=amount,
            currency=currency,
            metadata=dict(params.get("metadata") or {}),
            description=params.get("description"),
            client_secret=f"{intent_id}_secret_{secrets.token_hex(8)}",
        )
        if params.get("payment_method"):
            intent.payment_method = params["payment_method"]
            intent.status = "requires_confirmation"
        self.intents[intent_id] = intent
        return Response(200, self.intent_json(intent, expand))

    def _confirm(self, intent: Intent, params: dict[str, Any], expand: tuple[str, ...]) -> Response:
        method = params.get("payment_method") or intent.payment_method
        if intent.status in ("succeeded", "canceled", "processing"):
            return self.error(
                400,
                "invalid_request_error",
                f"This PaymentIntent's status is {intent.status}; it cannot be confirmed.",
                code="payment_intent_unexpected_state",
                payment_intent=self.intent_json(intent),
            )
        token = FAKE_TOKENS.get(method or "")
        if token is None:
            return self.error(
                400,
                "invalid_request_error",
                f"No such PaymentMethod: '{method}'",
                code="resource_missing",
                param="payment_method",
            )
        intent.payment_method = method
        if token.outcome == "declined":
            decline = (
                "generic_decline" if token.decline_code == "card_declined" else token.decline_code
            )
            intent.status = "requires_payment_method"
            intent.last_payment_error = {
                "type": "card_error",
                "code": "card_declined",
                "decline_code": decline,
                "message": _MESSAGES.get(decline or "", "Your card was declined."),
            }
            return self.error(
                402,
                "card_error",
                _MESSAGES.get(decline or "", "Your card was declined."),
                code="card_declined",
                decline_code=decline,
                param="",
                payment_intent=self.intent_json(intent),
            )
        if token.outcome == "requires_action":
            intent.status = "requires_action"
            return_url = params.get("return_url")
            intent.next_action = (
                {
                    "type": "redirect_to_url",
                    "redirect_to_url": {
                        "url": f"{self.base_url}/3ds/{intent.id}",
                        "return_url": return_url,
                    },
                }
                if return_url
                else {
                    "type": "use_stripe_sdk",
                    "use_stripe_sdk": {"type": "three_d_secure_redirect"},
                }
            )
            return Response(200, self.intent_json(intent, expand))
        self.charge(intent)
        response = Response(200, self.intent_json(intent, expand))
        if token.outcome == "timeout":
            response.hang = True  # done, but every answer to this confirm is lost
        return response

    def charge(self, intent: Intent) -> None:
        intent.status = "succeeded"
        intent.next_action = None
        intent.charges += 1
        intent.latest_charge = _id("ch")

    def complete_action(self, intent_id: str) -> dict[str, Any]:
        """The customer passed 3-D Secure: the intent succeeds. Its JSON, for a webhook."""
        with self.lock:
            intent = self.intents[intent_id]
            self.charge(intent)
            return self.intent_json(intent)

    def _cancel(self, intent: Intent, expand: tuple[str, ...]) -> Response:
        if intent.status in ("succeeded", "canceled"):
            return self.error(
                400,
                "invalid_request_error",
                f"You cannot cancel this PaymentIntent because it has a status of {intent.status}.",
                code="payment_intent_unexpected_state",
            )
        intent.status = "canceled"
        return Response(200, self.intent_json(intent, expand))

    # ------------------------------------------------------------------ refunds
    def refunded(self, intent_id: str) -> int:
        return sum(
            r.amount
            for r in self.refunds.values()
            if r.payment_intent == intent_id and r.status in ("succeeded", "pending")
        )

    def _create_refund(self, params: dict[str, Any]) -> Response:
        intent = self.intents.get(params.get("payment_intent") or "")
        if intent is None:
            return self._missing("payment_intent", str(params.get("payment_intent")))
        if intent.status != "succeeded":
            return self.error(
                400,
                "invalid_request_error",
                "This PaymentIntent has no successful charge.",
                code="charge_not_refundable",
            )
        amount = int(params.get("amount") or intent.amount - self.refunded(intent.id))
        bad = self._bad_amount(amount, intent.currency)
        if bad is not None:
            return bad
        if amount <= 0 or amount > intent.amount - self.refunded(intent.id):
            return self.error(
                400,
                "invalid_request_error",
                "Refund amount is greater than the unrefunded amount on the charge.",
                code="amount_too_large",
                param="amount",
            )
        token = FAKE_TOKENS.get(intent.payment_method or "")
        failed = token is not None and token.refunds_fail
        refund = Refund(
            id=_id("re"),
            payment_intent=intent.id,
            amount=amount,
            currency=intent.currency,
            status="failed" if failed else "succeeded",
            metadata=dict(params.get("metadata") or {}),
            reason=params.get("reason"),
            failure_reason="declined" if failed else None,
        )
        self.refunds[refund.id] = refund
        return Response(200, self.refund_json(refund))

    def fail_refund(self, refund_id: str) -> dict[str, Any]:
        """The bank bounced a refund after it succeeded. Its JSON, for a webhook."""
        with self.lock:
            refund = self.refunds[refund_id]
            refund.status = "failed"
            refund.failure_reason = "expired_or_canceled_card"
            return self.refund_json(refund)


def _flat(params: Any, prefix: str = "") -> list[tuple[str, str]]:
    if isinstance(params, dict):
        out: list[tuple[str, str]] = []
        for key, value in params.items():
            out += _flat(value, f"{prefix}[{key}]" if prefix else key)
        return out
    if isinstance(params, list):
        out = []
        for i, value in enumerate(params):
            out += _flat(value, f"{prefix}[{i}]")
        return out
    return [(prefix, str(params))]

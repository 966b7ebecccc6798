"""Stripe's v1 API as far as the adapter uses it: PaymentIntents (holds included), refunds,
customers and saved payment methods, disputes, and the events Stripe sends about them.

Form-encoded requests (``metadata[payment_id]=…``, ``expand[0]=…``), JSON replies, errors as
``{"error": {"type", "code", "decline_code", "message", ...}}`` with Stripe's status codes
(400 invalid request, 401 bad key, 402 card error, 404 missing, 429 rate limit, 5xx),
``Idempotency-Key`` on every POST (same key and parameters: the stored answer; same key and
other parameters: 400 ``idempotency_error``). Payment methods are the test tokens
(``_tokens.TOKENS``), with the outcomes the wire contract gives them.

It refuses what Stripe refuses: a parameter the endpoint does not have, at any depth (taken from
the official SDK's typed parameters: 400 ``parameter_unknown``), a value outside a parameter's
choices, ``allowed_payment_method_types`` under an API version (``Stripe-Version``) older than
the one that introduced it, an amount Stripe's unit for its currency cannot take (from its own
table, docs.stripe.com/currencies, not the adapter's), and every state rule the modules below
describe. Events it sends of itself are signed with :attr:`StripeStandIn.webhook_secret` in
Stripe's scheme (``Stripe-Signature: t=…,v1=…``).
"""

from __future__ import annotations

import json
import re
from collections.abc import Callable
from datetime import timedelta
from typing import Any
from urllib.parse import parse_qsl

from stripe import params as sdk

from payment_core import signing

from .._server import Recorded, Response, StandIn
from ._customers import CustomersMixin
from ._disputes import DisputesMixin
from ._intents import IntentsMixin
from ._objects import Customer, Dispute, Intent, Method, Refund
from ._refunds import RefundsMixin
from ._wire import SINCE_VERSION, check_params, error, flat, invalid, new_id, parse_stripe_form

__all__ = ["WEBHOOK_SECRET", "Intent", "Refund", "StripeStandIn", "parse_stripe_form"]

WEBHOOK_SECRET = "whsec_contract_new_8d3f0a9c1b2e"
API_VERSION = "2026-10-28.endive"

Handler = Callable[["StripeStandIn", dict[str, str], dict[str, Any], tuple[str, ...]], Response]
_PI = r"/v1/payment_intents/(?P<id>pi_[A-Za-z0-9]+)"
_PM = r"/v1/payment_methods/(?P<id>[A-Za-z0-9_]+)"
_DP = r"/v1/disputes/(?P<id>dp_[A-Za-z0-9]+)"


def _intent_action(action: str) -> Handler:
    def run(s: StripeStandIn, m: dict[str, str], p: dict[str, Any], e: tuple[str, ...]) -> Response:
        intent = s.intents.get(m["id"])
        if intent is None:
            return s.missing_intent(m["id"])
        return getattr(s, action)(intent, p, e)  # type: ignore[no-any-return]

    return run


#: (method, path, the SDK's parameters of the endpoint, handler).
ROUTES: list[tuple[str, re.Pattern[str], type, Handler]] = [
    (method, re.compile(f"^{path}$"), params, handler)
    for method, path, params, handler in [
        ("POST", "/v1/payment_intents", sdk.PaymentIntentCreateParams,
         lambda s, m, p, e: s.create_intent(p, e)),
        ("GET", _PI, sdk.PaymentIntentRetrieveParams,
         lambda s, m, p, e: s.retrieve_intent(m["id"], e)),
        ("POST", f"{_PI}/confirm", sdk.PaymentIntentConfirmParams, _intent_action("confirm")),
        ("POST", f"{_PI}/cancel", sdk.PaymentIntentCancelParams, _intent_action("cancel")),
        ("POST", f"{_PI}/capture", sdk.PaymentIntentCaptureParams, _intent_action("capture")),
        ("POST", f"{_PI}/increment_authorization",
         sdk.PaymentIntentIncrementAuthorizationParams, _intent_action("increment")),
        ("POST", "/v1/refunds", sdk.RefundCreateParams, lambda s, m, p, e: s.create_refund(p)),
        ("GET", "/v1/refunds", sdk.RefundListParams, lambda s, m, p, e: s.list_refunds(p)),
        ("GET", r"/v1/refunds/(?P<id>re_[A-Za-z0-9]+)", sdk.RefundRetrieveParams,
         lambda s, m, p, e: s.get_refund(m["id"])),
        ("POST", "/v1/customers", sdk.CustomerCreateParams,
         lambda s, m, p, e: s.create_customer(p)),
        ("GET", r"/v1/customers/(?P<id>cus_[A-Za-z0-9]+)", sdk.CustomerRetrieveParams,
         lambda s, m, p, e: s.get_customer(m["id"])),
        ("GET", r"/v1/customers/(?P<id>cus_[A-Za-z0-9]+)/payment_methods",
         sdk.CustomerListPaymentMethodsParams,
         lambda s, m, p, e: s.customer_methods(m["id"], p)),
        ("GET", _PM, sdk.PaymentMethodRetrieveParams, lambda s, m, p, e: s.get_method(m["id"])),
        ("POST", f"{_PM}/attach", sdk.PaymentMethodAttachParams,
         lambda s, m, p, e: s.attach(m["id"], p)),
        ("POST", f"{_PM}/detach", sdk.PaymentMethodDetachParams,
         lambda s, m, p, e: s.detach(m["id"])),
        ("GET", "/v1/disputes", sdk.DisputeListParams, lambda s, m, p, e: s.list_disputes(p)),
        ("GET", _DP, sdk.DisputeRetrieveParams, lambda s, m, p, e: s.get_dispute(m["id"])),
        ("POST", _DP, sdk.DisputeUpdateParams, lambda s, m, p, e: s.update_dispute(m["id"], p)),
        ("POST", f"{_DP}/close", sdk.DisputeCloseParams,
         lambda s, m, p, e: s.close_dispute(m["id"])),
    ]
]  # fmt: skip


class StripeStandIn(IntentsMixin, RefundsMixin, CustomersMixin, DisputesMixin, StandIn):
    name = "stripe"

    def __init__(
        self,
        api_key: str = "sk_test_standin_4eC39HqLyjWDarjtT1zdp7dc",
        webhook_secret: str = WEBHOOK_SECRET,
    ) -> None:
        self.api_key = api_key
        self.webhook_secret = webhook_secret
        super().__init__()

    def reset_state(self) -> None:
        self.intents: dict[str, Intent] = {}
        self.refunds: dict[str, Refund] = {}
        self.customers: dict[str, Customer] = {}
        self.methods: dict[str, Method] = {}
        self.disputes: dict[str, Dispute] = {}
        #: How long a hold lasts (Stripe: 7 days for online card payments).
        self.hold_ttl = timedelta(days=7)
        #: How long the merchant has to answer a dispute.
        self.evidence_window = timedelta(days=7)
        #: Intents whose incremental authorizations the issuer declines (``"*"``: all of them).
        self.increment_declines: set[str] = set()

    def on_clock(self) -> None:
        self.sweep_holds()

    # ------------------------------------------------------------------ wire helpers
    def parse(self, request: Recorded) -> Any:
        pairs = list(request.query)
        if request.body:
            pairs += parse_qsl(request.body.decode(), keep_blank_values=True)
        return parse_stripe_form(pairs)

    error = staticmethod(error)

    def fault_response(self, kind: str, retry_after: int) -> Response:
        if kind == "429":
            response = error(
                429,
                "invalid_request_error",
                "Too many requests hit the API too quickly.",
                code="rate_limit",
            )
            response.headers["Retry-After"] = str(retry_after)
            return response
        return error(500, "api_error", "Something went wrong on Stripe's end.")

    def missing_intent(self, intent_id: str) -> Response:
        return invalid(
            f"No such payment_intent: '{intent_id}'", code="resource_missing", param="id"
        )

    def emit_event(self, event_type: str, obj: dict[str, Any]) -> None:
        """Send Stripe's event about ``obj``, signed now by the stand-in's clock."""
        now = self.clock.timestamp()
        body = json.dumps(
            {
                "id": new_id("evt"),
                "object": "event",
                "api_version": API_VERSION,
                "type": event_type,
                "created": now,
                "livemode": False,
                "data": {"object": obj},
            },
            separators=(",", ":"),
        ).encode()
        header = signing.signature_header(self.webhook_secret, now, body)
        self.emit(
            event_type, body, {"Stripe-Signature": header, "Content-Type": "application/json"}
        )

    # ------------------------------------------------------------------ routing
    def handle(self, request: Recorded) -> Response:
        auth = request.header("authorization") or ""
        if auth != f"Bearer {self.api_key}":
            presented = auth.removeprefix("Bearer ")
            return error(
                401,
                "invalid_request_error",
                f"Invalid API Key provided: {presented[:8]}{'*' * 8}{presented[-4:]}",
            )
        params: dict[str, Any] = request.params or {}
        expand = tuple(params.get("expand") or ())
        for method, pattern, params_type, handler in ROUTES:
            match = pattern.match(request.path)
            if match is None or method != request.method:
                continue
            refused = check_params(params, params_type) or self._too_new(request, params)
            if refused is not None:
                return refused
            groups = match.groupdict()
            if method == "GET":
                return handler(self, groups, params, expand)
            key = request.header("idempotency-key")
            fingerprint = (request.path, repr(sorted(flat(params))))

            def conflict() -> Response:
                return error(
                    400,
                    "idempotency_error",
                    "Keys for idempotent requests can only be used with the same parameters "
                    "they were first used with.",
                )

            def run(h: Handler = handler, g: dict[str, str] = groups) -> Response:
                return h(self, g, params, expand)

            return self.idempotent(key, fingerprint, run, conflict)
        return error(404, "invalid_request_error", "Unrecognized request URL.")

    @staticmethod
    def _too_new(request: Recorded, params: dict[str, Any]) -> Response | None:
        version = request.header("stripe-version") or ""
        for name in params:
            since = SINCE_VERSION.get(name)
            if since is not None and version[:10] < since:
                return invalid(
                    f"Received unknown parameter: {name}", code="parameter_unknown", param=name
                )
        return None

    def retrieve_intent(self, intent_id: str, expand: tuple[str, ...]) -> Response:
        intent = self.intents.get(intent_id)
        if intent is None:
            return self.missing_intent(intent_id)
        return Response(200, self.intent_json(intent, expand))

"""PayPal's REST API as far as the adapter uses it: OAuth2, Orders v2, Payments v2, webhooks.

- ``POST /v1/oauth2/token``: HTTP Basic client credentials, ``grant_type=client_credentials``
  form body; answers a bearer token with ``expires_in``. Tokens can be revoked (401 after).
- ``POST /v2/checkout/orders`` (intent ``CAPTURE``), ``GET /v2/checkout/orders/{id}``,
  ``POST /v2/checkout/orders/{id}/capture``, ``POST /v2/payments/captures/{id}/refund``,
  ``GET /v2/payments/refunds/{id}``: JSON, ``PayPal-Request-Id`` idempotency (the stored
  answer is replayed; the id with another request is 422 ``PAYPAL_REQUEST_ID_PREVIOUSLY_USED``),
  errors as ``{"name", "message", "debug_id", "details": [{"issue"}]}``.
- ``GET /v1/notifications/certs/{name}``: the PEM certificate webhooks are signed with (a
  self-signed RSA certificate made when the stand-in starts), after ``cert_delay`` seconds.

Stricter than PayPal may be: a field that the official SDK's request model lacks is refused
(400 ``INVALID_REQUEST``), so that a misspelt field cannot pass unnoticed; and as PayPal does, an
amount with decimals in a currency that has none at PayPal (HUF, JPY, TWD) is 422
``DECIMAL_PRECISION``.
"""

from __future__ import annotations

import base64
import itertools
import json
import re
import secrets
import zlib
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any
from urllib.parse import parse_qsl

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import padding, rsa
from cryptography.x509.oid import NameOID

from payment_core.money import Money
from payment_core.testing import FAKE_TOKENS

from ._server import Recorded, Response, StandIn

_COUNTER = itertools.count(1)
_ORDER = re.compile(r"^/v2/checkout/orders/(?P<id>[A-Z0-9]+)(?P<capture>/capture)?$")
_CAPTURE_REFUND = re.compile(r"^/v2/payments/captures/(?P<id>[A-Z0-9]+)/refund$")
_REFUND = re.compile(r"^/v2/payments/refunds/(?P<id>[A-Z0-9]+)$")
CERT_PATH = "/v1/notifications/certs/CERT-360caa42-fca2a594-standin"
#: Request fields per the SDK's models (OrderRequest, PurchaseUnitRequest, OrderCaptureRequest,
#: OrderCaptureRequestPaymentSource, CardRequest, RefundRequest, OrderApplicationContext).
_ORDER_FIELDS = frozenset(
    {"intent", "purchase_units", "processing_instruction", "payer", "payment_source"}
    | {"application_context"}
)
_UNIT_FIELDS = frozenset(
    {"amount", "reference_id", "payee", "payment_instruction", "description", "custom_id"}
    | {"invoice_id", "soft_descriptor", "items", "shipping", "supplementary_data"}
)
_CONTEXT_FIELDS = frozenset(
    {"brand_name", "locale", "landing_page", "shipping_preference", "user_action"}
    | {"payment_method", "return_url", "cancel_url", "stored_payment_source"}
)
_CAPTURE_FIELDS = frozenset({"payment_source"})
_SOURCE_FIELDS = frozenset({"card", "token", "paypal", "apple_pay", "google_pay", "venmo"})
_CARD_FIELDS = frozenset(
    {"name", "number", "expiry", "security_code", "billing_address", "attributes", "vault_id"}
    | {"single_use_token", "stored_credential", "network_token", "experience_context"}
)
_REFUND_FIELDS = frozenset(
    {"amount", "custom_id", "invoice_id", "note_to_payer", "payment_instruction"}
)
_MONEY_FIELDS = frozenset({"currency_code", "value"})
#: "This currency does not support decimals" (PayPal's currency codes).
_WHOLE_CURRENCIES = frozenset({"HUF", "JPY", "TWD"})


def _id() -> str:
    return f"{next(_COUNTER):05d}{secrets.token_hex(6).upper()}"[:17]


def _self_signed() -> tuple[rsa.RSAPrivateKey, bytes]:
    key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "messageverificationcerts.standin")])
    now = datetime.now(UTC)
    cert = (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(name)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - timedelta(days=3650))
        .not_valid_after(now + timedelta(days=3650))
        .sign(key, hashes.SHA256())
    )
    return key, cert.public_bytes(serialization.Encoding.PEM)


def _value(amount: int, currency: str) -> dict[str, str]:
    text = Money.of(amount, currency).format()
    if currency in _WHOLE_CURRENCIES:
        text = text.split(".")[0]  # PayPal writes these without decimals
    return {"currency_code": currency, "value": text}


@dataclass
class Order:
    id: str
    amount: int
    currency: str
    custom_id: str | None
    reference_id: str | None
    status: str = "CREATED"
    captures: list[dict[str, Any]] = field(default_factory=list)
    refunds: list[dict[str, Any]] = field(default_factory=list)
    payment_source: dict[str, Any] | None = None
    charges: int = 0
    method: str | None = None


class PayPalStandIn(StandIn):
    name = "paypal"

    def __init__(
        self,
        client_id: str = "AYSq3RDGsmBLJE-otTkBtM-jBRd1TCQwFf9RGfwddNXWz0uFU9ztymylOhRS",
        client_secret: str = "EGnHDxD_qRPdaLdZz8iCr8N7_MzF-YHPTkjs6NKYQvQSBngp4PTTVWkPZRbL",
    ) -> None:
        self.client_id = client_id
        self.client_secret = client_secret
        self.token_lifetime = 32_400
        self.cert_delay = 0.0
        self.key, self.cert_pem = _self_signed()
        super().__init__()

    def reset_state(self) -> None:
        self.cert_delay = 0.0
        self.tokens: set[str] = set()
        self.tokens_issued = 0
        self.all_tokens: list[str] = []
        self.orders: dict[str, Order] = {}
        self.captures: dict[str, str] = {}  # capture id -> order id
        self.refunds: dict[str, dict[str, Any]] = {}

    def revoke_tokens(self) -> None:
        with self.lock:
            self.tokens.clear()

    # ------------------------------------------------------------------ wire helpers
    def parse(self, request: Recorded) -> Any:
        if request.path == "/v1/oauth2/token":
            return dict(parse_qsl(request.body.decode()))
        return super().parse(request)

    @staticmethod
    def error(status: int, name: str, message: str, issue: str | None = None) -> Response:
        body: dict[str, Any] = {"name": name, "message": message, "debug_id": secrets.token_hex(6)}
        if issue:
            body["details"] = [{"issue": issue, "description": message}]
        return Response(status, body, {"Paypal-Debug-Id": body["debug_id"]})

    def fault_response(self, kind: str, retry_after: int) -> Response:
        if kind == "429":
            response = self.error(
                429, "RATE_LIMIT_REACHED", "Too many requests. Blocked due to rate limiting."
            )
            response.headers["Retry-After"] = str(retry_after)
            return response
        return self.error(503, "SERVICE_UNAVAILABLE", "Service Unavailable.")

    def order_json(self, order: Order) -> dict[str, Any]:
        unit: dict[str, Any] = {
            "reference_id": order.reference_id or "default",
            "amount": _value(order.amount, order.currency),
        }
        if order.custom_id:
            unit["custom_id"] = order.custom_id
        if order.captures or order.refunds:
            unit["payments"] = {"captures": list(order.captures), "refunds": list(order.refunds)}
        links = [
            {
                "href": f"{self.base_url}/v2/checkout/orders/{order.id}",
                "rel": "self",
                "method": "GET",
            },
            {
                "href": f"{self.base_url}/checkoutnow?token={order.id}",
                "rel": "approve",
                "method": "GET",
            },
        ]
        if order.status == "PAYER_ACTION_REQUIRED":
            links.append(
                {
                    "href": f"{self.base_url}/webapps/helios?action=verify&token={order.id}",
                    "rel": "payer-action",
                    "method": "GET",
                }
            )
        body: dict[str, Any] = {
            "id": order.id,
            "intent": "CAPTURE",
            "status": order.status,
            "purchase_units": [unit],
            "links": links,
            "create_time": "2026-01-01T12:00:00Z",
        }
        if order.payment_source:
            body["payment_source"] = order.payment_source
        return body

    # ------------------------------------------------------------------ routing
    def handle(self, request: Recorded) -> Response:
        if request.path == "/v1/oauth2/token" and request.method == "POST":
            return self._token(request)
        if request.path == CERT_PATH and request.method == "GET":
            return Response(
                200,
                headers={"Content-Type": "application/x-pem-file"},
                raw=self.cert_pem,
                delay=self.cert_delay,
            )
        auth = request.header("authorization") or ""
        if not auth.startswith("Bearer ") or auth.removeprefix("Bearer ") not in self.tokens:
            return Response(
                401,
                {
                    "error": "invalid_token",
                    "error_description": "Token signature verification failed",
                },
            )
        body = request.params if isinstance(request.params, dict) else {}
        key = request.header("paypal-request-id")
        if request.method == "POST":
            refused = self._refuse(request.path, body)
            if refused is not None:
                return refused
            fingerprint = (request.path, json.dumps(body, sort_keys=True))

            def conflict() -> Response:
                return self.error(
                    422,
                    "UNPROCESSABLE_ENTITY",
                    "The PayPal-Request-Id has already been used for another request.",
                    "PAYPAL_REQUEST_ID_PREVIOUSLY_USED",
                )

            return self.idempotent(
                key, fingerprint, lambda: self._post(request.path, body), conflict
            )
        if request.method == "GET":
            return self._get(request.path)
        return self.error(404, "RESOURCE_NOT_FOUND", "The specified resource does not exist.")

    def _refuse(self, path: str, body: dict[str, Any]) -> Response | None:
        """A field the SDK's model lacks (400), or decimals PayPal does not take (422)."""
        checks: list[tuple[Any, frozenset[str]]] = []
        amounts: list[Any] = []
        if path == "/v2/checkout/orders":
            checks.append((body, _ORDER_FIELDS))
            units = body.get("purchase_units")
            for unit in units if isinstance(units, list) else ():
                checks.append((unit, _UNIT_FIELDS))
                amounts.append(unit.get("amount") if isinstance(unit, dict) else None)
            checks.append((body.get("application_context") or {}, _CONTEXT_FIELDS))
        elif _ORDER.match(path):
            source = body.get("payment_source") or {}
            checks += [(body, _CAPTURE_FIELDS), (source, _SOURCE_FIELDS)]
            if isinstance(source, dict):
                checks.append((source.get("card") or {}, _CARD_FIELDS))
        elif _CAPTURE_REFUND.match(path):
            checks.append((body, _REFUND_FIELDS))
            amounts.append(body.get("amount"))
        checks += [(amount, _MONEY_FIELDS) for amount in amounts if amount is not None]
        for obj, fields in checks:
            unknown = sorted(set(obj) - fields) if isinstance(obj, dict) else []
            if unknown:
                return self.error(
                    400,
                    "INVALID_REQUEST",
                    f"Request is not well-formed: unknown field {unknown[0]}.",
                    "INVALID_PARAMETER_SYNTAX",
                )
        for amount in amounts:
            if (
                isinstance(amount, dict)
                and amount.get("currency_code") in _WHOLE_CURRENCIES
                and "." in str(amount.get("value"))
            ):
                return self.error(
                    422,
                    "UNPROCESSABLE_ENTITY",
                    "The value of the field should not have decimals for this currency.",
                    "DECIMAL_PRECISION",
                )
        return None

    def _token(self, request: Recorded) -> Response:
        auth = request.header("authorization") or ""
        expected = base64.b64encode(f"{self.client_id}:{self.client_secret}".encode()).decode()
        if auth != f"Basic {expected}":
            return Response(
                401,
                {"error": "invalid_client", "error_description": "Client Authentication failed"},
            )
        if (request.params or {}).get("grant_type") != "client_credentials":
            return Response(
                400, {"error": "unsupported_grant_type", "error_description": "Grant Type is NULL"}
            )
        token = "A21AA" + secrets.token_urlsafe(24)
        self.tokens.add(token)
        self.tokens_issued += 1
        self.all_tokens.append(token)
        return Response(
            200,
            {
                "scope": "https://uri.paypal.com/services/payments/payment",
                "access_token": token,
                "token_type": "Bearer",
                "app_id": "APP-80W284485P519543T",
                "expires_in": self.token_lifetime,
                "nonce": secrets.token_hex(8),
            },
        )

    def _post(self, path: str, body: dict[str, Any]) -> Response:
        if path == "/v2/checkout/orders":
            return self._create(body)
        match = _ORDER.match(path)
        if match and match["capture"]:
            order = self.orders.get(match["id"])
            if order is None:
                return self.error(
                    404,
                    "RESOURCE_NOT_FOUND",
                    "The specified resource does not exist.",
                    "INVALID_RESOURCE_ID",
                )
            return self._capture(order, body)
        match = _CAPTURE_REFUND.match(path)
        if match:
            return self._refund(match["id"], body)
        return self.error(404, "RESOURCE_NOT_FOUND", "The specified resource does not exist.")

    def _get(self, path: str) -> Response:
        match = _ORDER.match(path)
        if match and not match["capture"]:
            order = self.orders.get(match["id"])
            if order is None:
                return self.error(
                    404,
                    "RESOURCE_NOT_FOUND",
                    "The specified resource does not exist.",
                    "INVALID_RESOURCE_ID",
                )
            return Response(200, self.order_json(order))
        match = _REFUND.match(path)
        if match and match["id"] in self.refunds:
            return Response(200, self.refunds[match["id"]])
        return self.error(
            404,
            "RESOURCE_NOT_FOUND",
            "The specified resource does not exist.",
            "INVALID_RESOURCE_ID",
        )

    # ------------------------------------------------------------------ orders
    def _create(self, body: dict[str, Any]) -> Response:
        units = body.get("purchase_units")
        if body.get("intent") != "CAPTURE" or not isinstance(units, list) or not units:
            return self.error(
                400, "INVALID_REQUEST", "Request is not well-formed.", "MISSING_REQUIRED_PARAMETER"
            )
        amount = units[0].get("amount") or {}
        try:
            money = Money.parse(amount["value"], amount["currency_code"])
        except (KeyError, ValueError):
            return self.error(422, "UNPROCESSABLE_ENTITY", "Invalid amount.", "DECIMAL_PRECISION")
        order = Order(
            id=_id(),
            amount=money.amount,
            currency=money.currency.code,
            custom_id=units[0].get("custom_id"),
            reference_id=units[0].get("reference_id"),
        )
        self.orders[order.id] = order
        return Response(201, self.order_json(order))

    def _capture(self, order: Order, body: dict[str, Any]) -> Response:
        if order.captures:
            return self.error(
                422, "UNPROCESSABLE_ENTITY", "Order already captured.", "ORDER_ALREADY_CAPTURED"
            )
        source = body.get("payment_source") or {}
        vault_id = (source.get("card") or {}).get("vault_id")
        if vault_id is None:
            if order.status != "APPROVED":
                return self.error(
                    422,
                    "UNPROCESSABLE_ENTITY",
                    "The buyer has not approved the order.",
                    "ORDER_NOT_APPROVED",
                )
            vault_id = "pm_card_visa"
        token = FAKE_TOKENS.get(vault_id)
        if token is None:
            return self.error(
                422,
                "UNPROCESSABLE_ENTITY",
                f"The vault id {vault_id} is invalid.",
                "INVALID_PAYMENT_SOURCE",
            )
        card = {
            "brand": token.card.brand.upper(),
            "last_digits": token.card.last4,
            "expiry": f"{token.card.exp_year}-{token.card.exp_month:02d}",
        }
        if token.outcome == "declined" and token.decline_code == "card_declined":
            return self.error(
                422,
                "UNPROCESSABLE_ENTITY",
                "The instrument presented was declined.",
                "INSTRUMENT_DECLINED",
            )
        if token.outcome == "requires_action" and order.status != "APPROVED":
            order.status = "PAYER_ACTION_REQUIRED"
            order.payment_source = {"card": card}
            return self.error(
                422, "UNPROCESSABLE_ENTITY", "Payer action is required.", "PAYER_ACTION_REQUIRED"
            )
        capture: dict[str, Any] = {
            "id": _id(),
            "amount": _value(
                order.amount + (1 if token.outcome == "mismatch" else 0), order.currency
            ),
            "final_capture": True,
            "create_time": "2026-01-01T12:00:00Z",
            "supplementary_data": {"related_ids": {"order_id": order.id}},
        }
        if order.custom_id:
            capture["custom_id"] = order.custom_id
        order.payment_source = {"card": card}
        order.method = vault_id
        if token.outcome == "declined":
            capture["status"] = "DECLINED"
            capture["processor_response"] = {
                "avs_code": "G",
                "cvv_code": "P",
                "response_code": "5120",
            }
        else:
            capture["status"] = "COMPLETED"
            order.charges += 1
        order.status = "COMPLETED"
        order.captures.append(capture)
        self.captures[capture["id"]] = order.id
        response = Response(201, self.order_json(order))
        if token.outcome == "timeout":
            response.hang = True
        return response

    def approve(self, order_id: str, *, capture: bool = True) -> dict[str, Any]:
        """The buyer passed the payer action; with ``capture``, the merchant's capture ran too."""
        with self.lock:
            order = self.orders[order_id]
            order.status = "APPROVED"
            if capture:
                self._capture(order, {})
            return self.order_json(order)

    # ------------------------------------------------------------------ refunds
    def refunded(self, order: Order) -> int:
        return sum(
            Money.parse(r["amount"]["value"], r["amount"]["currency_code"]).amount
            for r in order.refunds
            if r["status"] in ("COMPLETED", "PENDING")
        )

    def _refund(self, capture_id: str, body: dict[str, Any]) -> Response:
        order_id = self.captures.get(capture_id)
        if order_id is None:
            return self.error(
                404,
                "RESOURCE_NOT_FOUND",
                "The specified resource does not exist.",
                "INVALID_RESOURCE_ID",
            )
        order = self.orders[order_id]
        capture = next(c for c in order.captures if c["id"] == capture_id)
        if capture["status"] not in ("COMPLETED", "PARTIALLY_REFUNDED"):
            return self.error(
                422, "UNPROCESSABLE_ENTITY", "Capture cannot be refunded.", "CAPTURE_FULLY_REFUNDED"
            )
        remaining = order.amount - self.refunded(order)
        amount = body.get("amount")
        value = (
            Money.parse(amount["value"], amount["currency_code"]).amount if amount else remaining
        )
        if value <= 0 or value > remaining:
            return self.error(
                422,
                "UNPROCESSABLE_ENTITY",
                "Refund amount exceeds the capture.",
                "REFUND_AMOUNT_EXCEEDED",
            )
        token = FAKE_TOKENS.get(order.method or "")
        if token is not None and token.refunds_fail:
            return self.error(
                422,
                "UNPROCESSABLE_ENTITY",
                "The refund could not be processed.",
                "REFUND_FAILED_INSUFFICIENT_FUNDS",
            )
        refund = {
            "id": _id(),
            "status": "COMPLETED",
            "amount": _value(value, order.currency),
            "custom_id": body.get("custom_id"),
            "create_time": "2026-01-01T12:00:00Z",
            "links": [
                {"href": f"{self.base_url}/v2/payments/refunds/", "rel": "self", "method": "GET"},
                {
                    "href": f"{self.base_url}/v2/payments/captures/{capture_id}",
                    "rel": "up",
                    "method": "GET",
                },
            ],
        }
        self.refunds[refund["id"]] = refund
        order.refunds.append(refund)
        capture["status"] = "REFUNDED" if value == remaining else "PARTIALLY_REFUNDED"
        return Response(201, refund)

    # ------------------------------------------------------------------ webhooks
    def sign(
        self,
        body: bytes,
        *,
        webhook_id: str,
        when: datetime,
        transmission_id: str | None = None,
        key: rsa.RSAPrivateKey | None = None,
        cert_url: str | None = None,
    ) -> dict[str, str]:
        """The headers PayPal sends with a webhook: CRC32 scheme, SHA256withRSA."""
        transmission_id = (
            transmission_id or f"{secrets.token_hex(4)}-d67a-11e5-baa3-{secrets.token_hex(6)}"
        )
        stamp = when.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")
        message = f"{transmission_id}|{stamp}|{webhook_id}|{zlib.crc32(body)}".encode()
        signature = (key or self.key).sign(message, padding.PKCS1v15(), hashes.SHA256())
        return {
            "PAYPAL-TRANSMISSION-ID": transmission_id,
            "PAYPAL-TRANSMISSION-TIME": stamp,
            "PAYPAL-TRANSMISSION-SIG": base64.b64encode(signature).decode(),
            "PAYPAL-CERT-URL": cert_url or f"{self.base_url}{CERT_PATH}",
            "PAYPAL-AUTH-ALGO": "SHA256withRSA",
        }

"""PayPal's REST API as far as the adapter uses it: OAuth2, Orders v2, Payments v2, Payment
Method Tokens v3, Disputes v1, webhooks.

- ``POST /v1/oauth2/token``: HTTP Basic client credentials, ``grant_type=client_credentials``
  form body; answers a bearer token with ``expires_in``. Tokens can be revoked (401 after).
- Orders (``_orders``), authorizations, captures and refunds (``_payments``), the vault
  (``_vault``) and disputes (``_disputes``): JSON, ``PayPal-Request-Id`` idempotency (the stored
  answer is replayed; the id with another request is 422 ``PAYPAL_REQUEST_ID_PREVIOUSLY_USED``),
  errors as ``{"name", "message", "debug_id", "details": [{"issue"}]}``.
- ``GET /v1/notifications/certs/{name}``: the PEM certificate webhooks are signed with (a
  self-signed RSA certificate made when the stand-in starts), after ``cert_delay`` seconds.
  Webhooks the stand-in sends of itself (disputes) are signed with it for :attr:`webhook_id`.

Stricter than PayPal may be: a field that the official SDK's request model lacks is refused
(400 ``INVALID_REQUEST``), so that a misspelt field cannot pass unnoticed; and as PayPal does, an
amount with decimals in a currency that has none at PayPal (HUF, JPY, TWD) is 422
``DECIMAL_PRECISION``.
"""

from __future__ import annotations

import base64
import json
import re
import secrets
import zlib
from datetime import UTC, datetime, timedelta
from typing import Any
from urllib.parse import parse_qsl

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import padding, rsa
from cryptography.x509.oid import NameOID

from .._server import Recorded, Response, StandIn
from ._disputes import Dispute, DisputesMixin
from ._orders import Order, OrdersMixin, Saved
from ._payments import Held, PaymentsMixin
from ._vault import VaultMixin
from ._wire import (
    ACTION_FIELDS,
    CAPTURE_FIELDS,
    CONTEXT_FIELDS,
    MONEY_FIELDS,
    ORDER_FIELDS,
    REAUTHORIZE_FIELDS,
    REFUND_FIELDS,
    SOURCE_FIELDS,
    UNIT_FIELDS,
    card_checks,
    decimals_refused,
    error,
    malformed,
    stored_credential_refused,
    unknown_fields,
)

__all__ = ["CERT_PATH", "WEBHOOK_ID", "Order", "PayPalStandIn"]

CERT_PATH = "/v1/notifications/certs/CERT-360caa42-fca2a594-standin"
WEBHOOK_ID = "1JE4291016473214C"
_ORDER = re.compile(r"^/v2/checkout/orders/(?P<id>[A-Z0-9]+)(?P<action>/capture|/authorize)?$")
_AUTH = re.compile(
    r"^/v2/payments/authorizations/(?P<id>[A-Z0-9]+)(?P<action>/capture|/void|/reauthorize)?$"
)
_CAPTURE = re.compile(r"^/v2/payments/captures/(?P<id>[A-Z0-9]+)(?P<refund>/refund)?$")
_REFUND = re.compile(r"^/v2/payments/refunds/(?P<id>[A-Z0-9]+)$")
_TOKEN = re.compile(r"^/v3/vault/payment-tokens/(?P<id>[a-z0-9]+)$")
_DISPUTE = re.compile(
    r"^/v1/customer/disputes/(?P<id>[A-Za-z0-9-]+)(?P<action>/provide-evidence|/accept-claim)?$"
)


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


class PayPalStandIn(OrdersMixin, PaymentsMixin, VaultMixin, DisputesMixin, StandIn):
    name = "paypal"

    def __init__(
        self,
        client_id: str = "AYSq3RDGsmBLJE-otTkBtM-jBRd1TCQwFf9RGfwddNXWz0uFU9ztymylOhRS",
        client_secret: str = "EGnHDxD_qRPdaLdZz8iCr8N7_MzF-YHPTkjs6NKYQvQSBngp4PTTVWkPZRbL",
        webhook_id: str = WEBHOOK_ID,
    ) -> None:
        self.client_id = client_id
        self.client_secret = client_secret
        self.webhook_id = webhook_id
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
        self.capture_limits: dict[str, int] = {}  # capture id -> what it took
        self.refunds: dict[str, dict[str, Any]] = {}
        self.refund_captures: dict[str, str] = {}  # refund id -> capture id
        self.authorizations: dict[str, dict[str, Any]] = {}
        self.held: dict[str, Held] = {}
        self.vault: dict[str, Saved] = {}
        self.disputes: dict[str, Dispute] = {}
        #: How long an authorization lasts (PayPal: 29 days, a 3-day honor period first).
        self.authorization_ttl = timedelta(days=29)
        #: How long the seller has to answer a dispute.
        self.evidence_window = timedelta(days=10)

    def revoke_tokens(self) -> None:
        with self.lock:
            self.tokens.clear()

    # ------------------------------------------------------------------ wire helpers
    def parse(self, request: Recorded) -> Any:
        if request.path == "/v1/oauth2/token":
            return dict(parse_qsl(request.body.decode()))
        if (request.header("content-type") or "").startswith("multipart/"):
            return None  # read from the raw body by the disputes API
        return super().parse(request)

    error = staticmethod(error)

    def fault_response(self, kind: str, retry_after: int) -> Response:
        if kind == "429":
            response = error(
                429, "RATE_LIMIT_REACHED", "Too many requests. Blocked due to rate limiting."
            )
            response.headers["Retry-After"] = str(retry_after)
            return response
        return error(503, "SERVICE_UNAVAILABLE", "Service Unavailable.")

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
            # A multipart body (disputes) is compared as sent; JSON by its content.
            raw = request.body if request.params is None else b""
            fingerprint = (request.path, json.dumps(body, sort_keys=True), raw)

            def conflict() -> Response:
                return error(
                    422,
                    "UNPROCESSABLE_ENTITY",
                    "The PayPal-Request-Id has already been used for another request.",
                    "PAYPAL_REQUEST_ID_PREVIOUSLY_USED",
                )

            return self.idempotent(key, fingerprint, lambda: self._post(request, body), conflict)
        if request.method == "GET":
            return self._get(request.path, dict(request.query))
        if request.method == "DELETE" and (match := _TOKEN.match(request.path)):
            return self.delete_payment_token(match["id"])
        return error(404, "RESOURCE_NOT_FOUND", "The specified resource does not exist.")

    def _refuse(self, path: str, body: dict[str, Any]) -> Response | None:
        """A field the SDK's model lacks (400), or decimals PayPal does not take (422)."""
        checks: list[tuple[Any, frozenset[str]]] = []
        amounts: list[Any] = []
        card: Any = None
        if path == "/v2/checkout/orders":
            checks.append((body, ORDER_FIELDS))
            units = body.get("purchase_units")
            for unit in units if isinstance(units, list) else ():
                checks.append((unit, UNIT_FIELDS))
                amounts.append(unit.get("amount") if isinstance(unit, dict) else None)
            checks.append((body.get("application_context") or {}, CONTEXT_FIELDS))
            source = body.get("payment_source") or {}
            checks.append((source, SOURCE_FIELDS))
            card = source.get("card") if isinstance(source, dict) else None
        elif (match := _ORDER.match(path)) and match["action"]:
            source = body.get("payment_source") or {}
            checks += [(body, ACTION_FIELDS), (source, SOURCE_FIELDS)]
            card = source.get("card") if isinstance(source, dict) else None
        elif (match := _AUTH.match(path)) and match["action"]:
            fields = {"/capture": CAPTURE_FIELDS, "/reauthorize": REAUTHORIZE_FIELDS}
            checks.append((body, fields.get(match["action"], frozenset())))
            amounts.append(body.get("amount"))
        elif (match := _CAPTURE.match(path)) and match["refund"]:
            checks.append((body, REFUND_FIELDS))
            amounts.append(body.get("amount"))
        checks += card_checks(card)
        checks += [(amount, MONEY_FIELDS) for amount in amounts if amount is not None]
        return (
            unknown_fields(checks) or stored_credential_refused(card) or decimals_refused(amounts)
        )

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

    def _post(self, request: Recorded, body: dict[str, Any]) -> Response:
        path = request.path
        if path == "/v2/checkout/orders":
            return self.create_order(body, request.header("paypal-request-id"))
        if (match := _ORDER.match(path)) and match["action"]:
            order = self.orders.get(match["id"])
            if order is None:
                return error(
                    404,
                    "RESOURCE_NOT_FOUND",
                    "The specified resource does not exist.",
                    "INVALID_RESOURCE_ID",
                )
            return self.order_action(order, body, match["action"][1:])
        if (match := _AUTH.match(path)) and match["action"]:
            if match["action"] == "/capture":
                return self.capture_authorization(match["id"], body)
            if match["action"] == "/reauthorize":
                return self.reauthorize(match["id"], body)
            if request.body.strip():
                return malformed("Void takes no request body.")
            return self.void(match["id"], request.header("prefer"))
        if (match := _CAPTURE.match(path)) and match["refund"]:
            return self.refund(match["id"], body)
        if (match := _DISPUTE.match(path)) and match["action"]:
            content_type = request.header("content-type") or ""
            if match["action"] == "/provide-evidence":
                return self.provide_evidence(match["id"], content_type, request.body)
            return self.accept_claim(match["id"], content_type, request.body)
        return error(404, "RESOURCE_NOT_FOUND", "The specified resource does not exist.")

    def _get(self, path: str, query: dict[str, str]) -> Response:
        if (match := _ORDER.match(path)) and not match["action"]:
            return self.get_order(match["id"])
        if (match := _AUTH.match(path)) and not match["action"]:
            return self.get_authorization(match["id"])
        if (match := _CAPTURE.match(path)) and not match["refund"]:
            return self.get_capture(match["id"])
        if (match := _REFUND.match(path)) and match["id"] in self.refunds:
            return Response(200, self.refunds[match["id"]])
        if match := _TOKEN.match(path):
            return self.get_payment_token(match["id"])
        if path == "/v3/vault/payment-tokens":
            return self.list_payment_tokens(query)
        if (match := _DISPUTE.match(path)) and not match["action"]:
            return self.get_dispute(match["id"])
        if path == "/v1/customer/disputes":
            return self.list_disputes(query)
        return error(
            404,
            "RESOURCE_NOT_FOUND",
            "The specified resource does not exist.",
            "INVALID_RESOURCE_ID",
        )

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

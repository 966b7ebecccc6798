"""Square's Payments, Refunds, Customers, Cards and Disputes APIs as far as the adapter uses them.

JSON bodies with ``idempotency_key`` (at most 45 characters; the same key with another body is
400 ``IDEMPOTENCY_KEY_REUSED``), ``Authorization: Bearer`` and ``Square-Version`` headers,
errors as ``{"errors": [{"category", "code", "detail"}]}`` (``PAYMENT_METHOD_ERROR`` for
declines, ``REFUND_ERROR``, ``INVALID_REQUEST_ERROR``, ``AUTHENTICATION_ERROR``,
``RATE_LIMIT_ERROR``, ``API_ERROR``).

A field the official SDK's request does not have is refused (400 ``INVALID_REQUEST_ERROR``).
Strong Customer Authentication: a card whose bank wants the buyer verified is declined with
``CARD_DECLINED_VERIFICATION_REQUIRED`` unless the payment brings a ``verification_token`` that
:meth:`SquareStandIn.verify_buyer` issued (what ``payments.verifyBuyer()`` gives the browser).
Webhooks the stand-in sends of itself (disputes, a held payment reaching its delay) are signed
as Square signs them, for :attr:`SquareStandIn.notification_url`.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import re
import secrets
from datetime import datetime, timedelta
from typing import Any

from .._server import Recorded, Response, StandIn
from ._cards import CardsMixin
from ._disputes import DisputesMixin
from ._payments import PaymentsMixin
from ._wire import (
    COMPLETE,
    CREATE_CARD,
    CREATE_CUSTOMER,
    CREATE_PAYMENT,
    EVIDENCE_TEXT,
    NO_BODY,
    REFUND,
    UPDATE_PAYMENT,
    bad_request,
    error,
    not_found,
    unknown_field,
)

__all__ = ["NOTIFICATION_URL", "SIGNATURE_KEY", "SquareStandIn"]

SIGNATURE_KEY = "sq0wss-standin-signature-key-4d2b9e"
NOTIFICATION_URL = "https://payments.example.test/api/v1/webhooks/square"
_PAYMENT = re.compile(r"^/v2/payments/(?P<id>[A-Za-z0-9]+)(?P<action>/complete|/cancel)?$")
_REFUND = re.compile(r"^/v2/refunds/(?P<id>[A-Za-z0-9_]+)$")
_CUSTOMER = re.compile(r"^/v2/customers/(?P<id>[A-Za-z0-9]+)$")
_CARD = re.compile(r"^/v2/cards/(?P<id>ccof:[A-Za-z0-9]+)(?P<action>/disable)?$")
_DISPUTE = re.compile(
    r"^/v2/disputes/(?P<id>[A-Za-z0-9]+)"
    r"(?P<action>/evidence-text|/submit-evidence|/accept|/evidence)?$"
)


class SquareStandIn(PaymentsMixin, CardsMixin, DisputesMixin, StandIn):
    name = "square"

    def __init__(
        self,
        access_token: str = "EAAAl0ng-sandbox-access-token-standin-0001",
        signature_key: str = SIGNATURE_KEY,
        notification_url: str = NOTIFICATION_URL,
    ) -> None:
        self.access_token = access_token
        self.signature_key = signature_key
        self.notification_url = notification_url
        super().__init__()

    def reset_state(self) -> None:
        self.payments: dict[str, dict[str, Any]] = {}
        self.payment_tokens: dict[str, str] = {}  # payment id -> test token
        self.expired: set[str] = set()  # held payments whose delay action was applied
        self.refunds: dict[str, dict[str, Any]] = {}
        self.refunds_pending = False
        self.verification_tokens: set[str] = set()
        self.customers: dict[str, dict[str, Any]] = {}
        self.cards: dict[str, dict[str, Any]] = {}
        self.card_tokens: dict[str, str] = {}  # card id -> test token
        self.disputes: dict[str, dict[str, Any]] = {}
        self.evidence: dict[str, list[dict[str, Any]]] = {}
        #: Held payments whose increases the bank declines (``"*"``: all of them).
        self.increment_declines: set[str] = set()
        #: How long the seller has to answer a dispute.
        self.evidence_window = timedelta(days=7)
        self.last_time: datetime | None = None

    def on_clock(self) -> None:
        self.sweep_payments()

    # ------------------------------------------------------------------ helpers
    error = staticmethod(error)

    def fault_response(self, kind: str, retry_after: int) -> Response:
        if kind == "429":
            response = error(429, "RATE_LIMIT_ERROR", "RATE_LIMITED", "Rate limit exceeded.")
            response.headers["Retry-After"] = str(retry_after)
            return response
        return error(503, "API_ERROR", "SERVICE_UNAVAILABLE", "Service unavailable.")

    def charges_for(self, reference_id: str) -> int:
        """Square payments for ``reference_id`` that authorised money (not failed)."""
        return sum(
            1
            for p in self.payments.values()
            if p.get("reference_id") == reference_id and p["status"] != "FAILED"
        )

    def emit_payment_updated(self, payment: dict[str, Any]) -> None:
        body = json.dumps(
            {
                "merchant_id": "MLSTANDIN0001",
                "type": "payment.updated",
                "event_id": f"{secrets.token_hex(4)}-0000-4000-8000-{secrets.token_hex(6)}",
                "created_at": self.now(),
                "data": {"type": "payment", "id": payment["id"], "object": {"payment": payment}},
            },
            separators=(",", ":"),
        ).encode()
        headers = self.sign(body, key=self.signature_key, notification_url=self.notification_url)
        self.emit("payment.updated", body, {**headers, "Content-Type": "application/json"})

    # ------------------------------------------------------------------ routing
    def handle(self, request: Recorded) -> Response:
        if (request.header("authorization") or "") != f"Bearer {self.access_token}":
            return error(
                401, "AUTHENTICATION_ERROR", "UNAUTHORIZED", "This request could not be authorized."
            )
        if not request.header("square-version"):
            return bad_request("INVALID_VALUE", "Square-Version header missing.")
        body = request.params if isinstance(request.params, dict) else {}
        if request.method in ("POST", "PUT"):
            fields = self._fields(request.method, request.path)
            unknown = unknown_field(body, fields) if fields is not None else None
            if unknown is not None:
                return unknown
            key = body.get("idempotency_key")
            if key is not None and (not isinstance(key, str) or not 1 <= len(key) <= 45):
                return bad_request(
                    "VALUE_TOO_LONG",
                    "Field must not be greater than 45 length",
                    field="idempotency_key",
                )
            fingerprint = (request.path, json.dumps(body, sort_keys=True))

            def conflict() -> Response:
                return bad_request(
                    "IDEMPOTENCY_KEY_REUSED",
                    "The idempotency key can only be retried with the same request data.",
                )

            scoped = f"{request.method} {request.path}:{key}" if key else None
            return self.idempotent(
                scoped,
                fingerprint,
                lambda: self._write(request.method, request.path, body),
                conflict,
            )
        if request.method == "GET":
            return self._get(request.path, dict(request.query))
        return not_found()

    @staticmethod
    def _fields(method: str, path: str) -> frozenset[str] | None:
        fixed = {
            "/v2/payments": CREATE_PAYMENT,
            "/v2/refunds": REFUND,
            "/v2/customers": CREATE_CUSTOMER,
            "/v2/cards": CREATE_CARD,
        }
        if path in fixed:
            return fixed[path]
        if method == "PUT" and _PAYMENT.match(path):
            return UPDATE_PAYMENT
        if path.endswith("/complete"):
            return COMPLETE
        if path.endswith("/evidence-text"):
            return EVIDENCE_TEXT
        if path.endswith(("/cancel", "/disable", "/submit-evidence", "/accept")):
            return NO_BODY
        return None

    def _write(self, method: str, path: str, body: dict[str, Any]) -> Response:
        if path == "/v2/payments":
            return self.create_payment(body)
        if path == "/v2/refunds":
            return self.refund(body)
        if path == "/v2/customers":
            return self.create_customer(body)
        if path == "/v2/cards":
            return self.create_card(body)
        if match := _PAYMENT.match(path):
            if method == "PUT" and not match["action"]:
                return self.update(match["id"], body)
            if match["action"] == "/complete":
                return self.complete(match["id"], body)
            if match["action"] == "/cancel":
                return self.cancel(match["id"])
        if (match := _CARD.match(path)) and match["action"]:
            return self.disable_card(match["id"])
        if (match := _DISPUTE.match(path)) and match["action"]:
            if match["action"] == "/evidence-text":
                return self.evidence_text(match["id"], body)
            if match["action"] == "/submit-evidence":
                return self.submit_evidence(match["id"])
            if match["action"] == "/accept":
                return self.accept(match["id"])
        return not_found()

    def _get(self, path: str, query: dict[str, str]) -> Response:
        if path == "/v2/payments":
            return self._list_payments(query)
        match = _PAYMENT.match(path)
        if match and not match["action"] and match["id"] in self.payments:
            payment = self.payments[match["id"]]
            self.expire(payment)
            return Response(200, {"payment": payment})
        match = _REFUND.match(path)
        if match and match["id"] in self.refunds:
            return Response(200, {"refund": self.refunds[match["id"]]})
        if match := _CUSTOMER.match(path):
            return self.get_customer(match["id"])
        if (match := _CARD.match(path)) and not match["action"]:
            return self.get_card(match["id"])
        if path == "/v2/cards":
            return self.list_cards(query)
        if path == "/v2/disputes":
            return self.list_disputes(query)
        if match := _DISPUTE.match(path):
            if match["action"] == "/evidence":
                return self.list_evidence(match["id"])
            if not match["action"]:
                return self.get_dispute(match["id"])
        return not_found()

    def _list_payments(self, query: dict[str, str]) -> Response:
        items = [
            p
            for p in self.payments.values()
            if "total" not in query or p["amount_money"]["amount"] == int(query["total"])
        ]
        items.sort(key=lambda p: p["created_at"], reverse=query.get("sort_order") != "ASC")
        start = int(query.get("cursor") or 0)
        limit = int(query.get("limit") or 100)
        body: dict[str, Any] = {"payments": items[start : start + limit]}
        if start + limit < len(items):
            body["cursor"] = str(start + limit)
        return Response(200, body)

    # ------------------------------------------------------------------ webhooks
    @staticmethod
    def sign(body: bytes, *, key: str, notification_url: str) -> dict[str, str]:
        digest = hmac.new(key.encode(), notification_url.encode() + body, hashlib.sha256).digest()
        return {"x-square-hmacsha256-signature": base64.b64encode(digest).decode()}

"""Square's Payments and Refunds APIs as far as the adapter uses them.

JSON bodies with ``idempotency_key`` (at most 45 characters; the same key with another body is
400 ``IDEMPOTENCY_KEY_REUSED``), ``Authorization: Bearer`` and ``Square-Version`` headers,
errors as ``{"errors": [{"category", "code", "detail"}]}`` (``PAYMENT_METHOD_ERROR`` for
declines, ``REFUND_ERROR``, ``INVALID_REQUEST_ERROR``, ``AUTHENTICATION_ERROR``,
``RATE_LIMIT_ERROR``, ``API_ERROR``).

A field the official SDK's request does not have is refused (400 ``INVALID_REQUEST_ERROR``).
Strong Customer Authentication: a card whose bank wants the buyer verified is declined with
``CARD_DECLINED_VERIFICATION_REQUIRED`` unless the payment brings a ``verification_token`` that
:meth:`SquareStandIn.verify_buyer` issued (what ``payments.verifyBuyer()`` gives the browser).
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import itertools
import json
import re
import secrets
from typing import Any

from payment_core.testing import FAKE_TOKENS

from ._server import Recorded, Response, StandIn

_COUNTER = itertools.count(1)
_PAYMENT = re.compile(r"^/v2/payments/(?P<id>[A-Za-z0-9]+)(?P<action>/complete|/cancel)?$")
_REFUND = re.compile(r"^/v2/refunds/(?P<id>[A-Za-z0-9_]+)$")


def _id(prefix: str = "") -> str:
    return f"{prefix}{next(_COUNTER):06d}{secrets.token_hex(10)}"


#: Request fields per the SDK (payments.create, refunds.refund_payment, payments.complete).
_CREATE_FIELDS = frozenset(
    {"source_id", "idempotency_key", "amount_money", "tip_money", "app_fee_money"}
    | {"app_fee_allocations", "delay_duration", "delay_action", "autocomplete", "order_id"}
    | {"customer_id", "location_id", "team_member_id", "reference_id", "verification_token"}
    | {"accept_partial_authorization", "buyer_email_address", "buyer_phone_number"}
    | {"billing_address", "shipping_address", "note", "statement_description_identifier"}
    | {"cash_details", "external_details", "customer_details", "offline_payment_details"}
)
_REFUND_FIELDS = frozenset(
    {"idempotency_key", "amount_money", "app_fee_money", "app_fee_allocations", "payment_id"}
    | {"destination_id", "unlinked", "location_id", "customer_id", "reason"}
    | {"payment_version_token", "team_member_id", "cash_details", "external_details"}
)
_COMPLETE_FIELDS = frozenset({"version_token"})
_MONEY_FIELDS = frozenset({"amount", "currency"})


def _stamp(n: int) -> str:
    return f"2026-01-01T12:{(n // 60) % 60:02d}:{n % 60:02d}.000Z"


class SquareStandIn(StandIn):
    name = "square"

    def __init__(self, access_token: str = "EAAAl0ng-sandbox-access-token-standin-0001") -> None:
        self.access_token = access_token
        super().__init__()

    def reset_state(self) -> None:
        self.payments: dict[str, dict[str, Any]] = {}
        self.refunds: dict[str, dict[str, Any]] = {}
        self.refunds_pending = False
        self.verification_tokens: set[str] = set()
        self._tick = 0

    # ------------------------------------------------------------------ helpers
    @staticmethod
    def error(status: int, category: str, code: str, detail: str, **extra: Any) -> Response:
        return Response(
            status, {"errors": [{"category": category, "code": code, "detail": detail}], **extra}
        )

    def fault_response(self, kind: str, retry_after: int) -> Response:
        if kind == "429":
            response = self.error(429, "RATE_LIMIT_ERROR", "RATE_LIMITED", "Rate limit exceeded.")
            response.headers["Retry-After"] = str(retry_after)
            return response
        return self.error(503, "API_ERROR", "SERVICE_UNAVAILABLE", "Service unavailable.")

    def now(self) -> str:
        self._tick += 1
        return _stamp(self._tick)

    def charges_for(self, reference_id: str) -> int:
        """Square payments for ``reference_id`` that authorised money (not failed)."""
        return sum(
            1
            for p in self.payments.values()
            if p.get("reference_id") == reference_id and p["status"] != "FAILED"
        )

    def refunded(self, payment: dict[str, Any]) -> int:
        return sum(
            self.refunds[r]["amount_money"]["amount"]
            for r in payment["refund_ids"]
            if self.refunds[r]["status"] in ("COMPLETED", "PENDING")
        )

    # ------------------------------------------------------------------ routing
    def handle(self, request: Recorded) -> Response:
        if (request.header("authorization") or "") != f"Bearer {self.access_token}":
            return self.error(
                401, "AUTHENTICATION_ERROR", "UNAUTHORIZED", "This request could not be authorized."
            )
        if not request.header("square-version"):
            return self.error(
                400, "INVALID_REQUEST_ERROR", "INVALID_VALUE", "Square-Version header missing."
            )
        body = request.params if isinstance(request.params, dict) else {}
        if request.method == "POST":
            unknown = self._unknown_field(request.path, body)
            if unknown is not None:
                return self.error(
                    400,
                    "INVALID_REQUEST_ERROR",
                    "BAD_REQUEST",
                    f"Unrecognized field `{unknown}`.",
                    field=unknown,
                )
            key = body.get("idempotency_key")
            if key is not None and (not isinstance(key, str) or not 1 <= len(key) <= 45):
                return self.error(
                    400,
                    "INVALID_REQUEST_ERROR",
                    "VALUE_TOO_LONG",
                    "Field must not be greater than 45 length",
                    field="idempotency_key",
                )
            fingerprint = (request.path, json.dumps(body, sort_keys=True))

            def conflict() -> Response:
                return self.error(
                    400,
                    "INVALID_REQUEST_ERROR",
                    "IDEMPOTENCY_KEY_REUSED",
                    "The idempotency key can only be retried with the same request data.",
                )

            scoped = f"{request.path}:{key}" if key else None
            return self.idempotent(
                scoped, fingerprint, lambda: self._post(request.path, body), conflict
            )
        if request.method == "GET":
            return self._get(request.path, dict(request.query))
        return self.error(404, "INVALID_REQUEST_ERROR", "NOT_FOUND", "Not found.")

    @staticmethod
    def _unknown_field(path: str, body: dict[str, Any]) -> str | None:
        fields = {"/v2/payments": _CREATE_FIELDS, "/v2/refunds": _REFUND_FIELDS}.get(path)
        if fields is None and path.endswith("/complete"):
            fields = _COMPLETE_FIELDS
        if fields is None:
            return None
        money = body.get("amount_money")
        extra = set(body) - fields
        if isinstance(money, dict):
            extra |= {f"amount_money.{name}" for name in set(money) - _MONEY_FIELDS}
        return min(extra) if extra else None

    def verify_buyer(self) -> str:
        """The buyer passed ``verifyBuyer`` in the browser: the token it gives."""
        with self.lock:
            token = f"verf:{secrets.token_urlsafe(24)}"
            self.verification_tokens.add(token)
            return token

    def _post(self, path: str, body: dict[str, Any]) -> Response:
        if path == "/v2/payments":
            return self._create(body)
        if path == "/v2/refunds":
            return self._refund(body)
        match = _PAYMENT.match(path)
        if match and match["action"]:
            payment = self.payments.get(match["id"])
            if payment is None:
                return self.error(404, "INVALID_REQUEST_ERROR", "NOT_FOUND", "Payment not found.")
            if match["action"] == "/complete":
                if payment["status"] == "APPROVED":
                    payment["status"] = "COMPLETED"
                    payment["card_details"]["status"] = "CAPTURED"
                    payment["updated_at"] = self.now()
                elif payment["status"] != "COMPLETED":
                    return self.error(
                        400,
                        "INVALID_REQUEST_ERROR",
                        "BAD_REQUEST",
                        f"Payment is {payment['status']}; it cannot be completed.",
                    )
                return Response(200, {"payment": payment})
            if payment["status"] != "APPROVED":
                return self.error(
                    400, "INVALID_REQUEST_ERROR", "BAD_REQUEST", "Payment cannot be canceled."
                )
            payment["status"] = "CANCELED"
            payment["card_details"]["status"] = "VOIDED"
            return Response(200, {"payment": payment})
        return self.error(404, "INVALID_REQUEST_ERROR", "NOT_FOUND", "Not found.")

    def _get(self, path: str, query: dict[str, str]) -> Response:
        if path == "/v2/payments":
            items = [
                p
                for p in self.payments.values()
                if "total" not in query or p["amount_money"]["amount"] == int(query["total"])
            ]
            items.sort(key=lambda p: p["created_at"], reverse=query.get("sort_order") != "ASC")
            start = int(query.get("cursor") or 0)
            limit = int(query.get("limit") or 100)
            page = items[start : start + limit]
            body: dict[str, Any] = {"payments": page}
            if start + limit < len(items):
                body["cursor"] = str(start + limit)
            return Response(200, body)
        match = _PAYMENT.match(path)
        if match and not match["action"] and match["id"] in self.payments:
            return Response(200, {"payment": self.payments[match["id"]]})
        match = _REFUND.match(path)
        if match and match["id"] in self.refunds:
            return Response(200, {"refund": self.refunds[match["id"]]})
        return self.error(404, "INVALID_REQUEST_ERROR", "NOT_FOUND", "Not found.")

    # ------------------------------------------------------------------ payments
    def _create(self, body: dict[str, Any]) -> Response:
        money = body.get("amount_money") or {}
        if type(money.get("amount")) is not int or not isinstance(money.get("currency"), str):
            return self.error(
                400,
                "INVALID_REQUEST_ERROR",
                "EXPECTED_INTEGER",
                "amount_money.amount must be an integer",
            )
        token = FAKE_TOKENS.get(body.get("source_id") or "")
        if token is None:
            return self.error(
                400,
                "INVALID_REQUEST_ERROR",
                "INVALID_CARD_DATA",
                f"Invalid source_id {body.get('source_id')}.",
                field="source_id",
            )
        now = self.now()
        amount = money["amount"] + (1 if token.outcome == "mismatch" else 0)
        payment: dict[str, Any] = {
            "id": _id(),
            "created_at": now,
            "updated_at": now,
            "amount_money": {"amount": amount, "currency": money["currency"]},
            "total_money": {"amount": amount, "currency": money["currency"]},
            "status": "APPROVED",
            "source_type": "CARD",
            "card_details": {
                "status": "AUTHORIZED",
                "card": {
                    "card_brand": token.card.brand.upper(),
                    "last_4": token.card.last4,
                    "exp_month": token.card.exp_month,
                    "exp_year": token.card.exp_year,
                    "fingerprint": "sq-1-"
                    + hashlib.sha256(token.card.last4.encode()).hexdigest()[:20],
                },
                "entry_method": "KEYED",
            },
            "location_id": body.get("location_id") or "LSTANDIN0001",
            "reference_id": body.get("reference_id"),
            "refund_ids": [],
            "version_token": secrets.token_urlsafe(12),
        }
        self.payments[payment["id"]] = payment
        verified = body.get("verification_token") in self.verification_tokens
        if token.outcome == "declined" or (token.outcome == "requires_action" and not verified):
            code = {
                "card_declined": "GENERIC_DECLINE",
                "insufficient_funds": "INSUFFICIENT_FUNDS",
            }.get(token.decline_code or "", "CARD_DECLINED_VERIFICATION_REQUIRED")
            payment["status"] = "FAILED"
            payment["card_details"]["status"] = "FAILED"
            payment["card_details"]["errors"] = [
                {
                    "category": "PAYMENT_METHOD_ERROR",
                    "code": code,
                    "detail": f"Authorization error: '{code}'",
                }
            ]
            return self.error(
                400, "PAYMENT_METHOD_ERROR", code, f"Authorization error: '{code}'", payment=payment
            )
        if body.get("autocomplete", True):
            payment["status"] = "COMPLETED"
            payment["card_details"]["status"] = "CAPTURED"
        response = Response(200, {"payment": payment})
        if token.outcome == "timeout":
            response.hang = True
        return response

    def verified(self, reference_id: str) -> dict[str, Any]:
        """The buyer passed verification and paid with a new payment (as the browser would)."""
        with self.lock:
            failed = next(p for p in self.payments.values() if p["reference_id"] == reference_id)
            payment = json.loads(json.dumps(failed))
            payment.update(id=_id(), status="COMPLETED", created_at=self.now())
            payment["card_details"].pop("errors", None)
            payment["card_details"]["status"] = "CAPTURED"
            self.payments[payment["id"]] = payment
            return payment

    # ------------------------------------------------------------------ refunds
    def _refund(self, body: dict[str, Any]) -> Response:
        payment = self.payments.get(body.get("payment_id") or "")
        if payment is None:
            return self.error(404, "INVALID_REQUEST_ERROR", "NOT_FOUND", "Payment not found.")
        if payment["status"] != "COMPLETED":
            return self.error(
                400, "INVALID_REQUEST_ERROR", "PAYMENT_NOT_REFUNDABLE", "Payment is not completed."
            )
        money = body.get("amount_money") or {}
        remaining = payment["amount_money"]["amount"] - self.refunded(payment)
        if type(money.get("amount")) is not int or not 0 < money["amount"] <= remaining:
            return self.error(
                400,
                "INVALID_REQUEST_ERROR",
                "REFUND_AMOUNT_INVALID",
                "Refund amount exceeds the payment.",
            )
        last4 = payment["card_details"]["card"]["last_4"]
        token = next((t for t in FAKE_TOKENS.values() if t.card.last4 == last4), None)
        if token is not None and token.refunds_fail:
            return self.error(400, "REFUND_ERROR", "REFUND_DECLINED", "The refund was declined.")
        now = self.now()
        refund = {
            "id": _id("r_"),
            "status": "PENDING" if self.refunds_pending else "COMPLETED",
            "amount_money": {"amount": money["amount"], "currency": money.get("currency")},
            "payment_id": payment["id"],
            "reason": body.get("reason"),
            "location_id": payment["location_id"],
            "created_at": now,
            "updated_at": now,
        }
        self.refunds[refund["id"]] = refund
        payment["refund_ids"].append(refund["id"])
        return Response(200, {"refund": refund})

    def settle_refunds(self, status: str = "COMPLETED") -> list[dict[str, Any]]:
        """Pending refunds reach ``status``; their JSON, for webhooks."""
        with self.lock:
            settled = []
            for refund in self.refunds.values():
                if refund["status"] == "PENDING":
                    refund["status"] = status
                    settled.append(dict(refund))
            return settled

    # ------------------------------------------------------------------ webhooks
    @staticmethod
    def sign(body: bytes, *, key: str, notification_url: str) -> dict[str, str]:
        digest = hmac.new(key.encode(), notification_url.encode() + body, hashlib.sha256).digest()
        return {"x-square-hmacsha256-signature": base64.b64encode(digest).decode()}

"""Payments: ``CreatePayment`` (at once, or held with ``autocomplete=false``), ``CompletePayment``,
``CancelPayment``, ``UpdatePayment`` and the delayed capture's time threshold.

Square's rules as the stand-in enforces them (the SDK's ``payments`` client docstrings and
developer.squareup.com/docs/payments-api):

- a held payment is ``APPROVED`` (``card_details.status=AUTHORIZED``) until completed or
  canceled; at ``delayed_until`` (``created_at`` + ``delay_duration``, 7 days by default) Square
  applies ``delay_action`` (``CANCEL`` by default, or ``COMPLETE``); after that the payment takes
  no complete, cancel or update (``DELAYED_TRANSACTION_EXPIRED``);
- ``delay_duration`` and ``delay_action`` only with ``autocomplete=false``;
- complete has no amount (it takes ``version_token`` only); a partial capture is an
  ``UpdatePayment`` of ``amount_money`` down, then complete; an increase is an update up, allowed
  when the payment's ``capabilities`` has ``EDIT_AMOUNT_UP`` and the bank approves it; only an
  ``APPROVED`` payment is updated, and only ``amount_money``, ``tip_money``, ``app_fee_money`` and
  ``delay_action``; ``version_token``, when sent, must be the payment's current one;
- a card on file (``source_id`` = a card id) needs the card's ``customer_id``; charged without a
  ``verification_token`` the buyer is not there, and the test tokens' off-session refusals apply.
"""

from __future__ import annotations

import hashlib
import json
import secrets
from datetime import datetime, timedelta
from typing import Any

from .._server import Response
from .._tokens import TOKENS, Token
from ._wire import (
    DELAY_DEFAULT,
    DELAY_MAX,
    DELAY_MIN,
    UPDATABLE,
    bad_request,
    duration,
    error,
    new_id,
    not_found,
    parse_stamp,
    stamp,
)

CAPABILITIES = ["EDIT_AMOUNT_UP", "EDIT_AMOUNT_DOWN", "EDIT_TIP_AMOUNT_UP"]
CAPABILITIES += ["EDIT_TIP_AMOUNT_DOWN", "EDIT_DELAY_ACTION"]


class PaymentsMixin:
    payments: dict[str, dict[str, Any]]
    payment_tokens: dict[str, str]
    expired: set[str]
    cards: dict[str, dict[str, Any]]
    verification_tokens: set[str]
    increment_declines: set[str]
    last_time: datetime | None

    def now(self) -> str:
        """The clock's time, strictly later than the last one given (listings sort by it)."""
        when = self.clock.now()  # type: ignore[attr-defined]
        if self.last_time is not None and when <= self.last_time:
            when = self.last_time + timedelta(milliseconds=1)
        self.last_time = when
        return stamp(when)

    def token_of(self, payment: dict[str, Any]) -> Token | None:
        return TOKENS.get(self.payment_tokens.get(payment["id"], ""))

    def _source(self, body: dict[str, Any]) -> tuple[str, bool] | Response:
        """The test token paying, and whether the buyer is absent (a card on file, unverified)."""
        source = body.get("source_id") or ""
        card = self.cards.get(source)
        if card is None:
            if source not in TOKENS:
                return bad_request(
                    "INVALID_CARD_DATA", f"Invalid source_id {source}.", field="source_id"
                )
            return source, False
        if not body.get("customer_id"):
            return bad_request(
                "BAD_REQUEST",
                "customer_id is required when source_id is a card on file.",
                field="customer_id",
            )
        if body["customer_id"] != card["customer_id"]:
            return bad_request(
                "CARD_MISMATCH", "The card on file belongs to another customer.", field="source_id"
            )
        if not card["enabled"]:
            return bad_request("INVALID_CARD", "The card on file is disabled.", field="source_id")
        return self.card_tokens[source], body.get("verification_token") is None  # type: ignore[attr-defined]

    def create_payment(self, body: dict[str, Any]) -> Response:
        money = body.get("amount_money") or {}
        if type(money.get("amount")) is not int or not isinstance(money.get("currency"), str):
            return bad_request("EXPECTED_INTEGER", "amount_money.amount must be an integer")
        held = body.get("autocomplete") is False
        if not held and ("delay_duration" in body or "delay_action" in body):
            return bad_request(
                "BAD_REQUEST",
                "delay_duration and delay_action can only be set for a delayed capture payment "
                "(autocomplete=false).",
            )
        delay = duration(body.get("delay_duration", DELAY_DEFAULT))
        if delay is None or not DELAY_MIN <= delay <= DELAY_MAX:
            return bad_request(
                "INVALID_VALUE", "delay_duration is not a valid duration.", field="delay_duration"
            )
        action = body.get("delay_action", "CANCEL")
        if action not in ("CANCEL", "COMPLETE"):
            return bad_request("INVALID_VALUE", "delay_action must be CANCEL or COMPLETE.")
        resolved = self._source(body)
        if isinstance(resolved, Response):
            return resolved
        name, absent = resolved
        token = TOKENS[name]
        now = self.clock.now()  # type: ignore[attr-defined]
        amount = money["amount"] + (1 if token.outcome == "mismatch" else 0)
        payment: dict[str, Any] = {
            "id": new_id(),
            "created_at": self.now(),
            "updated_at": self.now(),
            "amount_money": {"amount": amount, "currency": money["currency"]},
            "total_money": {"amount": amount, "currency": money["currency"]},
            "approved_money": {"amount": amount, "currency": money["currency"]},
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
                "entry_method": "ON_FILE" if body["source_id"] in self.cards else "KEYED",
            },
            "location_id": body.get("location_id") or "LSTANDIN0001",
            "reference_id": body.get("reference_id"),
            "refund_ids": [],
            "version_token": secrets.token_urlsafe(12),
        }
        if body.get("customer_id"):
            payment["customer_id"] = body["customer_id"]
        if held:
            payment.update(
                delay_duration=body.get("delay_duration", DELAY_DEFAULT),
                delay_action=action,
                delayed_until=stamp(now + delay),
                capabilities=list(CAPABILITIES),
            )
        self.payments[payment["id"]] = payment
        self.payment_tokens[payment["id"]] = name
        verified = body.get("verification_token") in self.verification_tokens
        refused = self._decline_code(token, absent, verified)
        if refused is not None:
            payment["status"] = "FAILED"
            payment["card_details"]["status"] = "FAILED"
            payment.pop("capabilities", None)
            detail = f"Authorization error: '{refused}'"
            payment["card_details"]["errors"] = [
                {"category": "PAYMENT_METHOD_ERROR", "code": refused, "detail": detail}
            ]
            return error(400, "PAYMENT_METHOD_ERROR", refused, detail, payment=payment)
        if not held:
            self._complete(payment)
        response = Response(200, {"payment": payment})
        if token.outcome == "timeout":
            response.hang = True
        return response

    @staticmethod
    def _decline_code(token: Token, absent: bool, verified: bool) -> str | None:
        if absent and token.off_session_outcome() == "authentication_required":
            return "CARD_DECLINED_VERIFICATION_REQUIRED"
        if absent and token.off_session_outcome() == "declined":
            return "GENERIC_DECLINE"
        if token.outcome == "declined":
            return {"card_declined": "GENERIC_DECLINE", "insufficient_funds": "INSUFFICIENT_FUNDS"}[
                token.decline_code or "card_declined"
            ]
        if token.outcome == "requires_action" and not verified and not absent:
            return "CARD_DECLINED_VERIFICATION_REQUIRED"
        return None

    def _complete(self, payment: dict[str, Any]) -> None:
        payment["status"] = "COMPLETED"
        payment["card_details"]["status"] = "CAPTURED"
        payment["updated_at"] = self.now()
        for name in ("capabilities", "delayed_until"):
            payment.pop(name, None)
        token = self.token_of(payment)
        if token is not None and token.disputed:
            self.open_dispute(payment["id"])  # type: ignore[attr-defined]

    # ------------------------------------------------------------------ held payments
    def expire(self, payment: dict[str, Any]) -> None:
        """At ``delayed_until`` Square applies the payment's ``delay_action``."""
        until = payment.get("delayed_until")
        if payment["status"] != "APPROVED" or until is None:
            return
        if self.clock.now() < parse_stamp(until):  # type: ignore[attr-defined]
            return
        self.expired.add(payment["id"])
        if payment["delay_action"] == "COMPLETE":
            self._complete(payment)
        else:
            payment.update(status="CANCELED", updated_at=self.now())
            payment["card_details"]["status"] = "VOIDED"
            payment.pop("capabilities", None)
        self.emit_payment_updated(payment)  # type: ignore[attr-defined]

    def sweep_payments(self) -> None:
        for payment in list(self.payments.values()):
            self.expire(payment)

    def _held(self, payment_id: str, verb: str) -> dict[str, Any] | Response:
        payment = self.payments.get(payment_id)
        if payment is None:
            return not_found("Payment")
        self.expire(payment)
        if payment_id in self.expired:
            return bad_request(
                "DELAYED_TRANSACTION_EXPIRED",
                f"The payment's delay expired ({payment['delay_action']} was applied).",
            )
        if payment["status"] != "APPROVED" and not (
            verb == "completed" and payment["status"] == "COMPLETED"
        ):
            return bad_request(
                "BAD_REQUEST", f"Payment is {payment['status']}; it cannot be {verb}."
            )
        return payment

    def _stale(self, payment: dict[str, Any], version: Any) -> Response | None:
        if version is None or version == payment["version_token"]:
            return None
        return error(409, "INVALID_REQUEST_ERROR", "CONFLICT", "version_token is not current.")

    def complete(self, payment_id: str, body: dict[str, Any]) -> Response:
        payment = self._held(payment_id, "completed")
        if isinstance(payment, Response):
            return payment
        stale = self._stale(payment, body.get("version_token"))
        if stale is not None:
            return stale
        if payment["status"] == "APPROVED":
            self._complete(payment)
        return Response(200, {"payment": payment})

    def cancel(self, payment_id: str) -> Response:
        payment = self._held(payment_id, "canceled")
        if isinstance(payment, Response):
            return payment
        payment.update(status="CANCELED", updated_at=self.now())
        payment["card_details"]["status"] = "VOIDED"
        payment.pop("capabilities", None)
        return Response(200, {"payment": payment})

    def update(self, payment_id: str, body: dict[str, Any]) -> Response:
        change = body.get("payment")
        if not isinstance(change, dict) or not body.get("idempotency_key"):
            return bad_request("BAD_REQUEST", "payment and idempotency_key are required.")
        payment = self._held(payment_id, "updated")
        if isinstance(payment, Response):
            return payment
        fixed = sorted(set(change) - UPDATABLE - {"version_token"})
        if fixed:
            return bad_request("BAD_REQUEST", f"`payment.{fixed[0]}` cannot be updated.")
        stale = self._stale(payment, change.get("version_token"))
        if stale is not None:
            return stale
        money = change.get("amount_money")
        if money is not None:
            if money.get("currency") != payment["amount_money"]["currency"]:
                return bad_request("CURRENCY_MISMATCH", "The currency cannot change.")
            amount, held = money.get("amount"), payment["approved_money"]["amount"]
            if type(amount) is not int or amount <= 0:
                return bad_request("INVALID_VALUE", "amount_money.amount must be positive.")
            if amount > held and "EDIT_AMOUNT_UP" not in payment.get("capabilities", []):
                return bad_request(
                    "BAD_REQUEST",
                    "amount_money cannot be increased in value. EDIT_AMOUNT_UP capability is "
                    "not available.",
                    field="amount_money",
                )
            declines = self.increment_declines
            if amount > held and (payment_id in declines or "*" in declines):
                detail = "Authorization error: 'GENERIC_DECLINE'"
                return error(400, "PAYMENT_METHOD_ERROR", "GENERIC_DECLINE", detail)
            payment["amount_money"] = {"amount": amount, "currency": money["currency"]}
            payment["total_money"] = dict(payment["amount_money"])
            payment["approved_money"] = {"amount": max(amount, held), "currency": money["currency"]}
        if "delay_action" in change:
            if change["delay_action"] not in ("CANCEL", "COMPLETE"):
                return bad_request("INVALID_VALUE", "delay_action must be CANCEL or COMPLETE.")
            payment["delay_action"] = change["delay_action"]
        payment.update(updated_at=self.now(), version_token=secrets.token_urlsafe(12))
        return Response(200, {"payment": payment})

    # ------------------------------------------------------------------ buyer verification
    def verify_buyer(self) -> str:
        """The buyer passed ``verifyBuyer`` in the browser: the token it gives."""
        with self.lock:  # type: ignore[attr-defined]
            token = f"verf:{secrets.token_urlsafe(24)}"
            self.verification_tokens.add(token)
            return token

    def verified(self, reference_id: str) -> dict[str, Any]:
        """The buyer passed verification and paid with a new payment (as the browser would)."""
        with self.lock:  # type: ignore[attr-defined]
            failed = next(p for p in self.payments.values() if p["reference_id"] == reference_id)
            payment = json.loads(json.dumps(failed))
            payment.update(id=new_id(), status="COMPLETED", created_at=self.now())
            payment["card_details"].pop("errors", None)
            payment["card_details"]["status"] = "CAPTURED"
            self.payments[payment["id"]] = payment
            self.payment_tokens[payment["id"]] = self.payment_tokens.get(failed["id"], "")
            return payment  # type: ignore[no-any-return]

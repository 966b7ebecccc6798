"""Payments v2: authorizations (show, capture, void, reauthorize), captures and refunds.

PayPal's rules as the stand-in enforces them (``payments_payment_v2.json`` and the SDK's
``PaymentsController`` docstrings):

- capture of an authorization: ``amount`` optional (the rest of the authorization by default),
  ``final_capture`` defaults to **false** (more captures may follow; the status is then
  ``PARTIALLY_CAPTURED``); a capture of a voided, captured, denied or expired authorization is 422
  (``AUTHORIZATION_VOIDED``, ``AUTHORIZATION_ALREADY_CAPTURED``, ``AUTHORIZATION_DENIED``,
  ``AUTHORIZATION_EXPIRED``), more than is left is 422 ``MAX_CAPTURE_AMOUNT_EXCEEDED``;
- void takes no body and answers 204 (200 with the authorization under
  ``Prefer: return=representation``); a captured or voided one is 422 ``PREVIOUSLY_CAPTURED`` /
  ``PREVIOUSLY_VOIDED``;
- reauthorize is for PayPal-account payments only (a card's is 422
  ``REAUTHORIZATION_NOT_SUPPORTED``), after the three-day honor period, once, for at most 115 %
  of the original and no more than 75.00 above it;
- an authorization lasts 29 days (``expiration_time``);
- a refund is of a capture, for at most what that capture took and was not refunded; a capture
  under an open chargeback cannot be refunded (``REFUND_NOT_PERMITTED_DUE_TO_CHARGEBACK``), nor
  one in any other open dispute (``TRANSACTION_DISPUTED``).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from payment_core.money import Money

from .._server import Response
from .._tokens import TOKENS, Token
from ._orders import STAMP, Order
from ._wire import money, new_id, not_found, unprocessable, value

HONOR_PERIOD = timedelta(days=3)


@dataclass
class Held:
    """What the stand-in knows of an authorization beyond its JSON."""

    order: str
    amount: int
    currency: str
    created: datetime
    expires: datetime
    captured: int = 0
    wallet: bool = False
    reauthorized: bool = False


class PaymentsMixin:
    orders: dict[str, Order]
    captures: dict[str, str]
    refunds: dict[str, dict[str, Any]]
    authorizations: dict[str, dict[str, Any]]
    held: dict[str, Held]
    capture_limits: dict[str, int]
    refund_captures: dict[str, str]
    authorization_ttl: timedelta

    # ------------------------------------------------------------------ authorizations
    def authorization(
        self, order: Order, token: Token, declined: bool, *, wallet: bool = False
    ) -> dict[str, Any]:
        now = self.clock.now()  # type: ignore[attr-defined]
        ident = new_id()
        base = self.base_url  # type: ignore[attr-defined]
        auth: dict[str, Any] = {
            "id": ident,
            "status": "DENIED" if declined else "CREATED",
            "amount": value(order.amount, order.currency),
            "expiration_time": (now + self.authorization_ttl).strftime(STAMP),
            "create_time": now.strftime(STAMP),
            "update_time": now.strftime(STAMP),
            "links": [
                {"href": f"{base}/v2/payments/authorizations/{ident}", "rel": rel, "method": m}
                for rel, m in (("self", "GET"),)
            ]
            + [
                {
                    "href": f"{base}/v2/payments/authorizations/{ident}/{rel}",
                    "rel": rel,
                    "method": "POST",
                }
                for rel in ("capture", "void", "reauthorize")
            ],
            "supplementary_data": {"related_ids": {"order_id": order.id}},
        }
        if order.custom_id:
            auth["custom_id"] = order.custom_id
        order.authorizations.append(auth)
        self.authorizations[ident] = auth
        self.held[ident] = Held(
            order.id, order.amount, order.currency, now, now + self.authorization_ttl, 0, wallet
        )
        return auth

    def get_authorization(self, ident: str) -> Response:
        auth = self.authorizations.get(ident)
        return Response(200, auth) if auth is not None else not_found()

    def _refuse_capture(self, auth: dict[str, Any], held: Held) -> Response | None:
        refusals = {
            "VOIDED": ("AUTHORIZATION_VOIDED", "The authorization was voided."),
            "CAPTURED": ("AUTHORIZATION_ALREADY_CAPTURED", "The authorization was captured."),
            "DENIED": ("AUTHORIZATION_DENIED", "The authorization was denied."),
        }
        if auth["status"] in refusals:
            return unprocessable(*refusals[auth["status"]])
        if self.clock.now() >= held.expires:  # type: ignore[attr-defined]
            return unprocessable("AUTHORIZATION_EXPIRED", "The authorization has expired.")
        return None

    def capture_authorization(self, ident: str, body: dict[str, Any]) -> Response:
        auth, held = self.authorizations.get(ident), self.held.get(ident)
        if auth is None or held is None:
            return not_found()
        refused = self._refuse_capture(auth, held)
        if refused is not None:
            return refused
        left = held.amount - held.captured
        wanted = body.get("amount")
        amount = money(wanted) if wanted is not None else Money.of(left, held.currency)
        if amount is None:
            return unprocessable("DECIMAL_PRECISION", "Invalid amount.")
        if amount.currency.code != held.currency:
            return unprocessable(
                "AUTH_CAPTURE_CURRENCY_MISMATCH", "The currency is not the authorization's."
            )
        if amount.amount <= 0:
            return unprocessable("CANNOT_BE_ZERO_OR_NEGATIVE", "The amount must be positive.")
        if amount.amount > left:
            return unprocessable(
                "MAX_CAPTURE_AMOUNT_EXCEEDED",
                "The capture amount exceeds what is left on the authorization.",
            )
        order = self.orders[held.order]
        held.captured += amount.amount
        final = body.get("final_capture") is True or held.captured == held.amount
        auth["status"] = "CAPTURED" if final else "PARTIALLY_CAPTURED"
        auth["update_time"] = self.stamp()  # type: ignore[attr-defined]
        base = self.base_url  # type: ignore[attr-defined]
        capture: dict[str, Any] = {
            "id": new_id(),
            "status": "COMPLETED",
            "amount": value(amount.amount, held.currency),
            "final_capture": final,
            "create_time": self.stamp(),  # type: ignore[attr-defined]
            "supplementary_data": {
                "related_ids": {"order_id": order.id, "authorization_id": ident}
            },
        }
        capture["links"] = [
            {
                "href": f"{base}/v2/payments/captures/{capture['id']}",
                "rel": "self",
                "method": "GET",
            },
            {"href": f"{base}/v2/payments/authorizations/{ident}", "rel": "up", "method": "GET"},
        ]
        for name in ("invoice_id", "note_to_payer", "soft_descriptor"):
            if body.get(name):
                capture[name] = body[name]
        if order.custom_id:
            capture["custom_id"] = order.custom_id
        order.captures.append(capture)
        order.charges += 1
        self.captures[capture["id"]] = order.id
        self.capture_limits[capture["id"]] = amount.amount
        token = TOKENS.get(order.method or "")
        if token is not None and token.disputed:
            self.open_dispute(capture["id"])  # type: ignore[attr-defined]
        return Response(201, capture)

    def void(self, ident: str, prefer: str | None) -> Response:
        auth, held = self.authorizations.get(ident), self.held.get(ident)
        if auth is None or held is None:
            return not_found()
        if auth["status"] == "CAPTURED":
            return unprocessable("PREVIOUSLY_CAPTURED", "The authorization was captured.")
        if auth["status"] == "VOIDED":
            return unprocessable("PREVIOUSLY_VOIDED", "The authorization was voided.")
        if auth["status"] == "DENIED" or self.clock.now() >= held.expires:  # type: ignore[attr-defined]
            return unprocessable("CANNOT_BE_VOIDED", "The authorization cannot be voided.")
        auth["status"] = "VOIDED"
        auth["update_time"] = self.stamp()  # type: ignore[attr-defined]
        if prefer == "return=representation":
            return Response(200, auth)
        return Response(204)

    def reauthorize(self, ident: str, body: dict[str, Any]) -> Response:
        auth, held = self.authorizations.get(ident), self.held.get(ident)
        if auth is None or held is None:
            return not_found()
        refused = self._refuse_capture(auth, held)
        if refused is not None:
            return refused
        now = self.clock.now()  # type: ignore[attr-defined]
        if not held.wallet or held.reauthorized or now - held.created < HONOR_PERIOD:
            return unprocessable(
                "REAUTHORIZATION_NOT_SUPPORTED",
                "Only a PayPal-account authorization can be reauthorized, once, after its "
                "three-day honor period.",
            )
        amount = money(body.get("amount")) or Money.of(held.amount, held.currency)
        ceiling = min(
            held.amount * 115 // 100, held.amount + Money.parse("75", held.currency).amount
        )
        if amount.currency.code != held.currency or amount.amount > ceiling:
            return unprocessable(
                "TRANSACTION_REFUSED", "The reauthorized amount exceeds what PayPal allows."
            )
        order = self.orders[held.order]
        held.reauthorized = True
        auth["status"] = "VOIDED"
        order.amount = amount.amount
        fresh = self.authorization(order, TOKENS["pm_card_visa"], False, wallet=True)
        self.held[fresh["id"]].expires = held.expires
        self.held[fresh["id"]].reauthorized = True
        fresh["expiration_time"] = held.expires.strftime(STAMP)
        return Response(201, fresh)

    # ------------------------------------------------------------------ captures and refunds
    def get_capture(self, ident: str) -> Response:
        order = self.orders.get(self.captures.get(ident, ""))
        if order is None:
            return not_found()
        return Response(200, next(c for c in order.captures if c["id"] == ident))

    def refunded(self, order: Order, capture_id: str | None = None) -> int:
        return sum(
            Money.parse(r["amount"]["value"], r["amount"]["currency_code"]).amount
            for r in order.refunds
            if r["status"] in ("COMPLETED", "PENDING")
            and capture_id in (None, self.refund_captures.get(r["id"]))
        )

    def refund(self, capture_id: str, body: dict[str, Any]) -> Response:
        order_id = self.captures.get(capture_id)
        if order_id is None:
            return not_found()
        order = self.orders[order_id]
        capture = next(c for c in order.captures if c["id"] == capture_id)
        if capture["status"] not in ("COMPLETED", "PARTIALLY_REFUNDED"):
            return unprocessable("CAPTURE_FULLY_REFUNDED", "Capture cannot be refunded.")
        for dispute in self.disputes_of(capture_id):  # type: ignore[attr-defined]
            if dispute.status != "RESOLVED":
                issue = (
                    "REFUND_NOT_PERMITTED_DUE_TO_CHARGEBACK"
                    if dispute.stage != "INQUIRY"
                    else "TRANSACTION_DISPUTED"
                )
                return unprocessable(issue, "The capture is disputed.")
        limit = self.capture_limits.get(capture_id, order.amount)
        remaining = limit - self.refunded(order, capture_id)
        amount = body.get("amount")
        refund_value = money(amount).amount if amount and money(amount) else remaining
        if refund_value <= 0 or refund_value > remaining:
            return unprocessable("REFUND_AMOUNT_EXCEEDED", "Refund amount exceeds the capture.")
        token = TOKENS.get(order.method or "")
        if token is not None and token.refunds_fail:
            return unprocessable(
                "REFUND_FAILED_INSUFFICIENT_FUNDS", "The refund could not be processed."
            )
        base = self.base_url  # type: ignore[attr-defined]
        refund = {
            "id": new_id(),
            "status": "COMPLETED",
            "amount": value(refund_value, order.currency),
            "custom_id": body.get("custom_id"),
            "create_time": "2026-01-01T12:00:00Z",
            "links": [
                {"href": f"{base}/v2/payments/refunds/", "rel": "self", "method": "GET"},
                {"href": f"{base}/v2/payments/captures/{capture_id}", "rel": "up", "method": "GET"},
            ],
        }
        self.refunds[refund["id"]] = refund
        order.refunds.append(refund)
        self.refund_captures[refund["id"]] = capture_id
        capture["status"] = "REFUNDED" if refund_value == remaining else "PARTIALLY_REFUNDED"
        return Response(201, refund)

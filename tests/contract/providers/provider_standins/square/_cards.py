"""Customers and cards on file: ``POST /v2/customers``, ``POST /v2/cards`` (``source_id`` = a
card nonce, here a test token, or the id of a payment whose card is to be kept;
``card.customer_id``),
``GET /v2/cards/{id}``, ``GET /v2/cards?customer_id=`` and ``POST /v2/cards/{id}/disable``
(a disabled card takes no more charges; disabling it again is allowed and does nothing).
Refunds are here too: of a completed payment, never while a chargeback is open on it.
"""

from __future__ import annotations

from typing import Any

from .._server import Response
from .._tokens import TOKENS
from ._wire import CARD_FIELDS, bad_request, error, new_id, not_found

_NAME_FIELDS = ("given_name", "family_name", "company_name", "email_address", "phone_number")
_CHARGEBACK = frozenset({"EVIDENCE_REQUIRED", "PROCESSING", "LOST", "ACCEPTED"})


class CardsMixin:
    customers: dict[str, dict[str, Any]]
    cards: dict[str, dict[str, Any]]
    card_tokens: dict[str, str]
    payments: dict[str, dict[str, Any]]
    payment_tokens: dict[str, str]
    refunds: dict[str, dict[str, Any]]
    refunds_pending: bool
    verification_tokens: set[str]

    def create_customer(self, body: dict[str, Any]) -> Response:
        if not any(body.get(name) for name in _NAME_FIELDS):
            return bad_request(
                "BAD_REQUEST",
                "At least one of given_name, family_name, company_name, email_address or "
                "phone_number is required.",
            )
        now = self.now()  # type: ignore[attr-defined]
        customer = {
            "id": new_id("C"),
            "created_at": now,
            "updated_at": now,
            **{k: v for k, v in body.items() if k != "idempotency_key"},
            "preferences": {"email_unsubscribed": False},
            "creation_source": "THIRD_PARTY",
            "version": 0,
        }
        self.customers[customer["id"]] = customer
        return Response(200, {"customer": customer})

    def get_customer(self, customer_id: str) -> Response:
        customer = self.customers.get(customer_id)
        return Response(200, {"customer": customer}) if customer else not_found("Customer")

    def create_card(self, body: dict[str, Any]) -> Response:
        card = body.get("card")
        if (
            not body.get("idempotency_key")
            or not body.get("source_id")
            or not isinstance(card, dict)
        ):
            return bad_request(
                "MISSING_REQUIRED_PARAMETER", "idempotency_key, source_id and card are required."
            )
        unknown = sorted(set(card) - CARD_FIELDS)
        if unknown:
            return bad_request("BAD_REQUEST", f"Unrecognized field `card.{unknown[0]}`.")
        if card.get("customer_id") not in self.customers:
            return not_found("Customer")
        source = body["source_id"]
        name = source if source in TOKENS else None
        paid = self.payments.get(source)
        if paid is not None and paid["status"] in ("APPROVED", "COMPLETED"):
            name = self.payment_tokens.get(source)
        if name is None:
            return bad_request(
                "INVALID_CARD_DATA", f"Invalid source_id {source}.", field="source_id"
            )
        token = TOKENS[name]
        verified = body.get("verification_token") in self.verification_tokens
        if paid is None and token.outcome == "requires_action" and not verified:
            detail = "Authorization error: 'CARD_DECLINED_VERIFICATION_REQUIRED'"
            return error(400, "PAYMENT_METHOD_ERROR", "CARD_DECLINED_VERIFICATION_REQUIRED", detail)
        made = {
            "id": f"ccof:{new_id()}",
            "card_brand": token.card.brand.upper(),
            "last_4": token.card.last4,
            "exp_month": token.card.exp_month,
            "exp_year": token.card.exp_year,
            "cardholder_name": card.get("cardholder_name"),
            "customer_id": card["customer_id"],
            "merchant_id": "MLSTANDIN0001",
            "reference_id": card.get("reference_id"),
            "enabled": True,
            "card_type": "CREDIT",
            "prepaid_type": "NOT_PREPAID",
            "created_at": self.now(),  # type: ignore[attr-defined]
            "version": 1,
        }
        self.cards[made["id"]] = made
        self.card_tokens[made["id"]] = name
        return Response(200, {"card": made})

    def get_card(self, card_id: str) -> Response:
        card = self.cards.get(card_id)
        return Response(200, {"card": card}) if card else not_found("Card")

    def list_cards(self, query: dict[str, str]) -> Response:
        found = [
            c
            for c in self.cards.values()
            if query.get("customer_id") in (None, c["customer_id"])
            and (c["enabled"] or query.get("include_disabled") == "true")
        ]
        return Response(200, {"cards": found})

    def disable_card(self, card_id: str) -> Response:
        card = self.cards.get(card_id)
        if card is None:
            return not_found("Card")
        if card["enabled"]:
            card.update(enabled=False, disabled_at=self.now(), version=card["version"] + 1)  # type: ignore[attr-defined]
        return Response(200, {"card": card})

    # ------------------------------------------------------------------ refunds
    def refunded(self, payment: dict[str, Any]) -> int:
        return sum(
            self.refunds[r]["amount_money"]["amount"]
            for r in payment["refund_ids"]
            if self.refunds[r]["status"] in ("COMPLETED", "PENDING")
        )

    def refund(self, body: dict[str, Any]) -> Response:
        payment = self.payments.get(body.get("payment_id") or "")
        if payment is None:
            return not_found("Payment")
        if payment["status"] != "COMPLETED":
            return bad_request("PAYMENT_NOT_REFUNDABLE", "Payment is not completed.")
        if any(
            d["disputed_payment"]["payment_id"] == payment["id"] and d["state"] in _CHARGEBACK
            for d in self.disputes.values()  # type: ignore[attr-defined]
        ):
            return bad_request(
                "PAYMENT_NOT_REFUNDABLE_DUE_TO_DISPUTE", "The payment is in a chargeback."
            )
        money = body.get("amount_money") or {}
        remaining = payment["amount_money"]["amount"] - self.refunded(payment)
        if type(money.get("amount")) is not int or not 0 < money["amount"] <= remaining:
            return bad_request("REFUND_AMOUNT_INVALID", "Refund amount exceeds the payment.")
        token = TOKENS.get(self.payment_tokens.get(payment["id"], ""))
        if token is not None and token.refunds_fail:
            return error(400, "REFUND_ERROR", "REFUND_DECLINED", "The refund was declined.")
        now = self.now()  # type: ignore[attr-defined]
        refund = {
            "id": new_id("r_"),
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
        with self.lock:  # type: ignore[attr-defined]
            settled = []
            for refund in self.refunds.values():
                if refund["status"] == "PENDING":
                    refund["status"] = status
                    settled.append(dict(refund))
            return settled

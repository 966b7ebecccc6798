"""Disputes v1 (``/v1/customer/disputes``) and the ``CUSTOMER.DISPUTE.*`` webhooks.

Not in PayPal's Python server SDK: the requests follow PayPal's OpenAPI document
(``customer_disputes_v1.json``) and its API reference:

- ``GET /v1/customer/disputes/{id}``: the dispute (``status``, ``dispute_life_cycle_stage``
  ``INQUIRY`` | ``CHARGEBACK`` | ``PRE_ARBITRATION`` | ``ARBITRATION``,
  ``seller_response_due_date``, ``disputed_transactions[].seller_transaction_id`` = the capture,
  ``dispute_outcome.outcome_code`` once ``RESOLVED``, ``money_movements``);
- ``POST …/provide-evidence``: ``multipart/form-data`` only, the evidence as a JSON part named
  ``input`` (``{"evidences": [{"evidence_type", "notes", …}]}``, notes of at most 2,000
  characters), files as ``evidence-file``; only while the dispute waits for the seller
  (``WAITING_FOR_SELLER_RESPONSE``) and before its due date; answers ``{"links": […]}``;
- ``POST …/accept-claim``: JSON (or the same multipart with ``input``) with a required ``note``.

The webhook's ``resource`` is the dispute; ``resource_type`` is ``dispute``. Notes containing
``winning_evidence`` resolve the dispute for the seller, ``losing_evidence`` for the buyer.
"""

from __future__ import annotations

import json
import secrets
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

from .._server import Response
from .._tokens import verdict
from ._orders import STAMP, Order
from ._wire import error, json_part, malformed, multipart, not_found, unprocessable, value

EVIDENCE_FIELDS = frozenset({"evidence_type", "evidence_info", "documents", "notes", "item_id"})
ACCEPT_FIELDS = frozenset(
    {"note", "accept_claim_reason", "invoice_id", "return_shipping_address"}
    | {"accept_claim_type", "refund_amount"}
)
#: ``evidence.evidence_type`` in PayPal's OpenAPI document (``customer_disputes_v1.json``).
EVIDENCE_TYPES = frozenset(
    (
        "PROOF_OF_FULFILLMENT", "PROOF_OF_REFUND", "PROOF_OF_DELIVERY_SIGNATURE",
        "PROOF_OF_RECEIPT_COPY", "RETURN_POLICY", "BILLING_AGREEMENT", "PROOF_OF_RESHIPMENT",
        "ITEM_DESCRIPTION", "POLICE_REPORT", "AFFIDAVIT", "PAID_WITH_OTHER_METHOD",
        "COPY_OF_CONTRACT", "TERMINAL_ATM_RECEIPT", "PRICE_DIFFERENCE_REASON",
        "SOURCE_CONVERSION_RATE", "BANK_STATEMENT", "CREDIT_DUE_REASON", "REQUEST_CREDIT_RECEIPT",
        "PROOF_OF_RETURN", "CREATE", "CHANGE_REASON", "PROOF_OF_REFUND_OUTSIDE_PAYPAL",
        "RECEIPT_OF_MERCHANDISE", "CUSTOMS_DOCUMENT", "CUSTOMS_FEE_RECEIPT",
        "INFORMATION_ON_RESOLUTION", "ADDITIONAL_INFORMATION_OF_ITEM", "DETAILS_OF_PURCHASE",
        "PROOF_OF_SIGNIFICANT_DIFFERENCE", "PROOF_OF_SOFTWARE_OR_SERVICE_NOT_AS_DESCRIBED",
        "PROOF_OF_CONFISCATION", "PROOF_OF_DAMAGE", "COPY_OF_LAW_ENFORCEMENT_AGENCY_REPORT",
        "ADDITIONAL_PROOF_OF_SHIPMENT", "PROOF_OF_DENIAL_BY_CARRIER",
        "THIRDPARTY_PROOF_FOR_DAMAGE_OR_SIGNIFICANT_DIFFERENCE", "VALID_SUPPORTING_DOCUMENT",
        "LEGIBLE_SUPPORTING_DOCUMENT", "RETURN_TRACKING_INFORMATION", "DELIVERY_RECEIPT",
        "PROOF_OF_INSTORE_RECEIPT", "ADDITIONAL_TRACKING_INFORMATION", "PROOF_OF_SHIPMENT_POSTAGE",
        "ONLINE_TRACKING_INFORMATION", "PROOF_OF_INSTORE_REFUND",
        "PROOF_FOR_SOFTWARE_OR_SERVICE_DELIVERED", "RETURN_ADDRESS_FOR_SHIPPING",
        "COPY_OF_THE_EPARCEL_MANIFEST", "COPY_OF_SHIPPING_MANIFEST", "APPEAL_AFFIDAVIT",
        "RECEIPT_OF_REPLACEMENT", "COPY_OF_DRIVERS_LICENSE", "ACCOUNT_CHANGE_INFORMATION",
        "DELIVERY_ADDRESS", "CONFIRMATION_OF_RESOLUTION", "MERCHANT_RESPONSE",
        "PERMISSION_DESCRIPTION", "STATUS_OF_MERCHANDISE", "LOST_CARD_DETAILS",
        "LAST_VALID_TRANSACTION_DETAILS", "ADDITIONAL_PROOF_OF_RETURN", "DECLARATION",
        "PROOF_OF_MISSING_ITEMS", "PROOF_OF_EMPTY_PACKAGE_OR_DIFFERENT_ITEM",
        "PROOF_OF_ITEM_NOT_RECEIVED", "ORDER_DETAILS", "LISTING_URL", "SHIPPING_INSURANCE",
        "BUYER_RESPONSE", "PHOTOS_OF_SHIPPED_ITEM", "OTHER",
    )
)  # fmt: skip
NOTES_LIMIT = 2000


@dataclass
class Dispute:
    id: str
    capture: str
    order: str
    amount: int
    currency: str
    reason: str
    stage: str
    due: datetime
    created: datetime
    status: str = "WAITING_FOR_SELLER_RESPONSE"
    outcome: str | None = None
    evidences: list[dict[str, Any]] = field(default_factory=list)
    money_movements: list[dict[str, Any]] = field(default_factory=list)


class DisputesMixin:
    orders: dict[str, Order]
    captures: dict[str, str]
    disputes: dict[str, Dispute]
    evidence_window: timedelta

    def disputes_of(self, capture_id: str) -> list[Dispute]:
        return [d for d in self.disputes.values() if d.capture == capture_id]

    def dispute_json(self, dispute: Dispute) -> dict[str, Any]:
        order = self.orders[dispute.order]
        base = self.base_url  # type: ignore[attr-defined]
        link = f"{base}/v1/customer/disputes/{dispute.id}"
        links = [{"href": link, "rel": "self", "method": "GET"}]
        if dispute.status == "WAITING_FOR_SELLER_RESPONSE":
            links += [
                {"href": f"{link}/{rel}", "rel": rel.replace("-", "_"), "method": "POST"}
                for rel in ("provide-evidence", "accept-claim")
            ]
        body: dict[str, Any] = {
            "dispute_id": dispute.id,
            "create_time": dispute.created.strftime(STAMP),
            "update_time": self.stamp(),  # type: ignore[attr-defined]
            "disputed_transactions": [
                {
                    "seller_transaction_id": dispute.capture,
                    "create_time": dispute.created.strftime(STAMP),
                    "transaction_status": "COMPLETED",
                    "gross_amount": value(dispute.amount, dispute.currency),
                    "custom": order.custom_id,
                    "invoice_number": order.invoice_id,
                }
            ],
            "reason": dispute.reason,
            "status": dispute.status,
            "dispute_amount": value(dispute.amount, dispute.currency),
            "dispute_life_cycle_stage": dispute.stage,
            "dispute_channel": "EXTERNAL" if dispute.stage != "INQUIRY" else "INTERNAL",
            "seller_response_due_date": dispute.due.strftime(STAMP),
            "evidences": list(dispute.evidences),
            "money_movements": list(dispute.money_movements),
            "links": links,
        }
        if dispute.outcome is not None:
            body["dispute_outcome"] = {"outcome_code": dispute.outcome}
        return body

    def _event(self, event_type: str, dispute: Dispute) -> None:
        now = self.clock.now()  # type: ignore[attr-defined]
        body = json.dumps(
            {
                "id": f"WH-{secrets.token_hex(8).upper()}",
                "event_version": "1.0",
                "create_time": now.strftime(STAMP),
                "resource_type": "dispute",
                "resource_version": "1.0",
                "event_type": event_type,
                "summary": f"{event_type} (stand-in)",
                "resource": self.dispute_json(dispute),
            },
            separators=(",", ":"),
        ).encode()
        headers = self.sign(body, webhook_id=self.webhook_id, when=now)  # type: ignore[attr-defined]
        self.emit(event_type, body, {**headers, "Content-Type": "application/json"})  # type: ignore[attr-defined]

    def _move(self, dispute: Dispute, kind: str) -> None:
        dispute.money_movements.append(
            {
                "affected_party": "SELLER",
                "amount": value(dispute.amount, dispute.currency),
                "initiated_time": self.stamp(),  # type: ignore[attr-defined]
                "type": kind,
                "reason": "DISPUTE_SETTLEMENT",
            }
        )

    # ------------------------------------------------------------------ test controls
    def open_dispute(
        self,
        capture_id: str,
        *,
        reason: str = "UNAUTHORISED",
        stage: str = "CHARGEBACK",
        amount: int | None = None,
    ) -> dict[str, Any]:
        """The buyer (or the card's bank) disputes a capture. The dispute's JSON."""
        with self.lock:  # type: ignore[attr-defined]
            order = self.orders[self.captures[capture_id]]
            capture = next(c for c in order.captures if c["id"] == capture_id)
            now = self.clock.now()  # type: ignore[attr-defined]
            dispute = Dispute(
                id=f"PP-D-{secrets.randbelow(10**6):06d}",
                capture=capture_id,
                order=order.id,
                amount=self.capture_limits.get(capture_id, order.amount)  # type: ignore[attr-defined]
                if amount is None
                else amount,
                currency=capture["amount"]["currency_code"],
                reason=reason,
                stage=stage,
                due=now + self.evidence_window,
                created=now,
            )
            if stage != "INQUIRY":
                self._move(dispute, "DEBIT")
            self.disputes[dispute.id] = dispute
            self._event("CUSTOMER.DISPUTE.CREATED", dispute)
            return self.dispute_json(dispute)

    def resolve_dispute(self, dispute_id: str, outcome: str) -> dict[str, Any]:
        """PayPal decides (``won`` or ``lost``). The dispute's JSON."""
        with self.lock:  # type: ignore[attr-defined]
            dispute = self.disputes[dispute_id]
            self._settle(dispute, outcome)
            return self.dispute_json(dispute)

    def _settle(self, dispute: Dispute, outcome: str) -> None:
        dispute.status = "RESOLVED"
        dispute.outcome = "RESOLVED_SELLER_FAVOUR" if outcome == "won" else "RESOLVED_BUYER_FAVOUR"
        if outcome == "won" and dispute.money_movements:
            self._move(dispute, "CREDIT")
        if outcome == "lost" and not dispute.money_movements:
            self._move(dispute, "DEBIT")
        self._event("CUSTOMER.DISPUTE.RESOLVED", dispute)

    # ------------------------------------------------------------------ API
    def get_dispute(self, dispute_id: str) -> Response:
        dispute = self.disputes.get(dispute_id)
        return Response(200, self.dispute_json(dispute)) if dispute else not_found()

    def list_disputes(self, query: dict[str, str]) -> Response:
        items = [
            {
                k: v
                for k, v in self.dispute_json(d).items()
                if k in ("dispute_id", "create_time", "update_time", "reason", "status")
                or k in ("dispute_amount", "dispute_life_cycle_stage", "links")
            }
            for d in self.disputes.values()
            if query.get("disputed_transaction_id") in (None, d.capture)
        ]
        return Response(200, {"items": items, "links": []})

    def _refuse_answer(self, dispute: Dispute) -> Response | None:
        if dispute.status != "WAITING_FOR_SELLER_RESPONSE":
            return unprocessable(
                "NOT_ALLOWED_TO_PROVIDE_EVIDENCE",
                f"The dispute's status is {dispute.status}: the seller cannot act on it now.",
            )
        if self.clock.now() > dispute.due:  # type: ignore[attr-defined]
            return unprocessable(
                "NOT_ALLOWED_TO_PROVIDE_EVIDENCE", "The seller response due date has passed."
            )
        return None

    def provide_evidence(self, dispute_id: str, content_type: str, raw: bytes) -> Response:
        dispute = self.disputes.get(dispute_id)
        if dispute is None:
            return not_found()
        parts = multipart(content_type, raw)
        if parts is None:
            return error(
                415, "UNSUPPORTED_MEDIA_TYPE", "Provide evidence takes multipart/form-data."
            )
        data = json_part(parts, "input")
        evidences = data.get("evidences") if isinstance(data, dict) else None
        if not isinstance(evidences, list) or not evidences or set(data) != {"evidences"}:
            return malformed(
                'The "input" part must be {"evidences": [...]}.', "MISSING_REQUIRED_PARAMETER"
            )
        for evidence in evidences:
            if not isinstance(evidence, dict) or set(evidence) - EVIDENCE_FIELDS:
                return malformed("Request is not well-formed: unknown evidence field.")
            if evidence.get("evidence_type") not in EVIDENCE_TYPES:
                return malformed("evidence_type is not one of PayPal's.", "INVALID_PARAMETER_VALUE")
            if len(str(evidence.get("notes") or "")) > NOTES_LIMIT:
                return malformed("notes is longer than 2000 characters.", "INVALID_STRING_LENGTH")
        refused = self._refuse_answer(dispute)
        if refused is not None:
            return refused
        dispute.evidences += [{**e, "source": "SUBMITTED_BY_SELLER"} for e in evidences]
        dispute.status = "UNDER_REVIEW"
        self._event("CUSTOMER.DISPUTE.UPDATED", dispute)
        outcome = verdict(" ".join(str(e.get("notes") or "") for e in evidences))
        if outcome is not None:
            self._settle(dispute, outcome)
        base = self.base_url  # type: ignore[attr-defined]
        link = {"href": f"{base}/v1/customer/disputes/{dispute.id}", "rel": "self", "method": "GET"}
        return Response(200, {"links": [link]})

    def accept_claim(self, dispute_id: str, content_type: str, raw: bytes) -> Response:
        dispute = self.disputes.get(dispute_id)
        if dispute is None:
            return not_found()
        parts = multipart(content_type, raw)
        try:
            data = json_part(parts, "input") if parts is not None else json.loads(raw or b"{}")
        except ValueError:
            data = None
        if not isinstance(data, dict) or set(data) - ACCEPT_FIELDS:
            return malformed("Request is not well-formed: unknown field.")
        if not data.get("note"):
            return malformed("note is required.", "MISSING_REQUIRED_PARAMETER")
        refused = self._refuse_answer(dispute)
        if refused is not None:
            return refused
        dispute.status = "RESOLVED"
        dispute.outcome = "ACCEPTED"
        if not dispute.money_movements:
            self._move(dispute, "DEBIT")
        self._event("CUSTOMER.DISPUTE.RESOLVED", dispute)
        base = self.base_url  # type: ignore[attr-defined]
        link = {"href": f"{base}/v1/customer/disputes/{dispute.id}", "rel": "self", "method": "GET"}
        return Response(200, {"links": [link]})

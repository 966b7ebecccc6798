"""Disputes: opened on a captured charge (by ``pm_card_createDispute``, or a test), answered
with evidence (``POST /v1/disputes/{id}`` with ``evidence[…]`` and ``submit``), accepted
(``POST /v1/disputes/{id}/close``), and resolved; each step sends Stripe's event
(``charge.dispute.created|updated|closed|funds_withdrawn|funds_reinstated``), signed.

Stripe's rules as the stand-in enforces them (SDK ``DisputeUpdateParams`` and ``Dispute``):

- ``submit`` defaults to ``true``: evidence without ``submit=false`` goes to the bank at once;
  once submitted (``under_review``) or closed, a dispute takes no more evidence;
- file fields (``receipt``, ``cancellation_policy``, ``service_documentation`` …) take the id of
  a file upload (``file_…``), never text: text goes in ``…_disclosure``, ``service_date``,
  ``uncategorized_text`` and the like; a text field holds at most 20,000 characters and all of
  them together 150,000;
- past ``evidence_details.due_by`` the dispute takes no evidence;
- a warning (inquiry) moves no money; a chargeback withdraws the amount when it opens and
  reinstates it when won.

As in Stripe's test mode, ``uncategorized_text`` containing ``winning_evidence`` wins the
dispute and ``losing_evidence`` loses it, right after the submission.
"""

from __future__ import annotations

from datetime import timedelta
from typing import Any

from stripe.params._dispute_update_params import DisputeUpdateParamsEvidence

from .._server import Response
from .._tokens import verdict
from ._objects import Dispute, Intent
from ._wire import invalid, missing, new_id

EVIDENCE_FIELDS = tuple(
    name for name in DisputeUpdateParamsEvidence.__annotations__ if name != "enhanced_evidence"
)
#: The evidence fields that take a file upload's id (the SDK's docstrings say "ID of a file").
FILE_FIELDS = frozenset(
    {"cancellation_policy", "customer_communication", "customer_signature"}
    | {"duplicate_charge_documentation", "receipt", "refund_policy", "service_documentation"}
    | {"shipping_documentation", "uncategorized_file"}
)
TEXT_LIMIT = 20_000
TOTAL_LIMIT = 150_000


class DisputesMixin:
    intents: dict[str, Intent]
    disputes: dict[str, Dispute]
    evidence_window: timedelta

    def dispute_json(self, dispute: Dispute) -> dict[str, Any]:
        now = self.clock.timestamp()  # type: ignore[attr-defined]
        return {
            "id": dispute.id,
            "object": "dispute",
            "amount": dispute.amount,
            "currency": dispute.currency,
            "charge": dispute.charge,
            "payment_intent": dispute.intent,
            "reason": dispute.reason,
            "status": dispute.status,
            "evidence": dict(dispute.evidence),
            "evidence_details": {
                "due_by": dispute.due_by,
                "has_evidence": dispute.has_evidence,
                "past_due": now > dispute.due_by and dispute.status.endswith("needs_response"),
                "submission_count": dispute.submission_count,
                "enhanced_eligibility": {},
            },
            "is_charge_refundable": dispute.inquiry,
            "balance_transactions": list(dispute.balance_transactions),
            "enhanced_eligibility_types": [],
            "intended_submission_method": None,
            "metadata": dict(dispute.metadata),
            "network_reason_code": "10.4" if dispute.reason == "fraudulent" else None,
            "payment_method_details": {
                "type": "card",
                "card": {
                    "brand": "visa",
                    "case_type": "inquiry" if dispute.inquiry else "chargeback",
                    "network_reason_code": "10.4",
                },
            },
            "created": dispute.created,
            "livemode": False,
        }

    def _event(self, event_type: str, dispute: Dispute) -> None:
        self.emit_event(event_type, self.dispute_json(dispute))  # type: ignore[attr-defined]

    def _move_funds(self, dispute: Dispute, withdrawn: bool) -> None:
        sign = -1 if withdrawn else 1
        dispute.balance_transactions.append(
            {
                "id": new_id("txn"),
                "object": "balance_transaction",
                "amount": sign * dispute.amount,
                "currency": dispute.currency,
                "fee": -sign * 1500,
                "net": sign * (dispute.amount + 1500),
                "type": "adjustment",
                "reporting_category": "dispute" if withdrawn else "dispute_reversal",
                "description": (
                    f"Chargeback {'withdrawal' if withdrawn else 'reversal'} for {dispute.charge}"
                ),
                "source": dispute.id,
                "status": "pending",
                "created": self.clock.timestamp(),  # type: ignore[attr-defined]
            }
        )
        self._event(
            "charge.dispute.funds_withdrawn" if withdrawn else "charge.dispute.funds_reinstated",
            dispute,
        )

    # ------------------------------------------------------------------ test controls
    def open_dispute(
        self,
        intent_id: str,
        *,
        reason: str = "fraudulent",
        amount: int | None = None,
        inquiry: bool = False,
    ) -> dict[str, Any]:
        """The cardholder's bank disputes the intent's captured charge. Its JSON."""
        with self.lock:  # type: ignore[attr-defined]
            intent = self.intents[intent_id]
            if intent.status != "succeeded" or intent.latest_charge is None:
                raise ValueError(f"{intent_id} has no captured charge to dispute")
            now = self.clock.now()  # type: ignore[attr-defined]
            dispute = Dispute(
                id=new_id("dp"),
                intent=intent.id,
                charge=intent.latest_charge,
                amount=intent.amount_received if amount is None else amount,
                currency=intent.currency,
                reason=reason,
                status="warning_needs_response" if inquiry else "needs_response",
                due_by=int((now + self.evidence_window).timestamp()),
                evidence=dict.fromkeys(EVIDENCE_FIELDS),
                created=int(now.timestamp()),
            )
            self.disputes[dispute.id] = dispute
            self._event("charge.dispute.created", dispute)
            if not inquiry:
                self._move_funds(dispute, withdrawn=True)
            return self.dispute_json(dispute)

    def resolve_dispute(self, dispute_id: str, outcome: str) -> dict[str, Any]:
        """The bank decides (``won`` or ``lost``). The dispute's JSON."""
        with self.lock:  # type: ignore[attr-defined]
            dispute = self.disputes[dispute_id]
            self._settle(dispute, outcome)
            return self.dispute_json(dispute)

    def _settle(self, dispute: Dispute, outcome: str) -> None:
        if dispute.inquiry:
            if outcome == "won":
                dispute.status = "warning_closed"
                self._event("charge.dispute.closed", dispute)
            else:  # the inquiry becomes a chargeback
                dispute.status = "needs_response"
                dispute.due_by = int((self.clock.now() + self.evidence_window).timestamp())  # type: ignore[attr-defined]
                self._event("charge.dispute.updated", dispute)
                self._move_funds(dispute, withdrawn=True)
            return
        dispute.status = outcome
        self._event("charge.dispute.closed", dispute)
        if outcome == "won":
            self._move_funds(dispute, withdrawn=False)

    # ------------------------------------------------------------------ API
    def get_dispute(self, dispute_id: str) -> Response:
        dispute = self.disputes.get(dispute_id)
        if dispute is None:
            return missing("dispute", dispute_id)
        return Response(200, self.dispute_json(dispute))

    def list_disputes(self, params: dict[str, Any]) -> Response:
        found = [
            self.dispute_json(d)
            for d in reversed(self.disputes.values())
            if params.get("payment_intent") in (None, d.intent)
            and params.get("charge") in (None, d.charge)
        ]
        limit = int(params.get("limit") or 10)
        return Response(
            200,
            {"object": "list", "url": "/v1/disputes", "data": found[:limit], "has_more": False},
        )

    def _refuse_update(self, dispute: Dispute) -> Response | None:
        if dispute.status not in ("needs_response", "warning_needs_response"):
            return invalid(
                f"This dispute has status {dispute.status}: its evidence was already submitted "
                "or it is closed, and it can no longer be updated."
            )
        if self.clock.timestamp() > dispute.due_by:  # type: ignore[attr-defined]
            return invalid("The deadline to respond to this dispute has passed.")
        return None

    def update_dispute(self, dispute_id: str, params: dict[str, Any]) -> Response:
        dispute = self.disputes.get(dispute_id)
        if dispute is None:
            return missing("dispute", dispute_id)
        evidence = params.get("evidence") or {}
        if evidence or params.get("submit") != "false":
            refused = self._refuse_update(dispute)
            if refused is not None:
                return refused
        for name, value in evidence.items():
            if name in FILE_FIELDS and value and not str(value).startswith("file_"):
                return missing("file upload", str(value), param=f"evidence[{name}]")
            if isinstance(value, str) and len(value) > TEXT_LIMIT:
                return invalid(
                    f"evidence[{name}] has a maximum character count of {TEXT_LIMIT}.",
                    param=f"evidence[{name}]",
                )
        merged = {**dispute.evidence, **{k: v for k, v in evidence.items() if isinstance(v, str)}}
        if sum(len(v) for v in merged.values() if isinstance(v, str)) > TOTAL_LIMIT:
            return invalid(
                f"The combined character count of all evidence fields is limited to {TOTAL_LIMIT}.",
                param="evidence",
            )
        dispute.evidence = merged
        dispute.metadata.update(params.get("metadata") or {})
        dispute.has_evidence = dispute.has_evidence or bool(evidence)
        submit = params.get("submit") != "false"
        if submit:
            dispute.submission_count += 1
            dispute.status = "warning_under_review" if dispute.inquiry else "under_review"
        body = self.dispute_json(dispute)
        self._event("charge.dispute.updated", dispute)
        outcome = verdict(merged.get("uncategorized_text")) if submit else None
        if outcome is not None:
            self._settle(dispute, outcome)
        return Response(200, body)

    def close_dispute(self, dispute_id: str) -> Response:
        dispute = self.disputes.get(dispute_id)
        if dispute is None:
            return missing("dispute", dispute_id)
        if dispute.status not in ("needs_response", "warning_needs_response"):
            return invalid(f"This dispute has status {dispute.status} and can no longer be closed.")
        dispute.status = "warning_closed" if dispute.inquiry else "lost"
        self._event("charge.dispute.closed", dispute)
        return Response(200, self.dispute_json(dispute))

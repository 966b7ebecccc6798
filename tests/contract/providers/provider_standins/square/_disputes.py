"""Disputes: ``GET /v2/disputes[/{id}]``, ``POST /v2/disputes/{id}/evidence-text``,
``POST /v2/disputes/{id}/submit-evidence``, ``POST /v2/disputes/{id}/accept`` (the last two
without a body), and the ``dispute.created`` / ``dispute.state.updated`` webhooks.

Square's rules as the stand-in enforces them (SDK ``disputes`` client and ``Dispute`` type):
evidence is added while the dispute wants it (``EVIDENCE_REQUIRED``, or
``INQUIRY_EVIDENCE_REQUIRED`` for an inquiry) and before ``due_at``; ``evidence_text`` holds at
most 500 characters, ``evidence_type`` is one of ``DisputeEvidenceType``; submitting moves the
dispute to ``PROCESSING`` (``INQUIRY_PROCESSING``); accepting to ``ACCEPTED``. The webhook's
``data.object`` holds the dispute under the key ``object`` (the SDK's ``DisputeCreatedEventObject``
and ``DisputeStateUpdatedEventObject``), unlike payment events, which use ``payment``.

Evidence text containing ``winning_evidence`` wins the dispute, ``losing_evidence`` loses it.
"""

from __future__ import annotations

import json
import secrets
import string
from datetime import timedelta
from typing import Any

from .._server import Response
from .._tokens import verdict
from ._wire import EVIDENCE_TYPES, bad_request, not_found, parse_stamp, stamp

TEXT_LIMIT = 500
_OPEN = {"EVIDENCE_REQUIRED", "INQUIRY_EVIDENCE_REQUIRED"}


def _dispute_id() -> str:
    return "".join(secrets.choice(string.ascii_letters + string.digits) for _ in range(22))


class DisputesMixin:
    payments: dict[str, dict[str, Any]]
    disputes: dict[str, dict[str, Any]]
    evidence: dict[str, list[dict[str, Any]]]
    evidence_window: timedelta

    def _changed(self, dispute: dict[str, Any], state: str) -> None:
        dispute.update(state=state, updated_at=self.now(), version=dispute["version"] + 1)  # type: ignore[attr-defined]
        self._dispute_event("dispute.state.updated", dispute)

    def _dispute_event(self, event_type: str, dispute: dict[str, Any]) -> None:
        body = json.dumps(
            {
                "merchant_id": "MLSTANDIN0001",
                "location_id": dispute["location_id"],
                "type": event_type,
                "event_id": f"{secrets.token_hex(4)}-0000-4000-8000-{secrets.token_hex(6)}",
                "created_at": self.now(),  # type: ignore[attr-defined]
                "data": {"type": "dispute", "id": dispute["id"], "object": {"object": dispute}},
            },
            separators=(",", ":"),
        ).encode()
        headers = self.sign(body, key=self.signature_key, notification_url=self.notification_url)  # type: ignore[attr-defined]
        self.emit(event_type, body, {**headers, "Content-Type": "application/json"})  # type: ignore[attr-defined]

    # ------------------------------------------------------------------ test controls
    def open_dispute(
        self,
        payment_id: str,
        *,
        reason: str = "NO_KNOWLEDGE",
        inquiry: bool = False,
        amount: int | None = None,
    ) -> dict[str, Any]:
        """The cardholder's bank disputes a completed payment. The dispute's JSON."""
        with self.lock:  # type: ignore[attr-defined]
            payment = self.payments[payment_id]
            money = dict(payment["amount_money"])
            if amount is not None:
                money["amount"] = amount
            ident = _dispute_id()
            now = self.clock.now()  # type: ignore[attr-defined]
            dispute = {
                "dispute_id": ident,
                "id": ident,
                "amount_money": money,
                "reason": reason,
                "state": "INQUIRY_EVIDENCE_REQUIRED" if inquiry else "EVIDENCE_REQUIRED",
                "due_at": stamp(now + self.evidence_window),
                "disputed_payment": {"payment_id": payment_id},
                "evidence_ids": [],
                "card_brand": payment["card_details"]["card"]["card_brand"],
                "created_at": self.now(),  # type: ignore[attr-defined]
                "updated_at": self.now(),  # type: ignore[attr-defined]
                "brand_dispute_id": secrets.token_hex(6),
                "reported_at": stamp(now),
                "version": 1,
                "location_id": payment["location_id"],
            }
            self.disputes[ident] = dispute
            self.evidence[ident] = []
            self._dispute_event("dispute.created", dispute)
            return dict(dispute)

    def resolve_dispute(self, dispute_id: str, outcome: str) -> dict[str, Any]:
        """The bank decides (``won`` or ``lost``). The dispute's JSON."""
        with self.lock:  # type: ignore[attr-defined]
            dispute = self.disputes[dispute_id]
            self._decide(dispute, outcome)
            return dict(dispute)

    def _decide(self, dispute: dict[str, Any], outcome: str) -> None:
        if dispute["state"].startswith("INQUIRY"):
            self._changed(dispute, "INQUIRY_CLOSED" if outcome == "won" else "EVIDENCE_REQUIRED")
            if outcome == "lost":
                dispute["due_at"] = stamp(self.clock.now() + self.evidence_window)  # type: ignore[attr-defined]
            return
        self._changed(dispute, "WON" if outcome == "won" else "LOST")

    # ------------------------------------------------------------------ API
    def get_dispute(self, dispute_id: str) -> Response:
        dispute = self.disputes.get(dispute_id)
        return Response(200, {"dispute": dispute}) if dispute else not_found("Dispute")

    def list_disputes(self, query: dict[str, str]) -> Response:
        states = set(query["states"].split(",")) if query.get("states") else None
        found = [d for d in self.disputes.values() if states is None or d["state"] in states]
        return Response(200, {"disputes": found})

    def list_evidence(self, dispute_id: str) -> Response:
        if dispute_id not in self.disputes:
            return not_found("Dispute")
        return Response(200, {"evidence": list(self.evidence[dispute_id])})

    def _answerable(self, dispute_id: str) -> dict[str, Any] | Response:
        dispute = self.disputes.get(dispute_id)
        if dispute is None:
            return not_found("Dispute")
        if dispute["state"] not in _OPEN:
            return bad_request(
                "BAD_REQUEST", f"The dispute is {dispute['state']}: it takes no evidence now."
            )
        if self.clock.now() > parse_stamp(dispute["due_at"]):  # type: ignore[attr-defined]
            return bad_request("BAD_REQUEST", "The dispute's due_at has passed.")
        return dispute

    def evidence_text(self, dispute_id: str, body: dict[str, Any]) -> Response:
        text, kind = body.get("evidence_text"), body.get("evidence_type")
        if not body.get("idempotency_key") or not isinstance(text, str) or not text:
            return bad_request(
                "MISSING_REQUIRED_PARAMETER", "idempotency_key and evidence_text are required."
            )
        if len(text) > TEXT_LIMIT:
            return bad_request(
                "VALUE_TOO_LONG",
                f"evidence_text must be at most {TEXT_LIMIT} characters.",
                field="evidence_text",
            )
        if kind is not None and kind not in EVIDENCE_TYPES:
            return bad_request("INVALID_ENUM_VALUE", f"Unknown evidence_type {kind}.")
        dispute = self._answerable(dispute_id)
        if isinstance(dispute, Response):
            return dispute
        ident = _dispute_id()
        item = {
            "evidence_id": ident,
            "id": ident,
            "dispute_id": dispute_id,
            "evidence_text": text,
            "evidence_type": kind,
            "uploaded_at": self.now(),  # type: ignore[attr-defined]
        }
        self.evidence[dispute_id].append(item)
        dispute["evidence_ids"].append(ident)
        return Response(200, {"evidence": item})

    def submit_evidence(self, dispute_id: str) -> Response:
        dispute = self._answerable(dispute_id)
        if isinstance(dispute, Response):
            return dispute
        if not self.evidence[dispute_id]:
            return bad_request("BAD_REQUEST", "The dispute has no evidence to submit.")
        inquiry = dispute["state"].startswith("INQUIRY")
        self._changed(dispute, "INQUIRY_PROCESSING" if inquiry else "PROCESSING")
        reply = Response(200, {"dispute": dict(dispute)})
        outcome = verdict(" ".join(e["evidence_text"] for e in self.evidence[dispute_id]))
        if outcome is not None:
            self._decide(dispute, outcome)
        return reply

    def accept(self, dispute_id: str) -> Response:
        dispute = self.disputes.get(dispute_id)
        if dispute is None:
            return not_found("Dispute")
        if dispute["state"] not in _OPEN:
            return bad_request("BAD_REQUEST", f"The dispute is {dispute['state']}.")
        self._changed(dispute, "ACCEPTED")
        return Response(200, {"dispute": dict(dispute)})

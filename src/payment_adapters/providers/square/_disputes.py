"""Square's disputes: ``dispute.created`` and ``dispute.state.updated`` read as the core reads
disputes, and the answer: ``POST /v2/disputes/{id}/evidence-text`` per piece of text, then
``POST /v2/disputes/{id}/submit-evidence``.

- States: ``EVIDENCE_REQUIRED`` needs a response, ``PROCESSING`` is under review, ``WON`` won,
  ``LOST`` and ``ACCEPTED`` lost; their ``INQUIRY_*`` twins (``INQUIRY_CLOSED`` is won) are an
  inquiry. The dispute sits under the event's ``data.object.object``.
- Money: Square sends no funds event; a chargeback (not an inquiry) holds the disputed amount
  from its creation, and a won one gives it back (which the core records from the outcome).
- Evidence text is at most 500 characters a piece: a longer field goes as several pieces,
  each with a key derived from the submission's and the piece's place, so a retry adds
  nothing twice.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Mapping
from typing import TYPE_CHECKING, Any, Final

from payment_adapters.providers._common import expect_dispute, labelled_evidence, parse_rfc3339
from payment_adapters.providers.square._transformers import error_from, square_key, square_money
from payment_core.model.dispute import DisputeStatus
from payment_core.ports import (
    FundsMovement,
    ProviderDispute,
    RetrieveDisputeRequest,
    SubmitDisputeEvidenceRequest,
    WebhookEvent,
    WebhookKind,
)
from payment_core.webhook_json import Envelope, provider_id

if TYPE_CHECKING:
    from payment_adapters.providers._common import Redactor
    from payment_adapters.providers._http import HttpReply

__all__ = ["SquareDisputes", "dispute_of", "evidence_pieces", "translate_dispute"]

DISPUTE_EVENT_TYPES: Final = frozenset({"dispute.created", "dispute.state.updated"})
#: Square's state -> ours, and whether it is an inquiry.
_STATES: Final[Mapping[str, tuple[DisputeStatus, bool]]] = {
    "INQUIRY_EVIDENCE_REQUIRED": (DisputeStatus.NEEDS_RESPONSE, True),
    "INQUIRY_PROCESSING": (DisputeStatus.UNDER_REVIEW, True),
    "INQUIRY_CLOSED": (DisputeStatus.WON, True),
    "EVIDENCE_REQUIRED": (DisputeStatus.NEEDS_RESPONSE, False),
    "PROCESSING": (DisputeStatus.UNDER_REVIEW, False),
    "WON": (DisputeStatus.WON, False),
    "LOST": (DisputeStatus.LOST, False),
    "ACCEPTED": (DisputeStatus.LOST, False),
}
_EVIDENCE_TYPES: Final[Mapping[str, str]] = {
    "service_date": "SERVICE_RECEIVED_DOCUMENTATION",
    "cancellation_policy": "CANCELLATION_OR_REFUND_DOCUMENTATION",
    "receipt": "RECEIPT",
    "customer_email_address": "CARDHOLDER_INFORMATION",
    "customer_name": "CARDHOLDER_INFORMATION",
    "billing_address": "CARDHOLDER_INFORMATION",
    "product_description": "PRODUCT_OR_SERVICE_DESCRIPTION",
    "cancellation_rebuttal": "REBUTTAL_EXPLANATION",
    "refund_refusal_explanation": "REBUTTAL_EXPLANATION",
}
_PIECE: Final = 500


def dispute_of(obj: Mapping[str, Any]) -> ProviderDispute | None:
    """A Square Dispute as ours; ``None`` without an id or with a state we do not know."""
    ident = provider_id(obj.get("id") or obj.get("dispute_id"))
    mapped = _STATES.get(str(obj.get("state")))
    if ident is None or mapped is None:
        return None
    status, inquiry = mapped
    disputed = obj.get("disputed_payment")
    payment = disputed.get("payment_id") if isinstance(disputed, dict) else None
    held = not inquiry and status in (DisputeStatus.NEEDS_RESPONSE, DisputeStatus.UNDER_REVIEW)
    return ProviderDispute(
        provider_dispute_id=ident,
        status=status,
        provider_payment_id=provider_id(payment),
        amount=square_money(obj.get("amount_money")),
        reason=obj.get("reason"),
        inquiry=inquiry,
        evidence_due_by=parse_rfc3339(obj.get("due_at")),
        funds=FundsMovement.WITHDRAWN if held else None,
    )


def translate_dispute(envelope: Envelope) -> WebhookEvent | None:
    """A ``dispute.*`` event; ``None`` for other types."""
    if envelope.type not in DISPUTE_EVENT_TYPES:
        return None
    inner = envelope.subject.get("object")
    dispute = dispute_of(inner) if isinstance(inner, dict) else None
    if dispute is None:
        return envelope.ignored()
    return envelope.event(
        WebhookKind.DISPUTE,
        provider_payment_id=dispute.provider_payment_id,
        amount=dispute.amount,
        dispute=dispute,
    )


def evidence_pieces(evidence: Mapping[str, str]) -> list[tuple[str, str]]:
    """Our evidence as Square's ``(evidence_type, evidence_text)`` pieces, in a stable order."""
    pieces = []
    for name in sorted(evidence):
        text = labelled_evidence(name, evidence[name])
        kind = _EVIDENCE_TYPES.get(name, "GENERIC_EVIDENCE")
        pieces += [(kind, text[i : i + _PIECE]) for i in range(0, len(text), _PIECE)]
    return pieces


class SquareDisputes:
    """Answering Square's disputes (a part of ``SquareProvider``)."""

    _redactor: Redactor
    _send: Callable[..., Awaitable[HttpReply]]
    _call: Callable[[str, Callable[[], Awaitable[Any]]], Awaitable[Any]]

    async def _dispute_call(
        self, operation: str, method: str, path: str, body: object | None = None
    ) -> Mapping[str, Any]:
        async def attempt() -> Mapping[str, Any]:
            reply = await self._send(method, path, json_body=body)
            if not reply.ok:
                raise error_from(reply, self._redactor)
            return reply.object()

        result: Mapping[str, Any] = await self._call(operation, attempt)
        return result

    async def submit_dispute_evidence(
        self, request: SubmitDisputeEvidenceRequest
    ) -> ProviderDispute:
        dispute_id = request.provider_dispute_id
        base = f"/v2/disputes/{dispute_id}"
        for place, (kind, text) in enumerate(evidence_pieces(request.evidence)):
            body = {
                "idempotency_key": square_key(f"{request.idempotency_key}-{place}"),
                "evidence_type": kind,
                "evidence_text": text,
            }
            await self._dispute_call(
                "submit_dispute_evidence", "POST", f"{base}/evidence-text", body
            )
        reply = await self._dispute_call(
            "submit_dispute_evidence", "POST", f"{base}/submit-evidence"
        )
        return _reply(reply, dispute_id)

    async def retrieve_dispute(self, request: RetrieveDisputeRequest) -> ProviderDispute:
        dispute_id = request.provider_dispute_id
        reply = await self._dispute_call("retrieve_dispute", "GET", f"/v2/disputes/{dispute_id}")
        return _reply(reply, dispute_id)


def _reply(body: Mapping[str, Any], expected_id: str) -> ProviderDispute:
    obj = body.get("dispute")
    return expect_dispute(dispute_of(obj) if isinstance(obj, dict) else None, expected_id, "Square")

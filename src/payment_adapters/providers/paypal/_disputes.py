"""PayPal's disputes: ``CUSTOMER.DISPUTE.CREATED|UPDATED|RESOLVED`` read as the core reads
disputes, and the answer through the Disputes v1 API (not in PayPal's server SDK: its OpenAPI
document ``customer_disputes_v1.json``).

- States: ``WAITING_FOR_SELLER_RESPONSE`` and ``OPEN`` need a response; ``UNDER_REVIEW``,
  ``WAITING_FOR_BUYER_RESPONSE`` and ``OTHER`` are under review; ``RESOLVED`` is won or lost
  by its ``dispute_outcome.outcome_code`` (an outcome not known as ours is lost, as the money
  is then gone). Stage ``INQUIRY`` is an inquiry.
- Money: the seller's ``DEBIT`` and ``CREDIT`` entries of ``money_movements``.
- The dispute names the capture (``disputed_transactions[].seller_transaction_id``), while we
  keep the order's id; it finds our payment by our id, which the order carries as
  ``custom_id`` and the dispute echoes as ``custom`` (only a PayPal payment of ours).
- The answer is ``POST /v1/customer/disputes/{id}/provide-evidence``, ``multipart/form-data``
  with the evidence as a JSON part named ``input``: one ``evidences[]`` item per field, its
  ``notes`` at most 2,000 characters. There is no staging: the call is the submission, so the
  evidence stays ours until the operator submits.
"""

from __future__ import annotations

import json
from collections.abc import Awaitable, Callable, Mapping
from typing import TYPE_CHECKING, Any, Final

from payment_adapters.providers._common import (
    expect_dispute,
    labelled_evidence,
    parse_rfc3339,
    parse_uuid,
)
from payment_adapters.providers.paypal._transformers import paypal_money
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
    from payment_adapters.providers._http import HttpReply, JsonHttp
    from payment_adapters.providers.paypal._auth import AccessTokens

__all__ = ["DISPUTE_EVENT_TYPES", "PayPalDisputes", "dispute_of", "evidences", "translate_dispute"]


DISPUTE_EVENT_TYPES: Final = frozenset(
    {"CUSTOMER.DISPUTE.CREATED", "CUSTOMER.DISPUTE.UPDATED", "CUSTOMER.DISPUTE.RESOLVED"}
)
_OPEN: Final[Mapping[str, DisputeStatus]] = {
    "OPEN": DisputeStatus.NEEDS_RESPONSE,
    "WAITING_FOR_SELLER_RESPONSE": DisputeStatus.NEEDS_RESPONSE,
    "UNDER_REVIEW": DisputeStatus.UNDER_REVIEW,
    "WAITING_FOR_BUYER_RESPONSE": DisputeStatus.UNDER_REVIEW,
    "OTHER": DisputeStatus.UNDER_REVIEW,
}
_WON: Final = frozenset(
    {"RESOLVED_SELLER_FAVOUR", "CANCELED_BY_BUYER", "DENIED", "RESOLVED_WITH_PAYOUT"}
)
#: Our evidence fields as PayPal's evidence types (its notes carry the text).
_EVIDENCE_TYPES: Final[Mapping[str, str]] = {
    "service_date": "ORDER_DETAILS",
    "cancellation_policy": "RETURN_POLICY",
    "receipt": "PROOF_OF_RECEIPT_COPY",
    "product_description": "ITEM_DESCRIPTION",
}
_NOTES_LIMIT: Final = 2000


def dispute_of(resource: Mapping[str, Any]) -> ProviderDispute | None:
    """A PayPal dispute as ours; ``None`` without an id or with a state we do not know."""
    ident = provider_id(resource.get("dispute_id"))
    status_text = str(resource.get("status"))
    if status_text == "RESOLVED":
        outcome = resource.get("dispute_outcome")
        code = outcome.get("outcome_code") if isinstance(outcome, dict) else None
        status: DisputeStatus | None = DisputeStatus.WON if code in _WON else DisputeStatus.LOST
    else:
        status = _OPEN.get(status_text)
    if ident is None or status is None:
        return None
    transactions = resource.get("disputed_transactions")
    first = transactions[0] if isinstance(transactions, list) and transactions else {}
    first = first if isinstance(first, dict) else {}
    return ProviderDispute(
        provider_dispute_id=ident,
        status=status,
        payment_id=parse_uuid(first.get("custom")),
        amount=paypal_money(resource.get("dispute_amount")),
        reason=resource.get("reason"),
        inquiry=resource.get("dispute_life_cycle_stage") == "INQUIRY",
        evidence_due_by=parse_rfc3339(resource.get("seller_response_due_date")),
        funds=_funds(resource.get("money_movements")),
    )


def _funds(movements: object) -> FundsMovement | None:
    """Where the seller's money stands after the dispute's movements."""
    if not isinstance(movements, list):
        return None
    debits = credits = 0
    for movement in movements:
        if isinstance(movement, dict) and movement.get("affected_party", "SELLER") == "SELLER":
            debits += movement.get("type") == "DEBIT"
            credits += movement.get("type") == "CREDIT"
    if debits > credits:
        return FundsMovement.WITHDRAWN
    if debits and credits >= debits:
        return FundsMovement.REINSTATED
    return None


def translate_dispute(envelope: Envelope) -> WebhookEvent | None:
    """A ``CUSTOMER.DISPUTE.*`` event; ``None`` for other types."""
    if envelope.type not in DISPUTE_EVENT_TYPES:
        return None
    dispute = dispute_of(envelope.subject)
    if dispute is None:
        return envelope.ignored()
    return envelope.event(WebhookKind.DISPUTE, amount=dispute.amount, dispute=dispute)


def evidences(evidence: Mapping[str, str]) -> list[dict[str, str]]:
    """Our evidence as PayPal's ``evidences[]``: one item per field, its notes the text."""
    items = []
    for name in sorted(evidence):
        notes = labelled_evidence(name, evidence[name])
        items.append(
            {"evidence_type": _EVIDENCE_TYPES.get(name, "OTHER"), "notes": notes[:_NOTES_LIMIT]}
        )
    return items


class PayPalDisputes:
    """Answering PayPal's disputes (a part of ``PayPalProvider``)."""

    _http: JsonHttp
    _tokens: AccessTokens
    _call: Callable[[str, Callable[[], Awaitable[Any]]], Awaitable[Any]]
    _error: Callable[[HttpReply], Exception]

    async def submit_dispute_evidence(
        self, request: SubmitDisputeEvidenceRequest
    ) -> ProviderDispute:
        dispute_id = request.provider_dispute_id
        part = json.dumps({"evidences": evidences(request.evidence)}).encode()

        async def attempt() -> None:
            token = await self._tokens.get()
            reply = await self._http.request(
                "POST",
                f"/v1/customer/disputes/{dispute_id}/provide-evidence",
                headers={
                    "Authorization": f"Bearer {token}",
                    "PayPal-Request-Id": request.idempotency_key,
                },
                files={"input": (None, part, "application/json")},
            )
            if not reply.ok:
                raise self._error(reply)

        await self._call("submit_dispute_evidence", attempt)
        return await self._get_dispute(dispute_id)

    async def retrieve_dispute(self, request: RetrieveDisputeRequest) -> ProviderDispute:
        return await self._get_dispute(request.provider_dispute_id)

    async def _get_dispute(self, dispute_id: str) -> ProviderDispute:
        async def attempt() -> ProviderDispute:
            token = await self._tokens.get()
            reply = await self._http.request(
                "GET",
                f"/v1/customer/disputes/{dispute_id}",
                headers={"Authorization": f"Bearer {token}"},
            )
            if not reply.ok:
                raise self._error(reply)
            return expect_dispute(dispute_of(reply.object()), dispute_id, "PayPal")

        result: ProviderDispute = await self._call("retrieve_dispute", attempt)
        return result

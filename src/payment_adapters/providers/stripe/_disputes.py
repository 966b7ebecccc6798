"""Stripe's disputes: ``charge.dispute.*`` events read as the core reads disputes, and the
answer, ``POST /v1/disputes/{id}`` with ``evidence[…]`` and ``submit=true``.

Our evidence fields are text; Stripe's fields of the same names that take a file upload's id
(``receipt``, ``cancellation_policy``) are never sent text: the policy goes in
``cancellation_policy_disclosure`` and the invoice numbers in ``product_description`` (after
any description given), so that ``uncategorized_text`` is exactly the operator's (Stripe's
test mode reads ``winning_evidence`` / ``losing_evidence`` there).
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Mapping
from typing import TYPE_CHECKING, Any, Final

import attrs

from payment_adapters.providers._common import expect_dispute
from payment_adapters.providers.stripe._transformers import stripe_money
from payment_core import dispute_events
from payment_core.ports import (
    ProviderDispute,
    RetrieveDisputeRequest,
    SubmitDisputeEvidenceRequest,
    WebhookEvent,
)
from payment_core.webhook_json import Envelope

if TYPE_CHECKING:
    import stripe as stripe_sdk

__all__ = ["StripeDisputes", "evidence_params", "translate_dispute"]


#: Our text fields sent under Stripe's name for them (the rest keep their name).
_RENAMED: Final = {"cancellation_policy": "cancellation_policy_disclosure"}
#: Stripe's limit per text field.
_STRIPE_TEXT_LIMIT: Final = 20_000


def translate_dispute(envelope: Envelope) -> WebhookEvent | None:
    """A ``charge.dispute.*`` event (its amount in Stripe's unit); ``None`` for other types."""
    event = dispute_events.translate(envelope)
    if event is None or event.dispute is None:
        return event
    amount = stripe_money(envelope.subject)
    return attrs.evolve(event, amount=amount, dispute=attrs.evolve(event.dispute, amount=amount))


def evidence_params(evidence: Mapping[str, str]) -> dict[str, str]:
    """Our evidence as Stripe's ``evidence[…]`` text fields."""
    params: dict[str, str] = {}
    for name, value in evidence.items():
        if name == "receipt":
            continue
        params[_RENAMED.get(name, name)] = value
    receipt = evidence.get("receipt")
    if receipt:
        described = params.get("product_description")
        text = f"Invoices: {receipt}"
        params["product_description"] = f"{described}\n{text}" if described else text
    return {name: value[:_STRIPE_TEXT_LIMIT] for name, value in params.items()}


class StripeDisputes:
    """Answering Stripe's disputes (a part of ``StripeProvider``)."""

    _client: stripe_sdk.StripeClient
    _call: Callable[[str, Callable[[], Awaitable[Any]]], Awaitable[Any]]

    async def submit_dispute_evidence(
        self, request: SubmitDisputeEvidenceRequest
    ) -> ProviderDispute:
        params: dict[str, Any] = {
            "evidence": evidence_params(request.evidence),
            "submit": True,
            "metadata": {"dispute_id": str(request.dispute_id)},
        }
        dispute_id = request.provider_dispute_id
        dispute = await self._call(
            "submit_dispute_evidence",
            lambda: self._client.v1.disputes.update_async(
                dispute_id,
                params,  # type: ignore[arg-type]
                {"idempotency_key": request.idempotency_key},
            ),
        )
        return _reply(dispute.to_dict(), dispute_id)

    async def retrieve_dispute(self, request: RetrieveDisputeRequest) -> ProviderDispute:
        dispute_id = request.provider_dispute_id
        dispute = await self._call(
            "retrieve_dispute", lambda: self._client.v1.disputes.retrieve_async(dispute_id)
        )
        return _reply(dispute.to_dict(), dispute_id)


def _reply(obj: Mapping[str, Any], expected_id: str) -> ProviderDispute:
    """Stripe's Dispute as ours; another dispute, or a status we do not know, is refused."""
    found = expect_dispute(dispute_events.dispute_from_object(obj), expected_id, "Stripe")
    return attrs.evolve(found, amount=stripe_money(obj))

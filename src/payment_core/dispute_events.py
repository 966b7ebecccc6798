"""Dispute events in Stripe's shape (``charge.dispute.*``, ``data.object`` a Dispute), read
into a :class:`~payment_core.ports.WebhookEvent` of kind ``DISPUTE``.

The wire contract gives this shape to the fake provider's webhooks, and the Stripe adapter
reads Stripe's own with it, as :mod:`payment_core.intent_events` does for payments. Stripe's
statuses map onto ours as ``docs/disputes.md`` tells: the ``warning_*`` ones are inquiries;
``prevented`` is lost (the money went back to the cardholder).
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any, Final

from payment_core.intent_events import object_money, unix_time
from payment_core.model.dispute import DisputeStatus
from payment_core.ports import FundsMovement, ProviderDispute, WebhookEvent, WebhookKind
from payment_core.webhook_json import Envelope, provider_id

__all__ = ["DISPUTE_EVENT_TYPES", "STRIPE_DISPUTE_STATUS", "dispute_from_object", "translate"]

DISPUTE_EVENT_TYPES: Final[Mapping[str, FundsMovement | None]] = {
    "charge.dispute.created": None,
    "charge.dispute.updated": None,
    "charge.dispute.closed": None,
    "charge.dispute.funds_withdrawn": FundsMovement.WITHDRAWN,
    "charge.dispute.funds_reinstated": FundsMovement.REINSTATED,
}

#: Stripe's status -> ours, and whether it is an inquiry (a warning: no money moved).
STRIPE_DISPUTE_STATUS: Final[Mapping[str, tuple[DisputeStatus, bool]]] = {
    "warning_needs_response": (DisputeStatus.NEEDS_RESPONSE, True),
    "warning_under_review": (DisputeStatus.UNDER_REVIEW, True),
    "warning_closed": (DisputeStatus.WON, True),
    "needs_response": (DisputeStatus.NEEDS_RESPONSE, False),
    "under_review": (DisputeStatus.UNDER_REVIEW, False),
    "appeal_needs_response": (DisputeStatus.NEEDS_RESPONSE, False),
    "appeal_under_review": (DisputeStatus.UNDER_REVIEW, False),
    "won": (DisputeStatus.WON, False),
    "lost": (DisputeStatus.LOST, False),
    "prevented": (DisputeStatus.LOST, False),
}


def dispute_from_object(
    obj: Mapping[str, Any], funds: FundsMovement | None = None
) -> ProviderDispute | None:
    """A Stripe-shaped Dispute object as a :class:`ProviderDispute`; ``None`` when it has no
    id or a status we do not know (nothing is guessed)."""
    ident = provider_id(obj.get("id"))
    mapped = STRIPE_DISPUTE_STATUS.get(str(obj.get("status")))
    if ident is None or mapped is None:
        return None
    status, inquiry = mapped
    intent = obj.get("payment_intent")
    if isinstance(intent, dict):  # expanded
        intent = intent.get("id")
    details = obj.get("evidence_details")
    due = details.get("due_by") if isinstance(details, dict) else None
    return ProviderDispute(
        provider_dispute_id=ident,
        status=status,
        provider_payment_id=provider_id(intent),
        amount=object_money(obj),
        reason=obj.get("reason"),
        inquiry=inquiry,
        evidence_due_by=unix_time(due),
        funds=funds,
    )


def translate(envelope: Envelope) -> WebhookEvent | None:
    """A ``charge.dispute.*`` event as a ``DISPUTE`` event (``IGNORED`` when its object is
    not a dispute we can read); ``None`` for any other type."""
    if envelope.type not in DISPUTE_EVENT_TYPES:
        return None
    dispute = dispute_from_object(envelope.subject, DISPUTE_EVENT_TYPES[envelope.type])
    if dispute is None:
        return envelope.ignored()
    return envelope.event(
        WebhookKind.DISPUTE,
        provider_payment_id=dispute.provider_payment_id,
        amount=dispute.amount,
        dispute=dispute,
    )

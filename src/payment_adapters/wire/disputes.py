"""Disputes: their view, declared once and built once (the HTTP answer and the ``data`` of
``dispute.created`` and ``dispute.closed``)."""

from __future__ import annotations

from typing import Literal

from typing_extensions import TypedDict

from payment_adapters.wire._common import Id, Timestamp, rfc3339
from payment_core.model.dispute import Dispute

__all__ = ["DisputeView", "dispute_view"]


class DisputeView(TypedDict):
    """A dispute (chargeback) of a payment."""

    id: Id
    payment_id: Id
    booking_id: Id
    provider: str
    provider_dispute_id: str
    amount: int
    currency: str
    reason: str
    status: Literal["NEEDS_RESPONSE", "UNDER_REVIEW", "WON", "LOST"]
    #: An inquiry (a warning before a chargeback): no money has moved.
    inquiry: bool
    evidence_due_by: Timestamp | None
    evidence: dict[str, str]
    evidence_submitted_at: Timestamp | None
    funds_withdrawn: bool
    closed_at: Timestamp | None
    created_at: Timestamp
    updated_at: Timestamp


def dispute_view(dispute: Dispute) -> DisputeView:
    return {
        "id": str(dispute.id),
        "payment_id": str(dispute.payment_id),
        "booking_id": str(dispute.booking_id),
        "provider": dispute.provider,
        "provider_dispute_id": dispute.provider_dispute_id,
        "amount": dispute.amount.amount,
        "currency": dispute.amount.currency.code,
        "reason": dispute.reason,
        "status": dispute.status.value,
        "inquiry": dispute.inquiry,
        "evidence_due_by": rfc3339(dispute.evidence_due_by),
        "evidence": dict(sorted(dispute.evidence.items())),
        "evidence_submitted_at": rfc3339(dispute.evidence_submitted_at),
        "funds_withdrawn": dispute.funds_withdrawn,
        "closed_at": rfc3339(dispute.closed_at),
        "created_at": rfc3339(dispute.created_at),
        "updated_at": rfc3339(dispute.updated_at),
    }

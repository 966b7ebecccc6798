"""The errors of disputes (kept apart from :mod:`payment_core.errors`, which they extend).

``payment_http`` maps each to a status and its stable ``code``, as it does the others.
"""

from __future__ import annotations

from typing import ClassVar
from uuid import UUID

import attrs

from payment_core.errors import PaymentError

__all__ = ["DisputeEvidenceClosedError", "PaymentDisputedError"]


@attrs.frozen(auto_exc=True)
class PaymentDisputedError(PaymentError):
    """A refund of a payment whose dispute is open: the bank is taking the money back already,
    and a refund as well would pay the guest twice."""

    code: ClassVar[str] = "payment_disputed"
    payment_id: UUID
    amount_disputed: int

    def describe(self) -> str:
        return (
            f"payment {self.payment_id} has an open dispute over {self.amount_disputed}; "
            "it cannot be refunded until the dispute closes"
        )


@attrs.frozen(auto_exc=True)
class DisputeEvidenceClosedError(PaymentError):
    """Evidence for a dispute that takes none any more: submitted already (or being
    submitted), past its deadline, or closed."""

    code: ClassVar[str] = "dispute_evidence_closed"
    dispute_id: UUID
    #: ``submitted``, ``submitting``, ``past_due`` or ``closed``.
    reason: str

    def describe(self) -> str:
        return f"dispute {self.dispute_id} takes no evidence: {self.reason.replace('_', ' ')}"

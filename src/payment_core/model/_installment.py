"""One installment of a payment plan: frozen, replaced by the plan as it moves."""

from __future__ import annotations

from datetime import datetime
from uuid import UUID

import attrs

from payment_core.model._plan_status import InstallmentKind, InstallmentStatus
from payment_core.money import Money

__all__ = ["Installment"]

_OPEN = frozenset(
    {InstallmentStatus.SCHEDULED, InstallmentStatus.PROCESSING, InstallmentStatus.FAILED}
)


@attrs.frozen(slots=True)
class Installment:
    """One charge of a plan. Frozen: the plan replaces it as it moves."""

    id: UUID
    kind: InstallmentKind
    amount: Money
    due_at: datetime
    status: InstallmentStatus = InstallmentStatus.SCHEDULED
    #: The payment of the latest attempt.
    payment_id: UUID | None = None
    attempts: int = 0
    #: When a failed installment is tried again (``None``: it is not, by itself).
    next_attempt_at: datetime | None = None
    failure_code: str | None = None
    #: Until when the worker charging it holds it (``PROCESSING`` only).
    claimed_until: datetime | None = None
    paid_at: datetime | None = None

    @property
    def is_open(self) -> bool:
        """Not paid and not cancelled: it may still be charged."""
        return self.status in _OPEN

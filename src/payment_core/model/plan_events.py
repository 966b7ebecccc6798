"""The payment plan's events, beside the aggregate whose snapshot they carry
(payment_core.events gathers every event)."""

from __future__ import annotations

from datetime import datetime
from typing import TYPE_CHECKING, ClassVar
from uuid import UUID

import attrs

if TYPE_CHECKING:
    from payment_core.model.plan import PaymentPlan

__all__ = [
    "PaymentPlanCancelled",
    "PaymentPlanCreated",
    "PaymentPlanDefaulted",
    "PaymentPlanEvent",
    "PaymentPlanInstallmentFailed",
    "PaymentPlanInstallmentPaid",
    "PaymentPlanPaid",
]


@attrs.frozen(slots=True)
class PaymentPlanEvent:
    """Something happened to a plan; ``plan`` is its snapshot at that moment."""

    type: ClassVar[str]
    event_id: UUID
    occurred_at: datetime
    plan: PaymentPlan = attrs.field(repr=False)

    @property
    def stream_id(self) -> UUID:
        """A plan's events are published in commit order."""
        return self.plan.id


@attrs.frozen(slots=True)
class PaymentPlanCreated(PaymentPlanEvent):
    type: ClassVar[str] = "payment_plan.created"


@attrs.frozen(slots=True)
class PaymentPlanInstallmentPaid(PaymentPlanEvent):
    type: ClassVar[str] = "payment_plan.installment_paid"


@attrs.frozen(slots=True)
class PaymentPlanInstallmentFailed(PaymentPlanEvent):
    type: ClassVar[str] = "payment_plan.installment_failed"


@attrs.frozen(slots=True)
class PaymentPlanPaid(PaymentPlanEvent):
    type: ClassVar[str] = "payment_plan.paid"


@attrs.frozen(slots=True)
class PaymentPlanDefaulted(PaymentPlanEvent):
    type: ClassVar[str] = "payment_plan.defaulted"


@attrs.frozen(slots=True)
class PaymentPlanCancelled(PaymentPlanEvent):
    type: ClassVar[str] = "payment_plan.cancelled"

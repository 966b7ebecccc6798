"""Payment plans: their view, declared once and built once (the HTTP response and the
``data`` of every ``payment_plan.*`` event).

The token the deposit was charged with is never shown; the saved card is named by
``payment_method_id``. ``cancellation`` keeps the decision's reasoning (``explanation``).
"""

from __future__ import annotations

from typing import Literal
from uuid import UUID

from typing_extensions import TypedDict

from payment_adapters.wire._common import Id, Timestamp, rfc3339
from payment_core.model.plan import PaymentPlan

__all__ = [
    "CancellationPolicyView",
    "CancellationTierView",
    "CancellationView",
    "InstallmentView",
    "PaymentPlanView",
    "payment_plan_view",
]


class CancellationTierView(TypedDict):
    days_before_check_in: int
    refund_bps: int


class CancellationPolicyView(TypedDict):
    tiers: list[CancellationTierView]
    no_show_fee_bps: int


class InstallmentView(TypedDict):
    id: Id
    kind: Literal["DEPOSIT", "BALANCE", "NO_SHOW_FEE"]
    amount: int
    due_at: Timestamp
    status: Literal["SCHEDULED", "PROCESSING", "PAID", "FAILED", "CANCELLED"]
    payment_id: Id | None
    attempts: int
    next_attempt_at: Timestamp | None
    failure_code: str | None


class CancellationView(TypedDict):
    cancelled_at: Timestamp
    days_before_check_in: int
    refund_bps: int
    amount_retained: int
    amount_refunded: int
    tier: CancellationTierView | None
    explanation: str
    reason: str | None


class PaymentPlanView(TypedDict):
    """A payment plan with its installments and, once cancelled, its decided cancellation."""

    id: Id
    booking_id: Id
    guest_id: Id
    currency: str
    total_amount: int
    check_in: str
    time_zone: str
    status: Literal["ACTIVE", "PAID", "CANCELLED", "DEFAULTED", "NO_SHOW"]
    payment_method_id: Id | None
    deposit_bps: int
    cancellation_policy: CancellationPolicyView | None
    amount_paid: int
    amount_refunded: int
    installments: list[InstallmentView]
    cancellation: CancellationView | None
    created_at: Timestamp
    updated_at: Timestamp


def payment_plan_view(plan: PaymentPlan) -> PaymentPlanView:
    policy, decision = plan.cancellation_policy, plan.cancellation
    return {
        "id": str(plan.id),
        "booking_id": str(plan.booking_id),
        "guest_id": str(plan.guest_id),
        "currency": plan.currency.code,
        "total_amount": plan.total_amount.amount,
        "check_in": plan.check_in.isoformat(),
        "time_zone": plan.time_zone,
        "status": plan.status.value,
        "payment_method_id": None
        if plan.payment_method_id is None
        else str(plan.payment_method_id),
        "deposit_bps": plan.deposit_bps,
        "cancellation_policy": None
        if policy is None
        else {
            "tiers": [
                {"days_before_check_in": t.days_before_check_in, "refund_bps": t.refund_bps}
                for t in policy.tiers
            ],
            "no_show_fee_bps": policy.no_show_fee_bps,
        },
        "amount_paid": plan.amount_paid,
        "amount_refunded": plan.amount_refunded,
        "installments": [
            {
                "id": str(i.id),
                "kind": i.kind.value,
                "amount": i.amount.amount,
                "due_at": rfc3339(i.due_at),
                "status": i.status.value,
                "payment_id": _id(i.payment_id),
                "attempts": i.attempts,
                "next_attempt_at": rfc3339(i.next_attempt_at),
                "failure_code": i.failure_code,
            }
            for i in plan.installments
        ],
        "cancellation": None
        if decision is None
        else {
            "cancelled_at": rfc3339(decision.cancelled_at),
            "days_before_check_in": decision.days_before_check_in,
            "refund_bps": decision.refund_bps,
            "amount_retained": decision.amount_retained,
            "amount_refunded": decision.amount_refunded,
            "tier": None
            if decision.tier is None
            else {
                "days_before_check_in": decision.tier.days_before_check_in,
                "refund_bps": decision.tier.refund_bps,
            },
            "explanation": decision.explanation,
            "reason": decision.reason,
        },
        "created_at": rfc3339(plan.created_at),
        "updated_at": rfc3339(plan.updated_at),
    }


def _id(value: UUID | None) -> str | None:
    return None if value is None else str(value)

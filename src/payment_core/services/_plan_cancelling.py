"""Cancelling a plan by its policy, and a no-show: each decided and recorded in one
transaction under the plan's row lock, with the refunds it owes opened in the same one."""

from __future__ import annotations

from uuid import UUID

from payment_core.model._cancellation import decide_cancellation, no_show_fee
from payment_core.model.plan import InstallmentKind, InstallmentStatus, PaymentPlan, PlanStatus
from payment_core.model.refund import Refund
from payment_core.money import Money
from payment_core.ports import UnitOfWork
from payment_core.services._deps import Dependencies
from payment_core.services._plan_reads import PLANS
from payment_core.services._plan_refunds import open_owed_refunds

__all__ = ["CANCELLABLE", "cancel_in", "mark_no_show"]

#: Plan states a cancellation applies to (a cancelled or no-show plan is final).
CANCELLABLE = frozenset({PlanStatus.ACTIVE, PlanStatus.PAID, PlanStatus.DEFAULTED})


async def cancel_in(
    deps: Dependencies,
    uow: UnitOfWork,
    plan: PaymentPlan,
    reason: str | None,
    request: UUID | None = None,
) -> list[Refund]:
    """Cancel ``plan`` (locked in ``uow`` by the caller) as its policy decides now, open the
    refunds it owes, and save it; ``InvalidTransitionError`` when it is final already."""
    now = deps.clock.now()
    decision = decide_cancellation(
        plan.cancellation_policy,
        total=plan.total_amount.amount,
        amount_paid=plan.amount_paid,
        check_in=plan.check_in,
        time_zone=plan.time_zone,
        at=now,
        reason=reason,
    )
    plan.cancel(decision, now=now, event_id=deps.ids.new_id(), request=request)
    refunds = await open_owed_refunds(deps, uow, plan)
    await uow.payment_plans.update(plan)
    return refunds


async def mark_no_show(
    deps: Dependencies, plan_id: UUID, request: UUID | None = None
) -> tuple[PaymentPlan, UUID | None]:
    """``-> NO_SHOW`` with its fee installment (due at once; ``None``: no fee to charge).
    ``request`` run again finds the no-show it recorded (and its fee, if still to charge)."""

    async def run() -> tuple[PaymentPlan, UUID | None]:
        async with deps.uow() as uow:
            plan = await PLANS.require(uow, plan_id, lock=True)
            if request is not None and plan.moved_by_request == request:
                unpaid = [
                    i.id
                    for i in plan.installments
                    if i.kind is InstallmentKind.NO_SHOW_FEE
                    and i.status is InstallmentStatus.SCHEDULED
                ]
                return plan, unpaid[0] if unpaid else None
            now = deps.clock.now()
            fee = no_show_fee(
                plan.cancellation_policy,
                total=plan.total_amount.amount,
                amount_paid=plan.amount_paid,
            )
            fee_id = deps.ids.new_id()
            plan.mark_no_show(
                fee=Money(fee, plan.currency) if fee > 0 else None,
                fee_id=fee_id,
                now=now,
                request=request,
            )
            await uow.payment_plans.update(plan)
            await uow.commit()
            return plan, fee_id if fee > 0 else None  # the fee installment, when one is owed

    return await deps.retrying(run)

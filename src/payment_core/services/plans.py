"""Payment plan use cases: create (the deposit charged at once), pay an installment by hand,
cancel by the plan's policy, record a no-show, read plans, and the background work that
charges what falls due (:meth:`PaymentPlanService.run_due`).

Charging is :mod:`._plan_charging`'s (a claim under the plan's version, a payment whose id
derives from the installment and the attempt, then the outcome); deciding a cancellation is
the pure :func:`payment_core.model._cancellation.decide_cancellation`, applied under the
plan's row lock with the refunds it owes (:mod:`._plan_cancelling`).
"""

from __future__ import annotations

import logging
from uuid import UUID

import attrs

from payment_core.errors import ConcurrencyError, IdempotencyKeyReusedError, PaymentError
from payment_core.ids import id_for_request
from payment_core.model.plan import Installment, InstallmentKind, InstallmentStatus, PaymentPlan
from payment_core.model.refund import Refund
from payment_core.money import Money
from payment_core.pagination import Page, PageRequest
from payment_core.services._deps import Dependencies
from payment_core.services._payment_input import check_confirm
from payment_core.services._plan_cancelling import cancel_in, mark_no_show
from payment_core.services._plan_charging import charge_installment
from payment_core.services._plan_input import (
    CheckedPlan,
    CreatePaymentPlan,
    Policy,
    Tier,
    check_plan,
    screen_reason,
)
from payment_core.services._plan_reads import PLANS
from payment_core.services._plan_refunds import process_refunds
from payment_core.services._reads import read
from payment_core.services.payments import PaymentService
from payment_core.services.refunds import RefundService

__all__ = ["CreatePaymentPlan", "PaymentPlanService", "PlanSweepReport", "Policy", "Tier"]

logger = logging.getLogger(__name__)


@attrs.define(slots=True)
class PlanSweepReport:
    """What one run of the plan loop did."""

    attempted: int = 0
    paid: int = 0


def _request(operation: str, idempotency_key: str | None) -> UUID | None:
    return None if idempotency_key is None else id_for_request(operation, idempotency_key)


class PaymentPlanService:
    """Create, pay, cancel and read payment plans; charge what falls due."""

    def __init__(
        self, deps: Dependencies, payments: PaymentService, refunds: RefundService
    ) -> None:
        self._deps = deps
        self._payments = payments
        self._refunds = refunds

    # ------------------------------------------------------------------ queries
    async def get(self, plan_id: UUID) -> PaymentPlan:
        return await PLANS.get(self._deps, plan_id)

    async def list_by_booking(self, booking_id: UUID, page: PageRequest) -> Page[PaymentPlan]:
        return await read(
            self._deps, lambda uow: uow.payment_plans.list_by_booking(booking_id, page)
        )

    # ------------------------------------------------------------------ create
    def validate(self, command: CreatePaymentPlan) -> CheckedPlan:
        """Check a create command completely, before anything happens."""
        return check_plan(self._deps, command)

    def build(self, command: CreatePaymentPlan, plan_id: UUID | None = None) -> PaymentPlan:
        """The new ``ACTIVE`` plan ``command`` makes, not saved (its deposit not charged)."""
        checked = self.validate(command)
        deps = self._deps
        now = deps.clock.now()
        installments = tuple(
            Installment(
                id=deps.ids.new_id(),
                kind=InstallmentKind(planned.kind),
                amount=Money(planned.amount, checked.currency),
                due_at=planned.due_at,
            )
            for planned in checked.schedule
        )
        return PaymentPlan.create(
            id=plan_id or deps.ids.new_id(),
            booking_id=command.booking_id,
            guest_id=command.guest_id,
            total_amount=Money(command.total_amount, checked.currency),
            check_in=command.check_in,
            time_zone=command.time_zone,
            provider=checked.provider,
            installments=installments,
            deposit_bps=command.deposit_bps,
            balance_due_days_before_check_in=command.balance_due_days_before_check_in,
            balance_due_at=command.balance_due_at,
            cancellation_policy=checked.policy,
            payment_method=checked.payment_method,
            now=now,
            event_id=deps.ids.new_id(),
        )

    async def create(
        self, command: CreatePaymentPlan, *, idempotency_key: str | None = None
    ) -> PaymentPlan:
        """Create a plan and charge its deposit at once (on-session, saving the card).

        A declined deposit makes the plan ``DEFAULTED`` at once (the installment says why).
        With ``idempotency_key`` the plan's id derives from it: the same create again returns
        the plan the first made (and finishes charging its deposit if that stopped short);
        the same key for another booking, guest, amount or currency is
        ``IdempotencyKeyReusedError``.
        """
        deps = self._deps
        plan_id = _request("payment_plan.create", idempotency_key)
        plan = self.build(command, plan_id)
        try:
            async with deps.uow() as uow:
                await uow.payment_plans.add(plan)
                await uow.commit()
        except ConcurrencyError:
            if plan_id is None:
                raise
            made = await self.get(plan_id)
            if (made.booking_id, made.guest_id, made.total_amount) != (
                plan.booking_id,
                plan.guest_id,
                plan.total_amount,
            ):
                raise IdempotencyKeyReusedError(key=idempotency_key or "") from None
            plan = made
        return await self.start(plan)

    async def start(self, plan: PaymentPlan) -> PaymentPlan:
        """Charge a saved plan's first installment if it is due and not charged yet."""
        due = plan.due(self._deps.clock.now())
        first = plan.installments[0]
        if first not in due:
            return plan
        return await self._charge(plan.id, first.id, by_schedule=True)

    # ------------------------------------------------------------------ pay
    async def pay_installment(
        self,
        plan_id: UUID,
        installment_id: UUID,
        payment_method: str | None = None,
        *,
        idempotency_key: str | None = None,
    ) -> PaymentPlan:
        """Pay a ``SCHEDULED`` or ``FAILED`` installment now: off-session with the saved card,
        or on-session with ``payment_method``. A ``DEFAULTED`` plan paid in full this way is
        ``PAID`` again. With ``idempotency_key`` the same request again returns the plan."""
        if payment_method is not None:
            check_confirm(payment_method, None)
        return await self._charge(
            plan_id,
            installment_id,
            by_schedule=False,
            payment_method=payment_method,
            request=_request("payment_plan.pay", idempotency_key),
        )

    async def _charge(
        self,
        plan_id: UUID,
        installment_id: UUID,
        *,
        by_schedule: bool,
        payment_method: str | None = None,
        request: UUID | None = None,
    ) -> PaymentPlan:
        return await charge_installment(
            self._deps,
            self._payments,
            self._refunds,
            plan_id,
            installment_id,
            by_schedule=by_schedule,
            payment_method=payment_method,
            request=request,
        )

    # ------------------------------------------------------------------ cancel, no-show
    async def cancel(
        self, plan_id: UUID, reason: str | None = None, *, idempotency_key: str | None = None
    ) -> PaymentPlan:
        """Cancel by the plan's policy (``days_before`` counted in its time zone): unpaid
        installments are cancelled and what the decision gives back is refunded from the
        paid payments, latest first. ``InvalidTransitionError`` for a plan that is final;
        with ``idempotency_key`` the same cancel again returns the plan it cancelled."""
        deps = self._deps
        kept = screen_reason(reason)
        request = _request("payment_plan.cancel", idempotency_key)

        async def run() -> tuple[PaymentPlan, list[Refund]]:
            async with deps.uow() as uow:
                plan = await PLANS.require(uow, plan_id, lock=True)
                if request is not None and plan.moved_by_request == request:
                    return plan, []  # cancelled by this very request
                opened = await cancel_in(deps, uow, plan, kept, request)
                await uow.commit()
                return plan, opened

        plan, opened = await deps.retrying(run)
        await process_refunds(self._refunds, opened)
        return plan  # the refunds it opened are noted on it; processing them leaves it as is

    async def no_show(self, plan_id: UUID, *, idempotency_key: str | None = None) -> PaymentPlan:
        """The guest did not come: unpaid installments are cancelled and the no-show fee
        (what the policy's fee exceeds what was paid) is charged off-session at once. With
        ``idempotency_key`` the same request again returns the plan it moved."""
        plan, fee_id = await mark_no_show(
            self._deps, plan_id, _request("payment_plan.no_show", idempotency_key)
        )
        if fee_id is None:
            return plan
        return await self._charge(plan.id, fee_id, by_schedule=False)

    # ------------------------------------------------------------------ background
    async def run_due(self, limit: int = 100) -> PlanSweepReport:
        """Charge what has fallen due (installments, retries) and take over attempts whose
        worker's claim ran out. Safe with any number of workers."""
        deps = self._deps
        report = PlanSweepReport()
        now = deps.clock.now()
        due = await read(deps, lambda uow: uow.payment_plans.list_due(now, limit))
        for plan in due:
            for item in plan.due(now):
                try:
                    after = await self._charge(plan.id, item.id, by_schedule=True)
                except PaymentError as exc:
                    logger.warning("installment %s of plan %s: %s", item.id, plan.id, exc.code)
                    continue
                report.attempted += 1
                report.paid += after.installment(item.id).status is InstallmentStatus.PAID
        return report

"""Payment plans under random sequences of creates, time passing, payments by hand,
cancellations and no-shows (with provider outages): the money always adds up.

After every step, for every plan: the installments (but a no-show fee) add up to the total;
each installment has at most one completed payment and no more payments than attempts; what
was refunded never exceeds what was paid, and equals what the plan says it refunded; a plan
that is cancelled or a no-show has nothing left to charge by itself; and the decision of a
cancelled plan gives back exactly what was paid beyond what it retains, unless a charge is
still in flight.
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable
from datetime import UTC, datetime, timedelta
from typing import Any, TypeVar
from uuid import UUID, uuid4

from hypothesis import HealthCheck, settings
from hypothesis import strategies as st
from hypothesis.stateful import Bundle, RuleBasedStateMachine, invariant, rule

from payment_core.errors import InvalidTransitionError, ProviderUnavailableError
from payment_core.model.plan import InstallmentKind, InstallmentStatus, PlanStatus
from payment_core.model.refund import RefundStatus
from payment_core.plan_errors import (
    CheckInInPastError,
    DepositTooSmallError,
    InstallmentInProgressError,
)
from payment_core.services import CreatePaymentPlan, Policy, Tier
from payment_core.testing import SettableClock, build_in_memory

T = TypeVar("T")
IS = InstallmentStatus
START = datetime(2026, 12, 6, 8, tzinfo=UTC)
TOKENS = [
    "pm_card_visa",
    "pm_card_offSessionDeclined",
    "pm_card_offSessionAuthRequired",
    "pm_card_chargeDeclined",
]
POLICIES = [
    None,
    Policy((Tier(30, 10_000), Tier(7, 5_000)), 10_000),
    Policy((Tier(14, 8_000),), 2_500),
    Policy((), 0),
]


class PlansMachine(RuleBasedStateMachine):
    plans = Bundle("plans")

    def __init__(self) -> None:
        super().__init__()
        self.loop = asyncio.new_event_loop()
        self.clock = SettableClock(START)
        self.harness = build_in_memory(clock=self.clock)
        self.services = self.harness.services

    def teardown(self) -> None:
        self.loop.close()

    def run(self, coro: Awaitable[T]) -> T:
        return self.loop.run_until_complete(coro)  # type: ignore[arg-type]

    @rule(
        target=plans,
        total=st.integers(1, 10**9),
        deposit_bps=st.integers(0, 10_000),
        days=st.integers(0, 60),
        days_to_check_in=st.integers(0, 120),
        token=st.sampled_from(TOKENS),
        policy=st.sampled_from(POLICIES),
    )
    def create(
        self,
        total: int,
        deposit_bps: int,
        days: int,
        days_to_check_in: int,
        token: str,
        policy: Policy | None,
    ) -> UUID | None:
        today = self.clock.now().date()
        command = CreatePaymentPlan(
            booking_id=uuid4(),
            guest_id=uuid4(),
            currency="EUR",
            total_amount=total,
            check_in=today + timedelta(days=days_to_check_in),
            time_zone="Europe/Lisbon",
            deposit_bps=deposit_bps,
            balance_due_days_before_check_in=days,
            payment_method=token,
            cancellation_policy=policy,
        )
        try:
            return self.run(self.services.plans.create(command)).id
        except (DepositTooSmallError, CheckInInPastError):
            return None

    @rule(hours=st.integers(1, 24 * 20))
    def time_passes(self, hours: int) -> None:
        self.clock.advance(timedelta(hours=hours))
        self.run(self.services.plans.run_due())

    @rule()
    def the_provider_stops_answering_once(self) -> None:
        self.harness.provider.inject_failure(
            "confirm_payment", ProviderUnavailableError(message="timeout"), after_effect=True
        )

    @rule(plan_id=plans, index=st.integers(0, 2), token=st.sampled_from([None, *TOKENS]))
    def pay_by_hand(self, plan_id: UUID | None, index: int, token: str | None) -> None:
        if plan_id is None:
            return
        plan = self.run(self.services.plans.get(plan_id))
        if index >= len(plan.installments):
            return
        try:
            self.run(
                self.services.plans.pay_installment(plan_id, plan.installments[index].id, token)
            )
        except InvalidTransitionError:
            assert plan.installments[index].status not in (IS.SCHEDULED, IS.FAILED) or (
                plan.status not in (PlanStatus.ACTIVE, PlanStatus.DEFAULTED)
            )

    @rule(plan_id=plans)
    def cancel(self, plan_id: UUID | None) -> None:
        if plan_id is None:
            return
        try:
            self.run(self.services.plans.cancel(plan_id))
        except InvalidTransitionError:
            status = self.harness.store.payment_plans[plan_id].status
            assert status in (PlanStatus.CANCELLED, PlanStatus.NO_SHOW)

    @rule(plan_id=plans)
    def no_show(self, plan_id: UUID | None) -> None:
        if plan_id is None:
            return
        try:
            self.run(self.services.plans.no_show(plan_id))
        except InstallmentInProgressError:
            plan = self.harness.store.payment_plans[plan_id]
            assert any(i.status is IS.PROCESSING for i in plan.installments)
        except InvalidTransitionError:
            status = self.harness.store.payment_plans[plan_id].status
            assert status in (PlanStatus.CANCELLED, PlanStatus.NO_SHOW)

    @invariant()
    def the_money_adds_up(self) -> None:
        store = self.harness.store
        by_installment: dict[str, list[Any]] = {}
        for payment in store.payments.values():
            key = payment.metadata.get("installment_id")
            if key is not None:
                by_installment.setdefault(key, []).append(payment)
        for plan in store.payment_plans.values():
            scheduled = [i for i in plan.installments if i.kind is not InstallmentKind.NO_SHOW_FEE]
            assert sum(i.amount.amount for i in scheduled) == plan.total_amount.amount
            for item in plan.installments:
                made = by_installment.get(str(item.id), [])
                assert len(made) <= item.attempts
                completed = [p for p in made if p.status.value == "COMPLETED"]
                assert len(completed) <= 1
                if item.status is IS.PAID:
                    assert [p.id for p in completed] == [item.payment_id]
            refunds = [
                r
                for r in store.refunds.values()
                if r.booking_id == plan.booking_id and r.status is not RefundStatus.FAILED
            ]
            refunded = sum(r.amount.amount for r in refunds)
            assert refunded == plan.amount_refunded
            assert 0 <= plan.amount_refunded <= plan.amount_paid
            if plan.status in (PlanStatus.CANCELLED, PlanStatus.NO_SHOW):
                open_ = [
                    i
                    for i in plan.installments
                    if i.status in (IS.SCHEDULED, IS.FAILED)
                    and i.kind is not InstallmentKind.NO_SHOW_FEE
                ]
                assert open_ == []
            decision = plan.cancellation
            in_flight = any(i.status is IS.PROCESSING for i in plan.installments)
            if decision is not None and not in_flight:
                owed = max(0, plan.amount_paid - decision.amount_retained)
                assert plan.amount_refunded == owed
                assert decision.amount_refunded == plan.amount_refunded


PlansMachine.TestCase.settings = settings(
    parent=settings.default,
    stateful_step_count=30,
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.filter_too_much],
)
TestPlansMachine = PlansMachine.TestCase

"""Payment plans over every backend: the repository's answers, and several workers charging
due balances at once, each installment exactly once (SQLite and PostgreSQL with their own
connections per task, and memory)."""

from __future__ import annotations

import asyncio
from collections import Counter
from datetime import UTC, date, datetime, timedelta
from uuid import uuid4

import pytest

from payment_adapters.console.memory import InMemoryConsoleQueries
from payment_adapters.console.sql import SqlConsoleQueries
from payment_core.errors import ConcurrencyError
from payment_core.model.plan import InstallmentStatus, PlanStatus
from payment_core.pagination import PageRequest
from payment_core.services import (
    CreatePaymentPlan,
    Dependencies,
    Policy,
    ProviderRegistry,
    ServiceConfig,
    Services,
    Tier,
)
from payment_core.system import SystemIds
from payment_core.testing import FakeProvider, SettableClock

START = datetime(2026, 12, 6, 8, tzinfo=UTC)
BALANCE_DUE = datetime(2027, 2, 24, tzinfo=UTC)


def _workers(storage, count: int = 1) -> tuple[list[Services], FakeProvider, SettableClock]:
    clock = SettableClock(START)
    provider = FakeProvider(clock=clock)
    workers = [
        Services.build(
            Dependencies(
                uow=storage.uow,
                providers=ProviderRegistry([provider]),
                clock=clock,
                ids=SystemIds(),
                config=ServiceConfig(default_provider=provider.name),
            )
        )
        for _ in range(count)
    ]
    return workers, provider, clock


def _command(booking_id=None, **overrides) -> CreatePaymentPlan:
    values = {
        "booking_id": booking_id or uuid4(),
        "guest_id": uuid4(),
        "currency": "EUR",
        "total_amount": 100_000,
        "check_in": date(2027, 3, 10),
        "time_zone": "Europe/Lisbon",
        "deposit_bps": 3000,
        "balance_due_days_before_check_in": 14,
        "payment_method": "pm_card_visa",
        "cancellation_policy": Policy((Tier(30, 10_000), Tier(7, 5_000)), 10_000),
    }
    values.update(overrides)
    return CreatePaymentPlan(**values)


def _state(plan):
    return (
        plan.id,
        plan.booking_id,
        plan.guest_id,
        plan.total_amount,
        plan.check_in,
        plan.time_zone,
        plan.status,
        plan.installments,
        plan.cancellation_policy,
        plan.cancellation,
        plan.payment_method,
        plan.payment_method_id,
        plan.amount_refunded,
        plan.deposit_bps,
        plan.balance_due_days_before_check_in,
        plan.balance_due_at,
        plan.created_at,
    )


async def test_a_plan_reads_back_whole_through_its_life(storage):
    [services], _, clock = _workers(storage)
    plan = await services.plans.create(_command())
    async with storage.uow() as uow:
        found = await uow.payment_plans.get(plan.id)
        locked = await uow.payment_plans.get(plan.id, for_update=True)
    assert found is not None
    assert locked is not None
    assert _state(found) == _state(plan)
    assert found.installments[0].status is InstallmentStatus.PAID
    clock.set(datetime(2027, 2, 28, 12, tzinfo=UTC))
    cancelled = await services.plans.cancel(plan.id, reason="a change of plans")
    async with storage.uow() as uow:
        again = await uow.payment_plans.get(plan.id)
    assert again is not None
    assert _state(again) == _state(cancelled)
    assert again.cancellation is not None
    assert again.cancellation.reason == "a change of plans"
    assert again.cancellation.tier == cancelled.cancellation.tier  # type: ignore[union-attr]


async def test_unknown_plan_is_none_and_a_stale_update_conflicts(storage):
    [services], _, _ = _workers(storage)
    async with storage.uow() as uow:
        assert await uow.payment_plans.get(uuid4()) is None
    plan = await services.plans.create(_command())
    async with storage.uow() as uow:
        first = await uow.payment_plans.get(plan.id)
    async with storage.uow() as uow:
        second = await uow.payment_plans.get(plan.id)
    assert first is not None
    assert second is not None

    async def save(plan) -> None:
        # SQL refuses at the update, memory at the commit: the same answer either way.
        async with storage.uow() as uow:
            await uow.payment_plans.update(plan)
            await uow.commit()

    first.amount_refunded = 1
    await save(first)
    second.amount_refunded = 2
    with pytest.raises(ConcurrencyError):
        await save(second)


async def test_plans_of_a_booking_page_oldest_first(storage):
    [services], _, clock = _workers(storage)
    booking = uuid4()
    made = []
    for _ in range(3):
        made.append((await services.plans.create(_command(booking))).id)
        clock.advance(timedelta(seconds=1))
    await services.plans.create(_command())
    async with storage.uow() as uow:
        first = await uow.payment_plans.list_by_booking(booking, PageRequest(limit=2))
        assert first.next_cursor is not None
        rest = await uow.payment_plans.list_by_booking(
            booking, PageRequest.parse(2, first.next_cursor)
        )
    assert [p.id for p in [*first.items, *rest.items]] == made
    assert rest.next_cursor is None


async def test_due_plans_soonest_first_and_only_those_due(storage):
    [services], _, _ = _workers(storage)
    later = await services.plans.create(_command(balance_due_days_before_check_in=7))
    sooner = await services.plans.create(_command())
    await services.plans.create(_command(deposit_bps=10_000))  # paid in full: never due
    async with storage.uow() as uow:
        assert await uow.payment_plans.list_due(BALANCE_DUE - timedelta(microseconds=1), 10) == []
        due = await uow.payment_plans.list_due(BALANCE_DUE + timedelta(days=7), 10)
        one = await uow.payment_plans.list_due(BALANCE_DUE + timedelta(days=7), 1)
    assert [p.id for p in due] == [sooner.id, later.id]
    assert [p.id for p in one] == [sooner.id]


async def test_several_workers_charge_each_due_balance_exactly_once(storage):
    workers, provider, clock = _workers(storage, count=4)
    plans = [await workers[0].plans.create(_command()) for _ in range(6)]
    clock.set(BALANCE_DUE)
    await asyncio.gather(*(w.plans.run_due() for w in workers for _ in range(2)))
    done = [await workers[0].plans.get(p.id) for p in plans]
    assert {p.status for p in done} == {PlanStatus.PAID}
    assert all(p.installments[1].attempts == 1 for p in done)
    # One confirm at the provider per installment: six deposits and six balances.
    confirms = Counter(key for op, key in provider.calls if op == "confirm_payment")
    assert len(confirms) == 12
    assert set(confirms.values()) == {1}


async def test_the_console_lists_plans_in_default_newest_first(storage):
    [services], _, clock = _workers(storage)
    older = await services.plans.create(_command(payment_method="pm_card_chargeDeclined"))
    clock.advance(timedelta(seconds=5))
    newer = await services.plans.create(_command(payment_method="pm_card_chargeDeclined"))
    await services.plans.create(_command())  # ACTIVE: not listed
    console = (
        InMemoryConsoleQueries(storage.store)
        if storage.store is not None
        else SqlConsoleQueries(storage.database)
    )
    listed = await console.defaulted_plans(10)
    assert [p.id for p in listed] == [newer.id, older.id]
    assert {p.failure_code for p in listed} == {"card_declined"}
    assert {(p.amount_paid, p.total_amount, p.currency) for p in listed} == {(0, 100_000, "EUR")}

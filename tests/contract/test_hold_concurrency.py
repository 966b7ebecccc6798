"""Holds under concurrency, over every backend's unit of work (SQLite and PostgreSQL with
their own connections per task, and memory): one capture per hold, one winner between a
capture and a release, never both a capture and an expiry, one warning however many workers
sweep at once."""

from __future__ import annotations

import asyncio
from collections import Counter
from datetime import timedelta
from uuid import uuid4

import pytest

from payment_core.errors import InvalidTransitionError
from payment_core.model.payment import PaymentStatus
from payment_core.pagination import PageRequest
from payment_core.services import (
    CreatePayment,
    Dependencies,
    ProviderRegistry,
    ServiceConfig,
    Services,
)
from payment_core.system import SystemIds
from payment_core.testing import FakeProvider, SettableClock

P = PaymentStatus
WEEK = timedelta(days=7)


def _workers(storage, build, count: int = 1) -> tuple[list[Services], FakeProvider, SettableClock]:
    """``count`` sets of services over the same storage, provider and clock: as many workers."""
    clock = SettableClock(build.T0)
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


async def _hold(services: Services):
    payment = await services.payments.create(
        CreatePayment(
            booking_id=uuid4(),
            guest_id=uuid4(),
            amount=10_000,
            currency="EUR",
            capture_method="manual",
            confirm=True,
        )
    )
    assert payment.status is P.AUTHORIZED
    return payment


def _calls(provider: FakeProvider, operation: str) -> int:
    return sum(1 for name, _ in provider.calls if name == operation)


async def _events(storage, payment_id) -> Counter[str]:
    return Counter(r.type for r in await storage.outbox() if r.stream_id == payment_id)


async def _charges(storage, booking_id) -> list[int]:
    async with storage.uow() as uow:
        page = await uow.billing.list_by_booking(booking_id, PageRequest(limit=50))
    return [r.amount for r in page.items]


async def test_twenty_concurrent_captures_of_one_hold_capture_once(storage, build):
    [services], provider, _ = _workers(storage, build)
    payment = await _hold(services)
    results = await asyncio.gather(
        *(services.payments.capture(payment.id, 6_000) for _ in range(20)),
        return_exceptions=True,
    )
    captured = [r for r in results if not isinstance(r, BaseException)]
    assert len(captured) == 1
    assert all(isinstance(r, InvalidTransitionError) for r in results if r not in captured)
    assert _calls(provider, "capture_payment") == 1
    assert await _charges(storage, payment.booking_id) == [6_000]
    assert (await _events(storage, payment.id))["payment.completed"] == 1
    async with storage.uow() as uow:
        stored = await uow.payments.get(payment.id)
    assert (stored.status, stored.amount_captured, stored.amount_capture_pending) == (
        P.COMPLETED,
        6_000,
        0,
    )


async def test_a_capture_racing_a_release_has_one_winner(storage, build):
    [services], _, _ = _workers(storage, build)
    for _ in range(5):
        payment = await _hold(services)
        capture, release = await asyncio.gather(
            services.payments.capture(payment.id),
            services.payments.cancel(payment.id),
            return_exceptions=True,
        )
        won = [not isinstance(r, BaseException) for r in (capture, release)]
        assert won.count(True) == 1, (capture, release)
        async with storage.uow() as uow:
            stored = await uow.payments.get(payment.id)
        events = await _events(storage, payment.id)
        if won[0]:
            assert stored.status is P.COMPLETED
            assert (events["payment.completed"], events["payment.cancelled"]) == (1, 0)
            assert await _charges(storage, payment.booking_id) == [10_000]
        else:
            assert stored.status is P.CANCELLED
            assert (events["payment.completed"], events["payment.cancelled"]) == (0, 1)
            assert await _charges(storage, payment.booking_id) == []


@pytest.mark.parametrize("at_the_deadline", [True, False])
async def test_expiry_racing_capture_across_workers_never_both(storage, build, at_the_deadline):
    workers, provider, clock = _workers(storage, build, count=3)
    holds = [await _hold(workers[0]) for _ in range(3)]
    clock.advance(WEEK if at_the_deadline else WEEK - timedelta(seconds=1))
    await asyncio.gather(
        *(w.holds.sweep() for w in workers),
        *(workers[n % 3].payments.capture(p.id) for n, p in enumerate(holds * 2)),
        return_exceptions=True,
    )
    for payment in holds:
        events = await _events(storage, payment.id)
        async with storage.uow() as uow:
            stored = await uow.payments.get(payment.id)
        assert not (events["payment.completed"] and events["payment.expired"])
        # Told once at most (a capture that came first at the deadline expired it untold).
        assert events["payment.authorization_expiring"] <= 1
        if at_the_deadline:
            assert (stored.status, events["payment.expired"]) == (P.EXPIRED, 1)
            assert await _charges(storage, payment.booking_id) == []
        else:
            assert (stored.status, events["payment.completed"]) == (P.COMPLETED, 1)
            assert await _charges(storage, payment.booking_id) == [10_000]
    assert _calls(provider, "capture_payment") == (0 if at_the_deadline else len(holds))


async def test_the_warning_is_told_once_however_many_workers_sweep(storage, build):
    workers, _, clock = _workers(storage, build, count=4)
    holds = [await _hold(workers[0]) for _ in range(3)]
    clock.advance(WEEK - timedelta(days=1))
    reports = await asyncio.gather(*(w.holds.sweep() for w in workers for _ in range(2)))
    assert sum(r.warned for r in reports) == len(holds)
    for payment in holds:
        assert (await _events(storage, payment.id))["payment.authorization_expiring"] == 1

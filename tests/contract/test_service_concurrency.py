"""The use cases under concurrency, over every backend's unit of work.

Each task runs a whole use case with its own units of work (its own connection on SQL), all at
once: 32 tasks on PostgreSQL and in memory, 8 on SQLite (one writer at a time there).
"""

from __future__ import annotations

import asyncio
from collections import Counter
from uuid import uuid4

from payment_core.errors import InvalidTransitionError, RefundExceedsRefundableError
from payment_core.model.invoice import LineItem
from payment_core.model.payment import PaymentStatus
from payment_core.model.refund import RefundStatus
from payment_core.pagination import PageRequest
from payment_core.services import (
    CreateInvoice,
    CreatePayment,
    Dependencies,
    ProviderRegistry,
    ServiceConfig,
    Services,
)
from payment_core.system import SystemIds
from payment_core.testing import FakeProvider, SettableClock


def _services(storage, build) -> tuple[Services, FakeProvider]:
    provider = FakeProvider()
    deps = Dependencies(
        uow=storage.uow,
        providers=ProviderRegistry([provider]),
        clock=SettableClock(build.T0),
        ids=SystemIds(),
        config=ServiceConfig(default_provider=provider.name),
    )
    return Services.build(deps), provider


async def _completed_payment(services: Services, amount: int):
    payment = await services.payments.create(
        CreatePayment(
            booking_id=uuid4(),
            guest_id=uuid4(),
            amount=amount,
            currency="EUR",
            description="Suite, 3 nights",
        )
    )
    payment = await services.payments.confirm(payment.id, "pm_card_visa")
    assert payment.status is PaymentStatus.COMPLETED
    return payment


async def _outcomes(coroutines) -> Counter[str]:
    results = await asyncio.gather(*coroutines, return_exceptions=True)
    return Counter(type(r).__name__ if isinstance(r, BaseException) else "ok" for r in results)


async def test_concurrent_refunds_never_exceed_the_payment(storage, build):
    services, _ = _services(storage, build)
    payment = await _completed_payment(services, 10_000)
    fits = storage.tasks // 2
    each = 10_000 // fits  # exactly `fits` refunds fit; the rest must be refused

    outcomes = await _outcomes(
        services.refunds.create(payment.id, each) for _ in range(storage.tasks)
    )

    assert outcomes == {"ok": fits, RefundExceedsRefundableError.__name__: storage.tasks - fits}
    async with storage.uow() as uow:
        stored = await uow.payments.get(payment.id)
        refunds = await uow.refunds.list_by_booking(payment.booking_id)
    assert stored.amount_refunded + stored.amount_refund_pending == each * fits
    assert stored.amount_refunded <= stored.amount.amount
    assert sum(r.amount.amount for r in refunds if r.status is not RefundStatus.FAILED) == (
        each * fits
    )
    assert (await services.billing.verify()).ok


async def test_a_payment_is_confirmed_once_under_concurrent_confirms(storage, build):
    services, provider = _services(storage, build)
    payment = await services.payments.create(
        CreatePayment(booking_id=uuid4(), guest_id=uuid4(), amount=4_200, currency="EUR")
    )

    outcomes = await _outcomes(
        services.payments.confirm(payment.id, "pm_card_visa") for _ in range(storage.tasks)
    )

    assert outcomes == {"ok": 1, InvalidTransitionError.__name__: storage.tasks - 1}
    assert [name for name, _ in provider.calls].count("confirm_payment") == 1
    stored = await services.payments.get(payment.id)
    assert stored.status is PaymentStatus.COMPLETED
    assert [r.type for r in await storage.outbox()] == ["payment.initiated", "payment.completed"]


async def test_invoice_numbers_stay_gap_free_under_concurrent_issuing(storage, build):
    services, _ = _services(storage, build)
    booking, guest = uuid4(), uuid4()  # one booking: their billing records share one chain
    drafts = [
        await services.invoices.create(
            CreateInvoice(
                booking_id=booking,
                guest_id=guest,
                currency="EUR",
                notes="n",
                line_items=[LineItem(description="Room", quantity=1, unit_amount=9_900)],
            )
        )
        for _ in range(storage.tasks)
    ]

    issued = await asyncio.gather(*(services.invoices.issue(d.id) for d in drafts))

    year = build.T0.year
    assert sorted(i.number for i in issued) == [
        f"INV-{year}-{n:06d}" for n in range(1, storage.tasks + 1)
    ]
    verification = await services.billing.verify()
    assert verification.ok
    assert verification.records == storage.tasks


async def test_concurrent_creates_each_commit_with_their_event(storage, build):
    services, _ = _services(storage, build)
    booking = uuid4()

    created = await asyncio.gather(
        *(
            services.payments.create(
                CreatePayment(
                    booking_id=booking,
                    guest_id=uuid4(),
                    amount=100 + n,
                    currency="EUR",
                    metadata={"n": str(n)},
                )
            )
            for n in range(storage.tasks)
        )
    )

    rows = await storage.outbox()
    assert sorted(r.stream_id for r in rows) == sorted(p.id for p in created)
    assert len({r.sequence for r in rows}) == storage.tasks
    page = await services.payments.list_by_booking(booking, PageRequest(limit=200))
    assert {p.metadata["n"] for p in page.items} == {str(n) for n in range(storage.tasks)}

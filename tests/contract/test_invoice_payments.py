"""Invoices paid by one payment from concurrent use cases, over every backend.

The payment's row lock is what keeps them apart: however issues, marks and the payment's own
completion interleave, the invoices never take more than the payment holds, and none of what
it holds is left behind.
"""

from __future__ import annotations

import asyncio
from collections import Counter
from uuid import uuid4

from payment_core.model.invoice import InvoiceStatus, LineItem
from payment_core.model.payment import PaymentStatus
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

PAYMENT = 10_000
EACH = 3_000  # three invoices fit in the payment, the fourth in part, the rest not at all


def _services(storage, build) -> Services:
    provider = FakeProvider()
    deps = Dependencies(
        uow=storage.uow,
        providers=ProviderRegistry([provider]),
        clock=SettableClock(build.T0),
        ids=SystemIds(),
        config=ServiceConfig(default_provider=provider.name),
    )
    return Services.build(deps)


async def _setup(services: Services, count: int, *, completed: bool):
    payment = await services.payments.create(
        CreatePayment(booking_id=uuid4(), guest_id=uuid4(), amount=PAYMENT, currency="EUR")
    )
    if completed:
        payment = await services.payments.confirm(payment.id, "pm_card_visa")
        assert payment.status is PaymentStatus.COMPLETED
    drafts = [
        await services.invoices.create(
            CreateInvoice(
                booking_id=payment.booking_id,
                guest_id=payment.guest_id,
                currency="EUR",
                line_items=[LineItem(description="Room", quantity=1, unit_amount=EACH)],
                payment_id=payment.id,
            )
        )
        for _ in range(count)
    ]
    return payment, drafts


async def _stored(services: Services, drafts):
    return [await services.invoices.get(d.id) for d in drafts]


def _shares(invoices) -> Counter[int]:
    return Counter(i.amount_applied for i in invoices)


async def test_invoices_issued_at_once_share_the_payment_without_overlap(storage, build):
    services = _services(storage, build)
    _, drafts = await _setup(services, storage.tasks, completed=True)

    await asyncio.gather(*(services.invoices.issue(d.id) for d in drafts))

    invoices = await _stored(services, drafts)
    assert sum(i.amount_applied for i in invoices) == PAYMENT
    assert _shares(invoices) == {EACH: 3, PAYMENT - 3 * EACH: 1, 0: storage.tasks - 4}
    assert Counter(i.status for i in invoices) == {
        InvoiceStatus.PAID: 3,
        InvoiceStatus.OPEN: storage.tasks - 3,
    }
    assert all(i.amount_paid == i.amount_applied for i in invoices)


async def test_issuing_while_the_payment_completes_pays_each_share_once(storage, build):
    services = _services(storage, build)
    payment, drafts = await _setup(services, storage.tasks, completed=False)

    await asyncio.gather(
        services.payments.confirm(payment.id, "pm_card_visa"),
        *(services.invoices.issue(d.id) for d in drafts),
    )

    invoices = await _stored(services, drafts)
    # Issued before the completion, an invoice is paid by it; after, on issue: either way
    # the payment pays out exactly what it holds, once.
    assert sum(i.amount_applied for i in invoices) == PAYMENT
    assert _shares(invoices)[EACH] == 3
    assert all(i.status is InvoiceStatus.OPEN for i in invoices if i.amount_applied < EACH)


async def test_marking_paid_while_the_payment_completes_neither_deadlocks_nor_overpays(
    storage, build
):
    services = _services(storage, build)
    payment, drafts = await _setup(services, storage.tasks, completed=False)
    for draft in drafts:
        await services.invoices.issue(draft.id)

    results = await asyncio.wait_for(
        asyncio.gather(
            services.payments.confirm(payment.id, "pm_card_visa"),
            *(services.invoices.mark_paid(d.id) for d in drafts),
            return_exceptions=True,
        ),
        timeout=60,
    )

    assert [r for r in results if isinstance(r, BaseException)] == []
    invoices = await _stored(services, drafts)
    assert all(i.status is InvoiceStatus.PAID for i in invoices)
    assert sum(i.amount_applied for i in invoices) <= PAYMENT
    assert (await services.billing.verify()).ok

"""The unit of work's outbox: events are written with the change that caused them, or not at all."""

from __future__ import annotations

from datetime import timedelta
from uuid import uuid4

import pytest

from payment_core.errors import ConcurrencyError
from payment_core.pagination import PageRequest


async def test_events_reach_the_outbox_only_on_commit(storage, build):
    payment = build.payment()
    event_id = payment.events[0].event_id
    async with storage.uow() as uow:
        await uow.payments.add(payment)
        assert await storage.outbox() == []
        await uow.commit()
    rows = await storage.outbox()
    assert [(r.id, r.type, r.stream_id, r.published) for r in rows] == [
        (event_id, "payment.initiated", payment.id, False)
    ]
    assert payment.events == []  # taken off the aggregate once written


async def test_a_rolled_back_unit_of_work_writes_no_event_and_keeps_them(storage, build):
    payment = build.payment()
    async with storage.uow() as uow:
        await uow.payments.add(payment)
    assert await storage.outbox() == []
    assert [e.type for e in payment.events] == ["payment.initiated"]


async def test_events_of_every_aggregate_are_written_in_order(storage, build):
    payment = build.completed_payment()
    async with storage.uow() as uow:
        await uow.payments.add(payment)
        await uow.commit()
    async with storage.uow() as uow:
        loaded = await uow.payments.get(payment.id, for_update=True)
        refund = build.refund(loaded, amount=300)
        loaded.reserve_refund(now=build.at(5), amount=refund.amount)
        await uow.payments.update(loaded)
        await uow.refunds.add(refund)
        refund.start_attempt(now=build.at(6))
        refund.complete(now=build.at(7), event_id=uuid4(), provider_refund_id="re_1")
        await uow.commit()
    rows = await storage.outbox()
    assert [r.type for r in rows] == ["refund.initiated", "refund.completed"]
    assert [r.stream_id for r in rows] == [payment.id, payment.id]
    assert rows[0].sequence < rows[1].sequence


async def test_an_event_raised_after_update_is_still_collected(storage, build):
    payment = build.payment()
    async with storage.uow() as uow:
        await uow.payments.add(payment)
        await uow.commit()
    async with storage.uow() as uow:
        loaded = await uow.payments.get(payment.id, for_update=True)
        await uow.payments.update(loaded)
        loaded.cancel(now=build.at(1), event_id=uuid4())
        await uow.commit()
    assert [r.type for r in await storage.outbox()] == ["payment.initiated", "payment.cancelled"]


async def test_a_failed_commit_writes_no_event(storage, build):
    payment = build.payment()
    async with storage.uow() as uow:
        await uow.payments.add(payment)
        await uow.commit()
    stale = build.payment(id=payment.id)  # same id: the add conflicts
    with pytest.raises(ConcurrencyError):
        await storage.add(stale)
    assert [r.type for r in await storage.outbox()] == ["payment.initiated"]
    assert [e.type for e in stale.events] == ["payment.initiated"]


async def test_a_unit_of_work_with_nothing_to_do_commits(storage):
    async with storage.uow() as uow:
        await uow.commit()
    async with storage.uow() as uow:
        pass
    assert await storage.outbox() == []


async def test_every_change_of_a_unit_of_work_commits_together(storage, build):
    payment = build.completed_payment()
    invoice = build.invoice(payment_id=payment.id, booking_id=payment.booking_id)
    record = build.record(None, booking_id=payment.booking_id)
    async with storage.uow() as uow:
        await uow.payments.add(payment)
        await uow.invoices.add(invoice)
        await uow.billing.add(record)
        assert await uow.inbox.add("bookings", "evt-1")
        await uow.commit()
    async with storage.uow() as uow:
        assert (await uow.payments.get(payment.id)) is not None
        assert (await uow.invoices.get(invoice.id)) is not None
        assert await uow.billing.head(payment.booking_id) == record
        assert not await uow.inbox.add("bookings", "evt-1")
    assert [r.type for r in await storage.outbox()] == []  # nothing in it raised an event


async def test_a_unit_of_work_commits_once(storage, build):
    async with storage.uow() as uow:
        await uow.payments.add(build.payment())
        await uow.commit()
        with pytest.raises(RuntimeError):
            await uow.commit()
    async with storage.uow() as uow:
        await uow.rollback()
        with pytest.raises(RuntimeError):
            await uow.commit()
    assert len(await storage.outbox()) == 1


async def test_processing_payment_with_reconcile_time_survives_update(storage, build):
    payment = build.payment()
    async with storage.uow() as uow:
        await uow.payments.add(payment)
        await uow.commit()
    async with storage.uow() as uow:
        loaded = await uow.payments.get(payment.id, for_update=True)
        loaded.start_processing(
            now=build.at(1), payment_method="pm_card_visa", reconcile_after=timedelta(seconds=30)
        )
        loaded.schedule_reconciliation(now=build.at(2), after=timedelta(seconds=60))
        await uow.payments.update(loaded)
        await uow.commit()
    async with storage.uow() as uow:
        found = await uow.payments.get(payment.id)
    assert build.state(found) == build.state(loaded)


async def test_a_large_unit_of_work_writes_every_row_and_event(storage, build):
    booking = uuid4()
    payments = [build.payment(booking_id=booking, now=build.at(n)) for n in range(40)]
    records, previous = [], None
    for _ in range(5):
        previous = build.record(previous, booking_id=booking)
        records.append(previous)
    await storage.add(*payments, *records)
    async with storage.uow() as uow:
        page = await uow.payments.list_by_booking(booking, PageRequest(limit=100))
        head = await uow.billing.head(booking)
    assert [p.id for p in page.items] == [p.id for p in payments]
    assert head == records[-1]
    rows = await storage.outbox()
    assert [r.stream_id for r in rows] == [p.id for p in payments]

"""RefundRepository: the same behaviour on every backend."""

from __future__ import annotations

from datetime import timedelta
from uuid import uuid4

import pytest

from payment_core.errors import ConcurrencyError
from payment_core.model.refund import RefundStatus
from payment_core.pagination import Cursor, PageRequest


async def _payment(storage, build):
    payment = build.completed_payment()
    async with storage.uow() as uow:
        await uow.payments.add(payment)
        await uow.commit()
    return payment


async def test_added_refund_reads_back_with_every_field(storage, build):
    payment = await _payment(storage, build)
    refund = build.refund(payment, amount=700)
    refund.start_attempt(now=build.at(1), request=uuid4())
    refund.retry_later(
        now=build.at(2), at=build.at(32), error="unavailable: timeout", definite=True
    )
    refund.provider_refund_id = "re_fake_1"
    async with storage.uow() as uow:
        await uow.refunds.add(refund)
        await uow.commit()
    async with storage.uow() as uow:
        found = await uow.refunds.get(refund.id)
        by_ref = await uow.refunds.get_by_reference(refund.reference)
        by_provider = await uow.refunds.get_by_provider_id("fake", "re_fake_1")
    assert build.state(found) == build.state(refund)
    assert found.key_generation == 1
    assert found.attempts == 1
    assert by_ref.id == refund.id
    assert by_provider.id == refund.id


async def test_unknown_refund_is_none(storage):
    async with storage.uow() as uow:
        assert await uow.refunds.get(uuid4(), for_update=True) is None
        assert await uow.refunds.get_by_reference("re_nothing") is None
        assert await uow.refunds.get_by_provider_id("fake", "re_nothing") is None


async def test_refund_and_payment_change_together_or_not_at_all(storage, build):
    payment = await _payment(storage, build)
    async with storage.uow() as uow:
        loaded = await uow.payments.get(payment.id, for_update=True)
        refund = build.refund(loaded, amount=2_000)
        loaded.reserve_refund(now=build.at(5), amount=refund.amount)
        await uow.payments.update(loaded)
        await uow.refunds.add(refund)
        # no commit
    async with storage.uow() as uow:
        assert await uow.refunds.get(refund.id) is None
        assert (await uow.payments.get(payment.id)).amount_refund_pending == 0

    async with storage.uow() as uow:
        loaded = await uow.payments.get(payment.id, for_update=True)
        loaded.reserve_refund(now=build.at(5), amount=refund.amount)
        await uow.payments.update(loaded)
        await uow.refunds.add(refund)
        await uow.commit()
    async with storage.uow() as uow:
        assert (await uow.refunds.get(refund.id)).status is RefundStatus.PENDING
        assert (await uow.payments.get(payment.id)).amount_refund_pending == 2_000


async def test_stale_refund_update_is_a_concurrency_error(storage, build):
    payment = await _payment(storage, build)
    refund = build.refund(payment)
    async with storage.uow() as uow:
        await uow.refunds.add(refund)
        await uow.commit()
    async with storage.uow() as uow:
        winner = await uow.refunds.get(refund.id)
        winner.start_attempt(now=build.at(1))
        await uow.refunds.update(winner)
        await uow.commit()
    refund.start_attempt(now=build.at(2))  # still at version 0
    with pytest.raises(ConcurrencyError):
        await storage.update(refund)


async def test_payment_pages_and_booking_list(storage, build):
    payment = await _payment(storage, build)
    refunds = [build.refund(payment, amount=100, now=build.at(i % 3)) for i in range(7)]
    other_payment = await _payment(storage, build)
    async with storage.uow() as uow:
        for refund in [*refunds, build.refund(other_payment)]:
            await uow.refunds.add(refund)
        await uow.commit()
    expected = [r.id for r in sorted(refunds, key=lambda r: (r.created_at, r.id))]
    seen, after = [], None
    async with storage.uow() as uow:
        while True:
            page = await uow.refunds.list_by_payment(payment.id, PageRequest(limit=2, after=after))
            seen += [r.id for r in page.items]
            if page.next_cursor is None:
                break
            after = Cursor.decode(page.next_cursor)
        by_booking = await uow.refunds.list_by_booking(payment.booking_id)
    assert seen == expected
    assert [r.id for r in by_booking] == expected


async def test_due_refunds_are_pending_and_due_oldest_first(storage, build):
    payment = await _payment(storage, build)
    due_now = build.refund(payment, now=build.at(10))  # next_retry_at = created
    due_earlier = build.refund(payment, now=build.at(5))
    later = build.refund(payment, now=build.at(100))
    processing = build.refund(payment, now=build.at(1))
    processing.start_attempt(now=build.at(1))
    async with storage.uow() as uow:
        for refund in (due_now, later, processing, due_earlier):
            await uow.refunds.add(refund)
        await uow.commit()
    async with storage.uow() as uow:
        due = await uow.refunds.list_due(build.at(10), 10)
        one = await uow.refunds.list_due(build.at(10), 1)
    assert [r.id for r in due] == [due_earlier.id, due_now.id]
    assert [r.id for r in one] == [due_earlier.id]


async def test_stuck_refunds_are_processing_since_before_the_cutoff(storage, build):
    payment = await _payment(storage, build)
    old, recent, pending = build.refund(payment), build.refund(payment), build.refund(payment)
    old.start_attempt(now=build.at(1))
    recent.start_attempt(now=build.at(500))
    async with storage.uow() as uow:
        for refund in (recent, pending, old):
            await uow.refunds.add(refund)
        await uow.commit()
    async with storage.uow() as uow:
        stuck = await uow.refunds.list_stuck(build.at(1) + timedelta(seconds=300), 10)
        boundary = await uow.refunds.list_stuck(build.at(1), 10)
    assert [r.id for r in stuck] == [old.id]
    assert boundary == []


async def test_stuck_refunds_not_yet_due_for_a_check_are_left_out(storage, build):
    payment = await _payment(storage, build)
    unasked, asked_due, asked_later = (build.refund(payment) for _ in range(3))
    for refund in (unasked, asked_due, asked_later):
        refund.start_attempt(now=build.at(1))
    asked_due.next_retry_at = build.at(400)
    asked_later.next_retry_at = build.at(900)
    async with storage.uow() as uow:
        for refund in (unasked, asked_due, asked_later):
            await uow.refunds.add(refund)
        await uow.commit()
    async with storage.uow() as uow:
        due = await uow.refunds.list_stuck(build.at(600), 10, due_by=build.at(600))
        everything = await uow.refunds.list_stuck(build.at(600), 10)
    assert {r.id for r in due} == {unasked.id, asked_due.id}
    assert {r.id for r in everything} == {unasked.id, asked_due.id, asked_later.id}

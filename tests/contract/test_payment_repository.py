"""PaymentRepository: the same behaviour on every backend."""

from __future__ import annotations

from datetime import timedelta, timezone
from uuid import uuid4

import pytest

from payment_core.errors import ConcurrencyError
from payment_core.model.payment import PaymentStatus
from payment_core.pagination import Cursor, PageRequest


async def test_added_payment_reads_back_with_every_field(storage, build):
    payment = build.completed_payment()
    payment.next_action = build.next_action(type="redirect", url="https://3ds.example/abc")
    payment.reconcile_at = build.at(300)
    payment.reconcile_attempts = 2
    payment.failure_code = "provider_amount_mismatch"
    payment.failure_message = "the provider's reply does not match"
    payment.amount_refunded = 100
    payment.amount_refund_pending = 400
    payment.moved_by_request = uuid4()
    async with storage.uow() as uow:
        await uow.payments.add(payment)
        await uow.commit()

    async with storage.uow() as uow:
        found = await uow.payments.get(payment.id)

    assert found is not None
    assert build.state(found) == build.state(payment)
    assert found.created_at.utcoffset() == timedelta(0)
    assert found.updated_at.microsecond == payment.updated_at.microsecond
    assert found.card == build.card(brand="visa", last4="4242", exp_month=12, exp_year=2034)
    assert found.events == []


async def test_optional_fields_round_trip_as_none(storage, build):
    payment = build.payment(
        client_secret=None,
        description=None,
        metadata={},
        payment_method=None,
        provider_payment_id=None,
    )
    async with storage.uow() as uow:
        await uow.payments.add(payment)
        await uow.commit()
    async with storage.uow() as uow:
        found = await uow.payments.get(payment.id)
    assert found is not None
    assert build.state(found) == build.state(payment)
    assert found.metadata == {}
    assert found.card is None
    assert found.next_action is None


async def test_unknown_payment_is_none(storage):
    async with storage.uow() as uow:
        assert await uow.payments.get(uuid4()) is None
        assert await uow.payments.get(uuid4(), for_update=True) is None
        assert await uow.payments.get_by_reference("pay_nothing") is None
        assert await uow.payments.get_by_provider_id("fake", "pi_nothing") is None


async def test_found_by_reference_and_by_provider_id(storage, build):
    payment = build.payment()
    async with storage.uow() as uow:
        await uow.payments.add(payment)
        await uow.commit()
    async with storage.uow() as uow:
        by_ref = await uow.payments.get_by_reference(payment.reference)
        by_provider = await uow.payments.get_by_provider_id("fake", payment.provider_payment_id)
        other_provider = await uow.payments.get_by_provider_id(
            "stripe", payment.provider_payment_id
        )
    assert by_ref is not None
    assert by_ref.id == payment.id
    assert by_provider is not None
    assert by_provider.id == payment.id
    assert other_provider is None


async def test_update_saves_changes_and_bumps_the_version(storage, build):
    payment = build.payment()
    async with storage.uow() as uow:
        await uow.payments.add(payment)
        await uow.commit()
    async with storage.uow() as uow:
        loaded = await uow.payments.get(payment.id, for_update=True)
        loaded.start_processing(
            now=build.at(10), payment_method="pm_card_visa", reconcile_after=timedelta(minutes=5)
        )
        await uow.payments.update(loaded)
        assert loaded.version == 1
        await uow.commit()
    async with storage.uow() as uow:
        found = await uow.payments.get(payment.id)
    assert found.status is PaymentStatus.PROCESSING
    assert found.version == 1
    assert found.reconcile_at == build.at(10) + timedelta(minutes=5)


async def test_stale_update_is_a_concurrency_error(storage, build):
    payment = build.payment()
    async with storage.uow() as uow:
        await uow.payments.add(payment)
        await uow.commit()
    async with storage.uow() as first_uow:
        first = await first_uow.payments.get(payment.id)
    async with storage.uow() as second_uow:
        second = await second_uow.payments.get(payment.id)
        second.cancel(now=build.at(5), event_id=uuid4())
        await second_uow.payments.update(second)
        await second_uow.commit()

    first.attach_card(now=build.at(6), card=build.card(brand="visa", last4="1111"))
    with pytest.raises(ConcurrencyError):
        await storage.update(first)
    async with storage.uow() as uow:
        found = await uow.payments.get(payment.id)
    assert found.status is PaymentStatus.CANCELLED
    assert found.card is None


async def test_update_of_a_payment_never_added_is_a_concurrency_error(storage, build):
    with pytest.raises(ConcurrencyError):
        await storage.update(build.payment())


async def test_adding_an_existing_id_is_a_concurrency_error(storage, build):
    payment = build.payment()
    async with storage.uow() as uow:
        await uow.payments.add(payment)
        await uow.commit()
    twin = build.payment(id=payment.id)
    with pytest.raises(ConcurrencyError):
        await storage.add(twin)


async def test_a_payment_added_is_visible_in_its_own_unit_of_work(storage, build):
    payment = build.payment()
    async with storage.uow() as uow:
        await uow.payments.add(payment)
        found = await uow.payments.get(payment.id)
        listed = await uow.payments.list_by_booking(payment.booking_id, PageRequest())
    assert found is not None
    assert found.id == payment.id
    assert [p.id for p in listed.items] == [payment.id]


async def test_leaving_without_commit_discards_everything(storage, build):
    payment = build.payment()
    async with storage.uow() as uow:
        await uow.payments.add(payment)
        await uow.billing.add(build.record(None, booking_id=payment.booking_id))
    async with storage.uow() as uow:
        await uow.payments.add(build.payment(booking_id=payment.booking_id))
        await uow.rollback()
    async with storage.uow() as uow:
        assert await uow.payments.get(payment.id) is None
        page = await uow.payments.list_by_booking(payment.booking_id, PageRequest())
        assert page.items == []
        assert await uow.billing.head(payment.booking_id) is None
    assert await storage.outbox() == []


async def test_an_exception_in_the_block_rolls_back(storage, build):
    payment = build.payment()

    async def fail_half_way() -> None:
        async with storage.uow() as uow:
            await uow.payments.add(payment)
            await uow.payments.get(payment.id)  # the insert has reached the database
            raise RuntimeError("boom")

    with pytest.raises(RuntimeError):
        await fail_half_way()
    async with storage.uow() as uow:
        assert await uow.payments.get(payment.id) is None


async def _add_many(storage, payments):
    async with storage.uow() as uow:
        for payment in payments:
            await uow.payments.add(payment)
        await uow.commit()


async def test_booking_pages_are_oldest_first_without_gaps_or_repeats(storage, build):
    booking = uuid4()
    # Same timestamp for several, so the id breaks ties; inserted in shuffled order.
    times = [build.at(s) for s in (5, 1, 3, 3, 3, 0, 9, 7, 1, 2, 3)]
    payments = [build.payment(booking_id=booking, now=when) for when in times]
    other = build.payment()  # another booking's payment never shows up
    await _add_many(storage, [*payments, other])
    expected = [p.id for p in sorted(payments, key=lambda p: (p.created_at, p.id))]

    seen, cursor, pages = [], None, 0
    async with storage.uow() as uow:
        while True:
            after = None if cursor is None else Cursor.decode(cursor)
            page = await uow.payments.list_by_booking(booking, PageRequest(limit=3, after=after))
            pages += 1
            assert len(page.items) <= 3
            seen += [p.id for p in page.items]
            cursor = page.next_cursor
            if cursor is None:
                break
    assert seen == expected
    assert pages == 4  # 11 items by 3: the last page has 2 and no cursor


async def test_a_page_that_ends_exactly_at_the_end_has_no_cursor(storage, build):
    booking = uuid4()
    await _add_many(storage, [build.payment(booking_id=booking, now=build.at(i)) for i in range(4)])
    async with storage.uow() as uow:
        full = await uow.payments.list_by_booking(booking, PageRequest(limit=4))
        first = await uow.payments.list_by_booking(booking, PageRequest(limit=2))
        rest = await uow.payments.list_by_booking(
            booking, PageRequest(limit=2, after=Cursor.decode(first.next_cursor))
        )
    assert len(full.items) == 4
    assert full.next_cursor is None
    assert first.next_cursor is not None
    assert len(rest.items) == 2
    assert rest.next_cursor is None


async def test_guest_pages_list_only_that_guest(storage, build):
    guest = uuid4()
    mine = [build.payment(guest_id=guest, now=build.at(i)) for i in range(5)]
    await _add_many(storage, [*mine, build.payment()])
    async with storage.uow() as uow:
        first = await uow.payments.list_by_guest(guest, PageRequest(limit=2))
        second = await uow.payments.list_by_guest(
            guest, PageRequest(limit=10, after=Cursor.decode(first.next_cursor))
        )
    assert [p.id for p in first.items + list(second.items)] == [p.id for p in mine]
    assert second.next_cursor is None


async def test_a_cursor_in_another_timezone_means_the_same_instant(storage, build):
    booking = uuid4()
    payments = [build.payment(booking_id=booking, now=build.at(i)) for i in range(3)]
    await _add_many(storage, payments)
    first = payments[0]
    shifted = Cursor(first.created_at.astimezone(timezone(timedelta(hours=5))), first.id)
    async with storage.uow() as uow:
        page = await uow.payments.list_by_booking(booking, PageRequest(after=shifted))
    assert [p.id for p in page.items] == [p.id for p in payments[1:]]


async def test_due_for_reconciliation_are_processing_and_due_oldest_first(storage, build):
    def processing(due_in: int):
        payment = build.payment()
        payment.start_processing(
            now=build.T0, payment_method="pm_card_visa", reconcile_after=timedelta(seconds=due_in)
        )
        return payment

    late, due_first, due_second = processing(600), processing(10), processing(20)
    pending = build.payment()  # PENDING: never reconciled
    settled = build.completed_payment()  # COMPLETED: reconcile_at cleared
    await _add_many(storage, [late, due_second, pending, settled, due_first])
    async with storage.uow() as uow:
        due = await uow.payments.list_due_for_reconciliation(build.at(60), 10)
        limited = await uow.payments.list_due_for_reconciliation(build.at(60), 1)
        exactly_now = await uow.payments.list_due_for_reconciliation(build.at(10), 10)
    assert [p.id for p in due] == [due_first.id, due_second.id]
    assert [p.id for p in limited] == [due_first.id]
    assert [p.id for p in exactly_now] == [due_first.id]

"""BillingRepository: the append-only chain, the same on every backend."""

from __future__ import annotations

import asyncio
from uuid import uuid4

import pytest

from payment_core.errors import ConcurrencyError
from payment_core.model.billing import GENESIS_HASH, verify_chain
from payment_core.pagination import Cursor, PageRequest


async def test_an_empty_chain_has_no_head(storage):
    async with storage.uow() as uow:
        assert await uow.billing.head(uuid4()) is None


async def test_append_and_read_the_chain(storage, build):
    booking = uuid4()
    async with storage.uow() as uow:
        first = build.record(await uow.billing.head(booking), booking_id=booking)
        await uow.billing.add(first)
        await uow.commit()
    async with storage.uow() as uow:
        head = await uow.billing.head(booking)
        second = build.record(head, created_at=build.at(1))
        await uow.billing.add(second)
        # the head inside the same unit of work is the record just added
        assert await uow.billing.head(booking) == second
        await uow.commit()
    async with storage.uow() as uow:
        head = await uow.billing.head(booking)
        page = await uow.billing.list_by_booking(booking, PageRequest())
    assert head == second
    assert second.sequence == 2
    assert second.previous_hash == first.hash
    assert first.previous_hash == GENESIS_HASH
    assert list(page.items) == [first, second]
    assert page.items[0].created_at.utcoffset().total_seconds() == 0


async def test_a_second_record_with_a_taken_sequence_is_a_fork(storage, build):
    booking = uuid4()
    first = build.record(None, booking_id=booking)
    async with storage.uow() as uow:
        await uow.billing.add(first)
        await uow.commit()
    fork = build.record(None, booking_id=booking)  # sequence 1 again
    with pytest.raises(ConcurrencyError):
        await storage.add(fork)
    async with storage.uow() as uow:
        page = await uow.billing.list_by_booking(booking, PageRequest())
    assert list(page.items) == [first]


async def test_concurrent_appends_to_one_booking_never_fork(storage, build):
    booking, guest = uuid4(), uuid4()

    async def append(n: int) -> None:
        async with storage.uow() as uow:
            head = await uow.billing.head(booking)
            await asyncio.sleep(0)  # let the others reach head() meanwhile
            await uow.billing.add(
                build.record(head, booking_id=booking, guest_id=guest, amount=100 + n)
            )
            await uow.commit()

    await asyncio.gather(*(append(n) for n in range(storage.tasks)))
    async with storage.uow() as uow:
        records = [r async for r in uow.billing.stream_chains()]
    assert [r.sequence for r in records] == list(range(1, storage.tasks + 1))
    assert verify_chain(records).ok


async def test_guest_pages_span_bookings(storage, build):
    guest = uuid4()
    records = []
    async with storage.uow() as uow:
        for n in range(5):
            record = build.record(None, guest_id=guest, created_at=build.at(n % 2))
            records.append(record)
            await uow.billing.add(record)
        await uow.billing.add(build.record(None))
        await uow.commit()
    expected = sorted(records, key=lambda r: (r.created_at, r.id))
    async with storage.uow() as uow:
        first = await uow.billing.list_by_guest(guest, PageRequest(limit=2))
        second = await uow.billing.list_by_guest(
            guest, PageRequest(limit=2, after=Cursor.decode(first.next_cursor))
        )
        third = await uow.billing.list_by_guest(
            guest, PageRequest(limit=2, after=Cursor.decode(second.next_cursor))
        )
    assert [*first.items, *second.items, *third.items] == expected
    assert third.next_cursor is None


async def test_stream_walks_every_chain_in_booking_and_sequence_order(storage, build):
    bookings = [uuid4() for _ in range(4)]
    async with storage.uow() as uow:
        for booking in bookings:
            previous = None
            for n in range(3):
                previous = build.record(previous, booking_id=booking, created_at=build.at(-n))
                await uow.billing.add(previous)
        await uow.commit()
    async with storage.uow() as uow:
        streamed = [r async for r in uow.billing.stream_chains(batch_size=5)]
    assert [(r.booking_id, r.sequence) for r in streamed] == [
        (b, s) for b in sorted(bookings, key=str) for s in (1, 2, 3)
    ]
    assert verify_chain(streamed).ok

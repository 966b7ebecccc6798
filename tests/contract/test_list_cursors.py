"""Every keyset list of every repository, after every position a cursor can name.

A :class:`~payment_core.pagination.Cursor` is a UTC instant and an id; from the first to the
last microsecond a ``datetime`` holds, and at each listed item, every backend answers with
exactly the items after it.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any
from uuid import UUID, uuid4

import pytest

from payment_core.pagination import Cursor, Page, PageRequest

EDGES = [
    Cursor(datetime.min.replace(tzinfo=UTC), UUID(int=0)),
    Cursor(datetime.min.replace(tzinfo=UTC), UUID(int=2**128 - 1)),
    Cursor(datetime(1970, 1, 1, tzinfo=UTC), UUID(int=0)),
    Cursor(datetime.max.replace(tzinfo=UTC), UUID(int=0)),
    Cursor(datetime.max.replace(tzinfo=UTC), UUID(int=2**128 - 1)),
]
LISTS = [
    "payments.list_by_booking",
    "payments.list_by_guest",
    "refunds.list_by_payment",
    "invoices.list_by_booking",
    "billing.list_by_booking",
    "billing.list_by_guest",
]


async def _seed(storage: Any, build: Any) -> dict[str, tuple[UUID, list[Any]]]:
    """Three of each item under one booking and guest (and one elsewhere), so that every
    list has three entries; returns each list's key and its items, oldest first."""
    booking, guest = uuid4(), uuid4()
    payments = [
        build.completed_payment(booking_id=booking, guest_id=guest, now=build.at(i))
        for i in range(3)
    ]
    refunds = [build.refund(payments[0], 100, now=build.at(10 + i)) for i in range(3)]
    invoices = [
        build.invoice(booking_id=booking, guest_id=guest, now=build.at(20 + i)) for i in range(3)
    ]
    records: list[Any] = []
    for i in range(3):
        records.append(
            build.record(
                records[-1] if records else None,
                booking_id=booking,
                guest_id=guest,
                created_at=build.at(30 + i),
            )
        )
    await storage.add(*payments, build.payment(), *refunds, *invoices, *records)
    return {
        "payments.list_by_booking": (booking, payments),
        "payments.list_by_guest": (guest, payments),
        "refunds.list_by_payment": (payments[0].id, refunds),
        "invoices.list_by_booking": (booking, invoices),
        "billing.list_by_booking": (booking, records),
        "billing.list_by_guest": (guest, records),
    }


async def _list(storage: Any, name: str, key: UUID, page: PageRequest) -> Page[Any]:
    repository, method = name.split(".")
    async with storage.uow() as uow:
        listed: Page[Any] = await getattr(getattr(uow, repository), method)(key, page)
        return listed


def _after(items: list[Any], cursor: Cursor) -> list[UUID]:
    return [i.id for i in items if (i.created_at, i.id) > (cursor.created_at, cursor.id)]


@pytest.mark.parametrize("name", LISTS)
async def test_every_position_gives_exactly_the_items_after_it(storage, build, name: str):
    key, items = (await _seed(storage, build))[name]
    positions = [*EDGES, *(Cursor(i.created_at, i.id) for i in items)]
    for cursor in positions:
        page = await _list(storage, name, key, PageRequest(limit=10, after=cursor))
        assert [i.id for i in page.items] == _after(items, cursor), (name, cursor)
        assert page.next_cursor is None


@pytest.mark.parametrize("name", LISTS)
async def test_each_next_cursor_decodes_and_gives_the_next_page(storage, build, name: str):
    key, items = (await _seed(storage, build))[name]
    seen: list[UUID] = []
    page = await _list(storage, name, key, PageRequest(limit=1))
    while True:
        seen += [i.id for i in page.items]
        if page.next_cursor is None:
            break
        after = PageRequest.parse(1, page.next_cursor)
        page = await _list(storage, name, key, after)
    assert seen == [i.id for i in items]

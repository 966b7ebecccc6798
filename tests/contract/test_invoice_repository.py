"""InvoiceRepository and InvoiceNumberAllocator: the same behaviour on every backend."""

from __future__ import annotations

import random
from uuid import uuid4

import pytest

from payment_core.errors import ConcurrencyError
from payment_core.model.invoice import InvoiceStatus, format_invoice_number
from payment_core.pagination import Cursor, PageRequest


def _year() -> int:
    # Counters are per year: a year of its own keeps tests apart even on a shared database.
    return random.randint(3000, 9000)


async def test_added_invoice_reads_back_with_lines_notes_and_dates(storage, build):
    invoice = build.invoice()
    async with storage.uow() as uow:
        await uow.invoices.add(invoice)
        await uow.commit()
    async with storage.uow() as uow:
        found = await uow.invoices.get(invoice.id)
    assert build.state(found) == build.state(invoice)
    assert found.line_items == invoice.line_items
    assert found.total == invoice.total
    assert found.tax.amount == 2000 + 262
    assert found.notes == "Thank you, Zoë — see you soon"


async def test_a_bare_draft_round_trips(storage, build):
    invoice = build.invoice(line_items=[], due_date=None, notes=None)
    async with storage.uow() as uow:
        await uow.invoices.add(invoice)
        await uow.commit()
    async with storage.uow() as uow:
        found = await uow.invoices.get(invoice.id, for_update=True)
    assert build.state(found) == build.state(invoice)


async def test_issued_invoice_is_found_by_number(storage, build):
    payment = build.completed_payment()
    invoice = build.invoice(payment_id=payment.id)
    async with storage.uow() as uow:
        await uow.payments.add(payment)
        await uow.invoices.add(invoice)
        await uow.commit()
    year = _year()
    async with storage.uow() as uow:
        loaded = await uow.invoices.get(invoice.id, for_update=True)
        number = format_invoice_number(year, await uow.invoice_numbers.next(year))
        loaded.issue(now=build.at(1), number=number, event_id=uuid4())
        await uow.invoices.update(loaded)
        await uow.commit()
    async with storage.uow() as uow:
        found = await uow.invoices.get_by_number(number)
        missing = await uow.invoices.get_by_number(format_invoice_number(year, 99))
    assert found is not None
    assert found.id == invoice.id
    assert found.status is InvoiceStatus.OPEN
    assert found.issued_at == build.at(1)
    assert found.version == 1
    assert missing is None


async def test_stale_invoice_update_is_a_concurrency_error(storage, build):
    invoice = build.invoice()
    async with storage.uow() as uow:
        await uow.invoices.add(invoice)
        await uow.commit()
    async with storage.uow() as uow:
        first = await uow.invoices.get(invoice.id)
        first.edit(now=build.at(1), notes="first")
        await uow.invoices.update(first)
        await uow.commit()
    invoice.edit(now=build.at(2), notes="second")
    with pytest.raises(ConcurrencyError):
        await storage.update(invoice)
    async with storage.uow() as uow:
        assert (await uow.invoices.get(invoice.id)).notes == "first"


async def test_booking_pages(storage, build):
    booking = uuid4()
    invoices = [build.invoice(booking_id=booking, now=build.at(i // 2)) for i in range(5)]
    async with storage.uow() as uow:
        for invoice in [*invoices, build.invoice()]:
            await uow.invoices.add(invoice)
        await uow.commit()
    async with storage.uow() as uow:
        first = await uow.invoices.list_by_booking(booking, PageRequest(limit=3))
        rest = await uow.invoices.list_by_booking(
            booking, PageRequest(limit=3, after=Cursor.decode(first.next_cursor))
        )
    expected = [i.id for i in sorted(invoices, key=lambda i: (i.created_at, i.id))]
    assert [i.id for i in [*first.items, *rest.items]] == expected
    assert rest.next_cursor is None


async def test_open_invoices_for_a_payment(storage, build):
    payment = build.completed_payment()
    draft = build.invoice(payment_id=payment.id)
    opened = build.invoice(payment_id=payment.id)
    opened.issue(now=build.at(1), number=format_invoice_number(_year(), 1), event_id=uuid4())
    uncollectible = build.invoice(payment_id=payment.id)
    uncollectible.issue(now=build.at(2), number=format_invoice_number(_year(), 2), event_id=uuid4())
    uncollectible.mark_uncollectible(now=build.at(3), event_id=uuid4())
    unrelated = build.invoice()
    unrelated.issue(now=build.at(1), number=format_invoice_number(_year(), 3), event_id=uuid4())
    async with storage.uow() as uow:
        await uow.payments.add(payment)
        for invoice in (draft, opened, uncollectible, unrelated):
            await uow.invoices.add(invoice)
        await uow.commit()
    async with storage.uow() as uow:
        found = await uow.invoices.list_open_for_payment(payment.id)
    assert {i.id for i in found} == {opened.id, uncollectible.id}


async def test_what_a_payment_paid_is_the_sum_over_its_invoices(storage, build):
    """Every invoice linked to the payment counts, in any state; others do not."""
    payment, other = build.completed_payment(), build.completed_payment()
    invoices = []
    for n, (taken, hand) in enumerate([(5_000, False), (1_234, True), (700, False), (0, False)]):
        invoice = build.invoice(payment_id=payment.id)
        invoice.issue(
            now=build.at(n), number=format_invoice_number(_year(), n + 1), event_id=uuid4()
        )
        invoice.take_from_payment(available=taken, now=build.at(n), event_id=uuid4())
        if hand:
            invoice.mark_paid(now=build.at(n), event_id=uuid4())
        invoices.append(invoice)
    elsewhere = build.invoice(payment_id=other.id)
    elsewhere.issue(now=build.at(9), number=format_invoice_number(_year(), 9), event_id=uuid4())
    elsewhere.take_from_payment(available=99, now=build.at(9), event_id=uuid4())
    await storage.add(payment, other, *invoices, elsewhere)
    async with storage.uow() as uow:
        assert await uow.invoices.amount_applied_from(payment.id) == 5_000 + 1_234 + 700
        assert await uow.invoices.amount_applied_from(other.id) == 99
        assert await uow.invoices.amount_applied_from(uuid4()) == 0
        read = await uow.invoices.get(invoices[1].id)
    assert (read.amount_applied, read.amount_paid, read.status) == (
        1_234,
        invoices[1].total.amount,
        InvoiceStatus.PAID,
    )


async def test_invoice_numbers_count_from_one_per_year(storage):
    year = _year()
    async with storage.uow() as uow:
        numbers = [await uow.invoice_numbers.next(year) for _ in range(3)]
        other_year = await uow.invoice_numbers.next(year + 1)
        await uow.commit()
    async with storage.uow() as uow:
        fourth = await uow.invoice_numbers.next(year)
        await uow.commit()
    assert numbers == [1, 2, 3]
    assert other_year == 1
    assert fourth == 4


async def test_a_rolled_back_number_is_given_again(storage):
    year = _year()
    async with storage.uow() as uow:
        assert await uow.invoice_numbers.next(year) == 1
        # no commit: the number goes back
    async with storage.uow() as uow:
        assert await uow.invoice_numbers.next(year) == 1
        await uow.commit()
    async with storage.uow() as uow:
        assert await uow.invoice_numbers.next(year) == 2

"""CreditNoteRepository, its number allocator and invoice customers: the same on every backend."""

from __future__ import annotations

import asyncio
import random
from uuid import uuid4

import pytest

from payment_core import Address, CreateCreditNote, Customer, InvoiceStatus, LineItem, Money
from payment_core.errors import ConcurrencyError, CreditExceedsInvoiceError
from payment_core.model.credit_note import CreditNote, format_credit_note_number
from payment_core.model.invoice import format_invoice_number
from payment_core.pagination import Cursor, PageRequest
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

ZOE = Customer(
    name="Zoë Ñúñez 山田",
    email="zoe@example.org",
    tax_id="ES-X1234567L",
    address=Address(line1="Calle de Alcalá 42", city="Madrid", postal_code="28014", country="ES"),
)


def _year() -> int:
    return random.randint(3000, 9000)


def _note(invoice, *, number: str, amount: int = 500, refund_id=None, at=None) -> CreditNote:
    return CreditNote.issue(
        id=uuid4(),
        number=number,
        invoice_id=invoice.id,
        booking_id=invoice.booking_id,
        guest_id=invoice.guest_id,
        amount=Money(amount, invoice.currency),
        tax=amount // 11,
        now=at or invoice.created_at,
        event_id=uuid4(),
        reason="order_change",
        memo="Spa not used — Zoë",
        refund_id=refund_id,
    )


async def _add(storage, note: CreditNote) -> None:
    async with storage.uow() as uow:
        await uow.credit_notes.add(note)
        await uow.commit()


async def _issued(storage, build, **overrides):
    invoice = build.invoice(**overrides)
    invoice.issue(now=build.at(1), number=format_invoice_number(_year(), 1), event_id=uuid4())
    await storage.add(invoice)
    return invoice


async def test_an_invoice_customer_and_credits_round_trip(storage, build):
    invoice = build.invoice(customer=ZOE)
    invoice.issue(now=build.at(1), number=format_invoice_number(_year(), 1), event_id=uuid4())
    invoice.credit(amount=1_234, now=build.at(2))
    await storage.add(invoice)
    async with storage.uow() as uow:
        found = await uow.invoices.get(invoice.id)
    assert found is not None
    assert found.customer == ZOE
    assert (found.amount_credited, found.amount_due.amount) == (
        1_234,
        invoice.total.amount - 1_234,
    )
    assert build.state(found) == build.state(invoice)


async def test_a_note_reads_back_whole_and_pages_by_invoice(storage, build):
    invoice = await _issued(storage, build)
    other = await _issued(storage, build)
    year = _year()
    notes = [
        _note(invoice, number=format_credit_note_number(year, n), at=build.at(n // 2))
        for n in range(1, 6)
    ]
    async with storage.uow() as uow:
        for note in [*notes, _note(other, number=format_credit_note_number(year, 9))]:
            await uow.credit_notes.add(note)
        await uow.commit()
    async with storage.uow() as uow:
        found = await uow.credit_notes.get(notes[0].id)
        first = await uow.credit_notes.list_by_invoice(invoice.id, PageRequest(limit=3))
        rest = await uow.credit_notes.list_by_invoice(
            invoice.id, PageRequest(limit=3, after=Cursor.decode(first.next_cursor or ""))
        )
        missing = await uow.credit_notes.get(uuid4())
    assert build.state(found) == build.state(notes[0])
    assert found.memo == "Spa not used — Zoë"
    expected = [n.id for n in sorted(notes, key=lambda n: (n.created_at, n.id))]
    assert [n.id for n in [*first.items, *rest.items]] == expected
    assert rest.next_cursor is None
    assert missing is None


async def test_one_note_per_refund_and_invoice(storage, build):
    payment = build.completed_payment()
    refund = build.refund(payment, 900)
    invoice = build.invoice(payment_id=payment.id, booking_id=payment.booking_id)
    invoice.issue(now=build.at(1), number=format_invoice_number(_year(), 1), event_id=uuid4())
    other = build.invoice(payment_id=payment.id, booking_id=payment.booking_id)
    other.issue(now=build.at(1), number=format_invoice_number(_year(), 2), event_id=uuid4())
    await storage.add(payment, refund, invoice, other)
    year = _year()
    first = _note(invoice, number=format_credit_note_number(year, 1), refund_id=refund.id)
    second = _note(
        other, number=format_credit_note_number(year, 2), amount=400, refund_id=refund.id
    )
    by_hand = _note(invoice, number=format_credit_note_number(year, 3))
    async with storage.uow() as uow:
        for note in (first, second, by_hand):
            await uow.credit_notes.add(note)
        await uow.commit()
    again = _note(invoice, number=format_credit_note_number(year, 4), refund_id=refund.id)
    with pytest.raises(ConcurrencyError):
        await _add(storage, again)
    async with storage.uow() as uow:
        of_refund = await uow.credit_notes.list_by_refund(refund.id)
        credited = await uow.credit_notes.refund_credited(invoice.id)
        none = await uow.credit_notes.list_by_refund(uuid4())
        paid_from = await uow.invoices.list_paid_from(payment.id)
    assert {n.id for n in of_refund} == {first.id, second.id}
    assert credited == 500  # the note by hand names no refund
    assert none == []
    assert paid_from == []  # issued, but neither took anything from the payment


async def test_credit_note_numbers_count_from_one_per_year_apart_from_invoices(storage):
    year = _year()
    async with storage.uow() as uow:
        numbers = [await uow.credit_note_numbers.next(year) for _ in range(3)]
        invoice_number = await uow.invoice_numbers.next(year)
        await uow.commit()
    async with storage.uow() as uow:
        assert await uow.credit_note_numbers.next(year) == 4
        # no commit: the number goes back
    async with storage.uow() as uow:
        assert await uow.credit_note_numbers.next(year) == 4
        assert await uow.credit_note_numbers.next(year + 1) == 1
        await uow.commit()
    assert numbers == [1, 2, 3]
    assert invoice_number == 1


# ---------------------------------------------------------------------------- the use case


def _services(storage, build) -> Services:
    provider = FakeProvider()
    return Services.build(
        Dependencies(
            uow=storage.uow,
            providers=ProviderRegistry([provider]),
            clock=SettableClock(build.T0),
            ids=SystemIds(),
            config=ServiceConfig(default_provider=provider.name),
        )
    )


async def test_concurrent_credit_notes_never_exceed_the_invoice_and_stay_gap_free(storage, build):
    """Many credits at once against one invoice: exactly those that fit are issued, with
    consecutive numbers; the rest are refused and burn none."""
    services = _services(storage, build)
    draft = await services.invoices.create(
        CreateInvoice(
            booking_id=uuid4(),
            guest_id=uuid4(),
            currency="EUR",
            line_items=[LineItem("Room", 1, 10_000, 1_000)],
        )
    )
    invoice = await services.invoices.issue(draft.id)  # 11000
    fits = storage.tasks // 2
    each = invoice.total.amount // fits

    results = await asyncio.gather(
        *(
            services.credit_notes.create(invoice.id, CreateCreditNote(amount=each))
            for _ in range(storage.tasks)
        ),
        return_exceptions=True,
    )

    issued = [r for r in results if isinstance(r, CreditNote)]
    refused = [r for r in results if isinstance(r, CreditExceedsInvoiceError)]
    assert (len(issued), len(refused)) == (fits, storage.tasks - fits)
    year = build.T0.year
    assert sorted(n.number for n in issued) == [
        format_credit_note_number(year, n) for n in range(1, fits + 1)
    ]
    after = await services.invoices.get(invoice.id)
    assert after.amount_credited == each * fits <= after.total.amount
    assert (await services.billing.verify()).ok


async def test_a_refund_credits_its_paid_invoice_once_on_every_backend(storage, build):
    services = _services(storage, build)
    payment = await services.payments.create(
        CreatePayment(booking_id=uuid4(), guest_id=uuid4(), amount=11_000, currency="EUR")
    )
    payment = await services.payments.confirm(payment.id, "pm_card_visa")
    draft = await services.invoices.create(
        CreateInvoice(
            booking_id=payment.booking_id,
            guest_id=payment.guest_id,
            currency="EUR",
            payment_id=payment.id,
            line_items=[LineItem("Room", 1, 10_000, 1_000)],
            customer=ZOE,
        )
    )
    invoice = await services.invoices.issue(draft.id)
    assert invoice.status is InvoiceStatus.PAID
    refund = await services.refunds.create(payment.id, 2_500)
    await services.refunds.process(refund.id)  # once more: a completed refund stays as it is
    notes = await services.credit_notes.all_for_invoice(invoice.id)
    assert [(n.amount.amount, n.tax, n.refund_id) for n in notes] == [(2_500, 227, refund.id)]
    assert (await services.invoices.get(invoice.id)).customer == ZOE
    types = [r.type for r in await storage.outbox()]
    assert types[-2:] == ["refund.completed", "credit_note.issued"]


async def test_refunds_and_notes_by_hand_at_once_keep_every_limit(storage, build):
    """Refunds completing (each crediting the invoice) and credit notes by hand, all at once
    on one paid invoice: no deadlock, never above the total, numbers gap-free, one note per
    refund."""
    services = _services(storage, build)
    payment = await services.payments.create(
        CreatePayment(booking_id=uuid4(), guest_id=uuid4(), amount=11_000, currency="EUR")
    )
    payment = await services.payments.confirm(payment.id, "pm_card_visa")
    draft = await services.invoices.create(
        CreateInvoice(
            booking_id=payment.booking_id,
            guest_id=payment.guest_id,
            currency="EUR",
            payment_id=payment.id,
            line_items=[LineItem("Room", 1, 10_000, 1_000)],
        )
    )
    invoice = await services.invoices.issue(draft.id)
    half = storage.tasks // 2

    results = await asyncio.gather(
        *(services.refunds.create(payment.id, 500) for _ in range(half)),
        *(
            services.credit_notes.create(invoice.id, CreateCreditNote(amount=1_000))
            for _ in range(storage.tasks - half)
        ),
        return_exceptions=True,
    )

    errors = [r for r in results if isinstance(r, BaseException)]
    assert all(isinstance(e, CreditExceedsInvoiceError) for e in errors), errors
    notes = await services.credit_notes.all_for_invoice(invoice.id)
    after = await services.invoices.get(invoice.id)
    assert sum(n.amount.amount for n in notes) == after.amount_credited <= after.total.amount
    refund_ids = [n.refund_id for n in notes if n.refund_id is not None]
    assert len(refund_ids) == len(set(refund_ids))
    year = build.T0.year
    assert sorted(n.number for n in notes) == [
        format_credit_note_number(year, k) for k in range(1, len(notes) + 1)
    ]
    assert (await services.billing.verify()).ok


async def test_the_invoices_a_payment_paid_something_of(storage, build):
    payment, other = build.completed_payment(), build.completed_payment()
    took = []
    for n, taken in enumerate([5_000, 0, 700]):
        invoice = build.invoice(payment_id=payment.id, now=build.at(n))
        invoice.issue(now=build.at(n), number=format_invoice_number(_year(), n), event_id=uuid4())
        invoice.take_from_payment(available=taken, now=build.at(n), event_id=uuid4())
        took.append(invoice)
    elsewhere = build.invoice(payment_id=other.id)
    elsewhere.issue(now=build.at(9), number=format_invoice_number(_year(), 9), event_id=uuid4())
    elsewhere.take_from_payment(available=99, now=build.at(9), event_id=uuid4())
    await storage.add(payment, other, *took, elsewhere)
    async with storage.uow() as uow:
        found = await uow.invoices.list_paid_from(payment.id)
    assert [i.id for i in found] == [took[0].id, took[2].id]
    assert [i.amount_applied for i in found] == [5_000, 700]

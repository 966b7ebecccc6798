"""Invoices: line items and totals, editing drafts, numbering, and the status rules."""

from __future__ import annotations

import asyncio
from datetime import UTC, date, datetime
from uuid import uuid4

import pytest

from payment_core import (
    BillingRecordType,
    CreateInvoice,
    InvoiceStatus,
    LineItem,
    Money,
    UpdateInvoice,
)
from payment_core.errors import (
    InvalidTransitionError,
    InvoiceNotEditableError,
    NotFoundError,
    UnknownCurrencyError,
    ValidationError,
)
from payment_core.model.invoice import (
    MAX_LINE_ITEMS,
    format_invoice_number,
    parse_invoice_number,
)
from payment_core.money import MAX_AMOUNT
from payment_core.pagination import PageRequest

# ---------------------------------------------------------------------------- line items


def test_line_tax_rounds_half_to_even_down() -> None:
    assert LineItem("Room", 1, 125, 1_000).tax == 12  # 12.5 -> 12


def test_line_tax_rounds_half_to_even_up() -> None:
    assert LineItem("Room", 1, 135, 1_000).tax == 14  # 13.5 -> 14


def test_line_amount_is_quantity_times_unit_amount() -> None:
    assert LineItem("Room", 3, 10_050, 0).amount == 30_150


async def test_tax_is_rounded_per_line_not_on_the_total(kit) -> None:
    # Two lines of 1.25 at 10 %: 0.125 rounds to 0.12 on each line (0.24), where rounding the
    # sum of 0.25 would give 0.25 -- the contract says per line.
    invoice = await kit.draft([LineItem("A", 1, 125, 1_000), LineItem("B", 1, 125, 1_000)])
    assert invoice.tax.amount == 24
    assert invoice.subtotal.amount == 250
    assert invoice.total.amount == 274


async def test_total_is_subtotal_plus_tax_with_mixed_rates(kit) -> None:
    invoice = await kit.draft([LineItem("Room", 2, 10_000, 1_000), LineItem("City tax", 2, 250, 0)])
    assert (invoice.subtotal.amount, invoice.tax.amount, invoice.total.amount) == (
        20_500,
        2_000,
        22_500,
    )
    assert invoice.total == invoice.subtotal + invoice.tax
    assert invoice.amount_due == invoice.total


@pytest.mark.parametrize(
    ("args", "field"),
    [
        (("", 1, 100), "description"),
        (("   ", 1, 100), "description"),
        (("x" * 501, 1, 100), "description"),
        (("Room", 0, 100), "quantity"),
        (("Room", 1_000_001, 100), "quantity"),
        (("Room", 1.0, 100), "quantity"),
        (("Room", 1, -1), "unit_amount"),
        (("Room", 1, 12.5), "unit_amount"),
        (("Room", 1, True), "unit_amount"),
        (("Room", 1, MAX_AMOUNT + 1), "unit_amount"),
        (("Room", 1, 100, 10_001), "tax_rate_bps"),
        (("Room", 1, 100, -1), "tax_rate_bps"),
    ],
)
def test_a_bad_line_item_names_its_field(args: tuple[object, ...], field: str) -> None:
    with pytest.raises(ValidationError) as caught:
        LineItem(*args)  # type: ignore[arg-type]
    assert caught.value.field == field


def test_a_zero_priced_line_is_allowed() -> None:
    assert LineItem("Breakfast (included)", 1, 0).amount == 0


async def test_too_many_lines_are_refused(kit) -> None:
    with pytest.raises(ValidationError) as caught:
        await kit.draft([LineItem("x", 1, 1)] * (MAX_LINE_ITEMS + 1))
    assert caught.value.field == "line_items"


async def test_a_total_above_the_maximum_amount_is_refused(kit) -> None:
    with pytest.raises(ValidationError) as caught:
        await kit.draft([LineItem("x", 1, MAX_AMOUNT, 1)])
    assert caught.value.field == "line_items"


async def test_something_that_is_not_a_line_item_is_refused(kit) -> None:
    with pytest.raises(ValidationError) as caught:
        await kit.draft([{"description": "Room", "quantity": 1, "unit_amount": 1}])  # type: ignore[list-item]
    assert caught.value.field == "line_items"


async def test_an_unknown_currency_is_refused(kit) -> None:
    with pytest.raises(UnknownCurrencyError):
        await kit.draft(currency="EUX")


async def test_notes_longer_than_the_limit_are_refused(services) -> None:
    with pytest.raises(ValidationError) as caught:
        await services.invoices.create(
            CreateInvoice(booking_id=uuid4(), guest_id=uuid4(), currency="EUR", notes="n" * 5_001)
        )
    assert caught.value.field == "notes"


# ---------------------------------------------------------------------------- drafts


async def test_a_new_invoice_is_an_unnumbered_draft(kit) -> None:
    invoice = await kit.draft()
    assert invoice.status is InvoiceStatus.DRAFT
    assert invoice.number is None
    assert invoice.issued_at is None


async def test_a_draft_can_change_every_content_field(kit, services) -> None:
    payment = await kit.paid()
    invoice = await kit.draft(booking_id=payment.booking_id)
    updated = await services.invoices.update(
        invoice.id,
        UpdateInvoice(
            line_items=[LineItem("Suite", 1, 30_000, 1_000)],
            due_date=date(2026, 12, 31),
            notes="Late checkout",
            payment_id=payment.id,
        ),
    )
    assert updated.line_items == (LineItem("Suite", 1, 30_000, 1_000),)
    assert (updated.due_date, updated.notes, updated.payment_id) == (
        date(2026, 12, 31),
        "Late checkout",
        payment.id,
    )
    assert updated.total.amount == 33_000
    assert (await services.invoices.get(invoice.id)).notes == "Late checkout"


async def test_none_clears_a_field_and_leaving_it_out_keeps_it(kit, services) -> None:
    invoice = await kit.draft()
    await services.invoices.update(invoice.id, UpdateInvoice(notes="x", due_date=date(2026, 1, 2)))
    updated = await services.invoices.update(invoice.id, UpdateInvoice(notes=None))
    assert updated.notes is None
    assert updated.due_date == date(2026, 1, 2)
    assert updated.line_items == invoice.line_items


@pytest.mark.parametrize("move", ["issue", "void", "pay", "uncollectible"])
async def test_content_of_a_non_draft_cannot_change(kit, services, move: str) -> None:
    invoice = await kit.draft()
    await services.invoices.issue(invoice.id)
    if move == "void":
        await services.invoices.void(invoice.id)
    elif move == "pay":
        await services.invoices.mark_paid(invoice.id)
    elif move == "uncollectible":
        await services.invoices.mark_uncollectible(invoice.id)
    with pytest.raises(InvoiceNotEditableError) as caught:
        await services.invoices.update(invoice.id, UpdateInvoice(notes="changed"))
    current = await services.invoices.get(invoice.id)
    assert (caught.value.invoice_id, caught.value.status) == (invoice.id, current.status.value)
    assert current.notes is None


async def test_a_bad_edit_changes_nothing(kit, services) -> None:
    invoice = await kit.draft()
    with pytest.raises(ValidationError):
        await services.invoices.update(invoice.id, UpdateInvoice(notes="fine", payment_id=uuid4()))
    assert (await services.invoices.get(invoice.id)).notes is None


async def test_a_draft_may_not_link_an_unknown_payment(services) -> None:
    with pytest.raises(ValidationError) as caught:
        await services.invoices.create(
            CreateInvoice(booking_id=uuid4(), guest_id=uuid4(), currency="EUR", payment_id=uuid4())
        )
    assert caught.value.field == "payment_id"


async def test_a_draft_may_not_link_a_payment_in_another_currency(kit) -> None:
    payment = await kit.paid(currency="USD")
    with pytest.raises(ValidationError) as caught:
        await kit.draft(payment_id=payment.id, currency="EUR")
    assert caught.value.field == "payment_id"


# ---------------------------------------------------------------------------- numbering


def test_invoice_numbers_have_the_contracts_shape() -> None:
    assert format_invoice_number(2026, 1) == "INV-2026-000001"
    assert format_invoice_number(2026, 1_234_567) == "INV-2026-1234567"


@pytest.mark.parametrize(
    ("text", "parsed"),
    [
        ("INV-2026-000001", (2026, 1)),
        ("INV-2026-1234567", (2026, 1_234_567)),
        ("INV-2026-00001", None),
        ("INV-26-000001", None),
        ("INX-2026-000001", None),
        ("INV-2026-000001-1", None),
        ("INV-202a-000001", None),
        ("INV-2026-00000a", None),
        ("INV-\uff12\uff10\uff12\uff16-000001", None),  # full-width digits
    ],
)
def test_parse_invoice_number(text: str, parsed: tuple[int, int] | None) -> None:
    assert parse_invoice_number(text) == parsed


async def test_issuing_assigns_the_first_number_of_the_year(kit, services, clock) -> None:
    invoice = await services.invoices.issue((await kit.draft()).id)
    assert invoice.number == f"INV-{clock.now().year}-000001"
    assert invoice.status is InvoiceStatus.OPEN
    assert invoice.issued_at == clock.now()


async def test_numbers_are_consecutive_within_a_year(kit, services) -> None:
    numbers = [(await services.invoices.issue((await kit.draft()).id)).number for _ in range(3)]
    assert numbers == ["INV-2026-000001", "INV-2026-000002", "INV-2026-000003"]


async def test_numbering_restarts_each_calendar_year(kit, services, clock) -> None:
    clock.set(datetime(2026, 12, 31, 23, 59, 59, tzinfo=UTC))
    first = await services.invoices.issue((await kit.draft()).id)
    second = await services.invoices.issue((await kit.draft()).id)
    clock.set(datetime(2027, 1, 1, 0, 0, tzinfo=UTC))
    third = await services.invoices.issue((await kit.draft()).id)
    assert [first.number, second.number, third.number] == [
        "INV-2026-000001",
        "INV-2026-000002",
        "INV-2027-000001",
    ]


async def test_the_year_is_the_utc_calendar_year_of_issuing(kit, services, clock) -> None:
    clock.set(datetime(2025, 12, 31, 23, 30, tzinfo=UTC))
    invoice = await services.invoices.issue((await kit.draft()).id)
    assert invoice.number == "INV-2025-000001"


async def test_a_failed_issue_burns_no_number(kit, services) -> None:
    empty = await kit.draft([])
    with pytest.raises(ValidationError):
        await services.invoices.issue(empty.id)
    voided = await kit.draft()
    await services.invoices.void(voided.id)
    with pytest.raises(InvalidTransitionError):
        await services.invoices.issue(voided.id)
    issued = await services.invoices.issue((await kit.draft()).id)
    assert issued.number == "INV-2026-000001"
    assert (await services.invoices.get(empty.id)).number is None


async def test_concurrent_issues_get_distinct_gap_free_numbers(kit, services) -> None:
    drafts = [await kit.draft() for _ in range(10)]
    issued = await asyncio.gather(*(services.invoices.issue(d.id) for d in drafts))
    assert sorted(i.number for i in issued) == [f"INV-2026-{n:06d}" for n in range(1, 11)]


async def test_an_issued_invoice_is_found_by_its_number(kit, services) -> None:
    issued = await services.invoices.issue((await kit.draft()).id)
    assert (await services.invoices.get_by_number("INV-2026-000001")).id == issued.id


@pytest.mark.parametrize("number", ["INV-2026-000009", "not-a-number"])
async def test_an_unknown_number_is_not_found(services, number: str) -> None:
    with pytest.raises(NotFoundError):
        await services.invoices.get_by_number(number)


async def test_an_unknown_invoice_is_not_found(services) -> None:
    with pytest.raises(NotFoundError) as caught:
        await services.invoices.get(uuid4())
    assert caught.value.entity == "invoice"


async def test_invoices_of_a_booking_are_listed_oldest_first(kit, services, clock) -> None:
    booking = uuid4()
    first = await kit.draft(booking_id=booking)
    clock.advance(seconds=1)
    second = await kit.draft(booking_id=booking)
    await kit.draft()
    page = await services.invoices.list_by_booking(booking, PageRequest())
    assert [i.id for i in page.items] == [first.id, second.id]


# ---------------------------------------------------------------------------- status rules


async def test_issuing_writes_an_invoice_issued_record(kit, services) -> None:
    invoice = await services.invoices.issue((await kit.draft()).id)
    [record] = kit.records(invoice.booking_id)
    assert (record.type, record.amount, record.currency, record.invoice_id) == (
        BillingRecordType.INVOICE_ISSUED,
        invoice.total.amount,
        "EUR",
        invoice.id,
    )


async def test_issuing_a_zero_total_invoice_writes_no_record(kit, services) -> None:
    invoice = await services.invoices.issue((await kit.draft([LineItem("Gift", 1, 0)])).id)
    assert invoice.status is InvoiceStatus.OPEN
    assert kit.records(invoice.booking_id) == []


async def test_voiding_a_draft_writes_no_record(kit, services) -> None:
    invoice = await services.invoices.void((await kit.draft()).id)
    assert invoice.status is InvoiceStatus.VOID
    assert invoice.number is None
    assert kit.records(invoice.booking_id) == []


async def test_voiding_an_open_invoice_writes_an_invoice_voided_record(kit, services) -> None:
    invoice = await services.invoices.issue((await kit.draft()).id)
    voided = await services.invoices.void(invoice.id)
    assert voided.voided_at is not None
    assert [r.type for r in kit.records(invoice.booking_id)] == [
        BillingRecordType.INVOICE_ISSUED,
        BillingRecordType.INVOICE_VOIDED,
    ]


async def test_marking_paid_sets_amount_paid_and_nothing_is_due(kit, services, clock) -> None:
    invoice = await services.invoices.issue((await kit.draft()).id)
    paid = await services.invoices.mark_paid(invoice.id)
    assert (paid.status, paid.amount_paid, paid.paid_at) == (
        InvoiceStatus.PAID,
        invoice.total.amount,
        clock.now(),
    )
    assert paid.amount_due == Money.zero("EUR")


async def test_an_uncollectible_invoice_can_still_be_paid(kit, services) -> None:
    invoice = await services.invoices.issue((await kit.draft()).id)
    await services.invoices.mark_uncollectible(invoice.id)
    assert (await services.invoices.mark_paid(invoice.id)).status is InvoiceStatus.PAID


async def test_an_uncollectible_invoice_cannot_be_voided(kit, services) -> None:
    invoice = await services.invoices.issue((await kit.draft()).id)
    await services.invoices.mark_uncollectible(invoice.id)
    with pytest.raises(InvalidTransitionError):
        await services.invoices.void(invoice.id)


async def test_a_draft_cannot_be_paid(kit, services) -> None:
    invoice = await kit.draft()
    with pytest.raises(InvalidTransitionError) as caught:
        await services.invoices.mark_paid(invoice.id)
    assert (caught.value.current, caught.value.requested) == ("DRAFT", "PAID")


@pytest.mark.parametrize("final", ["void", "pay"])
async def test_a_void_or_paid_invoice_moves_nowhere(kit, services, final: str) -> None:
    invoice = await services.invoices.issue((await kit.draft()).id)
    await (services.invoices.void if final == "void" else services.invoices.mark_paid)(invoice.id)
    for move in (services.invoices.mark_uncollectible, services.invoices.issue):
        with pytest.raises(InvalidTransitionError):
            await move(invoice.id)


async def test_asking_for_the_current_status_changes_nothing(kit, services) -> None:
    invoice = await services.invoices.issue((await kit.draft()).id)
    again = await services.invoices.issue(invoice.id)
    assert (again.status, again.number) == (InvoiceStatus.OPEN, invoice.number)
    assert len(kit.records(invoice.booking_id)) == 1


@pytest.mark.parametrize("status", ["DRAFT", "open", "REFUNDED"])
async def test_a_bad_target_status_is_refused(kit, services, status: str) -> None:
    invoice = await kit.draft()
    with pytest.raises(ValidationError) as caught:
        await services.invoices.update(invoice.id, UpdateInvoice(status=status))
    assert caught.value.field == "status"


async def test_content_and_status_change_together_in_one_patch(kit, services) -> None:
    invoice = await kit.draft()
    updated = await services.invoices.update(
        invoice.id, UpdateInvoice(notes="final", status="OPEN")
    )
    assert (updated.notes, updated.status, updated.number) == (
        "final",
        InvoiceStatus.OPEN,
        "INV-2026-000001",
    )


# ---------------------------------------------------------------------------- linked payments


async def test_an_open_invoice_is_paid_when_its_payment_completes(kit, services) -> None:
    payment = await kit.create(amount=22_000)
    invoice = await services.invoices.issue((await kit.draft(payment_id=payment.id)).id)
    await services.payments.confirm(payment.id)
    paid = await services.invoices.get(invoice.id)
    assert (paid.status, paid.amount_paid) == (InvoiceStatus.PAID, invoice.total.amount)


async def test_an_uncollectible_invoice_is_paid_when_its_payment_completes(kit, services) -> None:
    payment = await kit.create(amount=22_000)
    invoice = await services.invoices.issue((await kit.draft(payment_id=payment.id)).id)
    await services.invoices.mark_uncollectible(invoice.id)
    await services.payments.confirm(payment.id)
    assert (await services.invoices.get(invoice.id)).status is InvoiceStatus.PAID


async def test_a_draft_stays_a_draft_when_its_payment_completes(kit, services) -> None:
    payment = await kit.create()
    invoice = await kit.draft(payment_id=payment.id)
    await services.payments.confirm(payment.id)
    assert (await services.invoices.get(invoice.id)).status is InvoiceStatus.DRAFT


async def test_issuing_after_the_payment_completed_makes_it_paid(kit, services) -> None:
    payment = await kit.paid(amount=22_000)
    invoice = await services.invoices.issue((await kit.draft(payment_id=payment.id)).id)
    assert invoice.status is InvoiceStatus.PAID
    assert invoice.number == "INV-2026-000001"
    assert invoice.amount_due.amount == 0


async def test_issuing_while_the_payment_failed_leaves_it_open(kit, services) -> None:
    payment = await kit.paid("pm_card_chargeDeclined")
    invoice = await services.invoices.issue((await kit.draft(payment_id=payment.id)).id)
    assert invoice.status is InvoiceStatus.OPEN


async def test_payment_completed_is_published_before_the_invoice_paid(
    kit, services, harness
) -> None:
    payment = await kit.create(amount=22_000)
    await services.invoices.issue((await kit.draft(payment_id=payment.id)).id)
    harness.publisher.clear()
    await services.payments.confirm(payment.id)
    assert harness.published_types() == ["payment.completed", "invoice.paid"]

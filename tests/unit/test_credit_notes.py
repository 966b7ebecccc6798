"""Credit notes by hand: states, the limit, numbers, tax, the audit trail, the event, keys."""

from __future__ import annotations

from datetime import timedelta
from uuid import uuid4

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from payment_core import (
    BillingRecordType,
    CreateCreditNote,
    CreditExceedsInvoiceError,
    InvoiceCreditedError,
    InvoiceStatus,
    LineItem,
    verify_chain,
)
from payment_core.errors import (
    IdempotencyKeyReusedError,
    InvalidTransitionError,
    NotFoundError,
    RawCardDataError,
    ValidationError,
)
from payment_core.model.credit_note import (
    credit_tax,
    format_credit_note_number,
    parse_credit_note_number,
)
from payment_core.money import round_half_even
from payment_core.pagination import Cursor, PageRequest


async def _open(kit, lines=None, **kwargs):
    draft = await kit.draft(lines, **kwargs)
    return await kit.services.invoices.issue(draft.id)


def test_numbers_have_the_contracts_shape() -> None:
    assert format_credit_note_number(2026, 7) == "CN-2026-000007"
    assert parse_credit_note_number("CN-2026-000007") == (2026, 7)
    for bad in ("INV-2026-000007", "CN-26-000007", "CN-2026-7", "CN-2026-00000x", "CN-2026"):
        assert parse_credit_note_number(bad) is None


async def test_a_credit_note_on_an_open_invoice_lowers_what_is_due(kit, services) -> None:
    invoice = await _open(kit)  # 2 x 100.00 at 10 %: 220.00
    note = await services.credit_notes.create(
        invoice.id, CreateCreditNote(amount=2_500, reason="order_change", memo="one night less")
    )
    after = await services.invoices.get(invoice.id)
    assert (note.number, note.amount.amount, note.tax, note.reason, note.memo) == (
        f"CN-{kit.harness.clock.now().year}-000001",
        2_500,
        227,  # 2500 * 2000 / 22000 = 227.27
        "order_change",
        "one night less",
    )
    assert (note.invoice_id, note.booking_id, note.guest_id, note.refund_id) == (
        invoice.id,
        invoice.booking_id,
        invoice.guest_id,
        None,
    )
    assert (after.status, after.amount_credited, after.amount_due.amount) == (
        InvoiceStatus.OPEN,
        2_500,
        22_000 - 2_500,
    )


async def test_drafts_void_and_uncollectible_invoices_take_no_credit_note(kit, services) -> None:
    draft = await kit.draft()
    void = await services.invoices.void((await _open(kit)).id)
    uncollectible = await services.invoices.mark_uncollectible((await _open(kit)).id)
    for invoice in (draft, void, uncollectible):
        with pytest.raises(InvalidTransitionError) as caught:
            await services.credit_notes.create(invoice.id, CreateCreditNote(amount=100))
        assert (caught.value.current, caught.value.requested) == (invoice.status.value, "CREDITED")
    assert kit.harness.store.credit_notes == {}
    assert kit.harness.store.credit_note_counters == {}  # no number was taken


async def test_credits_never_add_up_past_the_total(kit, services) -> None:
    invoice = await _open(kit)
    await services.credit_notes.create(invoice.id, CreateCreditNote(amount=20_000))
    with pytest.raises(CreditExceedsInvoiceError) as caught:
        await services.credit_notes.create(invoice.id, CreateCreditNote(amount=2_001))
    assert (caught.value.requested, caught.value.creditable) == (2_001, 2_000)
    last = await services.credit_notes.create(invoice.id, CreateCreditNote(amount=2_000))
    assert last.number.endswith("000002")  # the refused one burnt no number
    after = await services.invoices.get(invoice.id)
    assert (after.amount_credited, after.amount_due.amount) == (22_000, 0)


async def test_a_paid_invoice_can_be_credited_and_stays_paid(kit, services) -> None:
    invoice = await services.invoices.mark_paid((await _open(kit)).id)
    await services.credit_notes.create(invoice.id, CreateCreditNote(amount=22_000))
    after = await services.invoices.get(invoice.id)
    assert (after.status, after.amount_paid, after.amount_credited, after.amount_due.amount) == (
        InvoiceStatus.PAID,
        22_000,
        22_000,
        0,
    )


async def test_an_open_invoice_credited_in_part_is_paid_by_the_rest(kit, services) -> None:
    invoice = await _open(kit)
    await services.credit_notes.create(invoice.id, CreateCreditNote(amount=2_000))
    await services.invoices.mark_paid(invoice.id)
    after = await services.invoices.get(invoice.id)
    # Marked paid by hand: what was neither paid nor credited was paid otherwise.
    assert (after.amount_paid, after.amount_credited, after.amount_due.amount) == (20_000, 2_000, 0)


async def test_a_credited_invoice_cannot_be_voided(kit, services) -> None:
    invoice = await _open(kit)
    await services.credit_notes.create(invoice.id, CreateCreditNote(amount=100))
    with pytest.raises(InvoiceCreditedError) as caught:
        await services.invoices.void(invoice.id)
    assert caught.value.amount_credited == 100
    assert (await services.invoices.get(invoice.id)).status is InvoiceStatus.OPEN


async def test_numbers_are_one_yearly_sequence_of_their_own(kit, services, clock) -> None:
    first, second = await _open(kit), await _open(kit)  # INV-...-000001 and 000002
    numbers = [
        (await services.credit_notes.create(i.id, CreateCreditNote(amount=100))).number
        for i in (first, second, first)
    ]
    year = clock.now().year
    assert numbers == [format_credit_note_number(year, n) for n in (1, 2, 3)]
    clock.set(clock.now().replace(year=year + 1, month=1, day=1))
    next_year = await services.credit_notes.create(second.id, CreateCreditNote(amount=100))
    assert next_year.number == format_credit_note_number(year + 1, 1)
    assert first.number == f"INV-{year}-000001"  # invoices keep their own sequence


async def test_it_is_in_the_audit_trail_and_published(kit, services, harness) -> None:
    invoice = await _open(kit)
    harness.publisher.clear()
    note = await services.credit_notes.create(invoice.id, CreateCreditNote(amount=1_100))
    record = kit.records(invoice.booking_id)[-1]
    assert (record.type, record.amount, record.currency) == (
        BillingRecordType.CREDIT_NOTE_ISSUED,
        1_100,
        "EUR",
    )
    assert (record.invoice_id, record.refund_id, record.description) == (
        invoice.id,
        None,
        f"Credit note {note.number} for invoice {invoice.number}",
    )
    assert verify_chain(kit.records(invoice.booking_id)).ok
    assert harness.published_types() == ["credit_note.issued"]
    event = harness.publisher.events[-1]
    assert (event.stream_id, event.credit_note.number) == (invoice.id, note.number)


async def test_reading_and_listing(kit, services, clock) -> None:
    invoice = await _open(kit)
    made = []
    for _ in range(3):
        made.append(await services.credit_notes.create(invoice.id, CreateCreditNote(amount=10)))
        clock.advance(timedelta(seconds=1))
    assert (await services.credit_notes.get(made[1].id)).number == made[1].number
    first = await services.credit_notes.list_by_invoice(invoice.id, PageRequest(limit=2))
    rest = await services.credit_notes.list_by_invoice(
        invoice.id, PageRequest(limit=2, after=Cursor.decode(first.next_cursor or ""))
    )
    assert [n.id for n in [*first.items, *rest.items]] == [n.id for n in made]
    assert [n.id for n in await services.credit_notes.all_for_invoice(invoice.id)] == [
        n.id for n in made
    ]
    with pytest.raises(NotFoundError):
        await services.credit_notes.get(uuid4())
    with pytest.raises(NotFoundError):
        await services.credit_notes.list_by_invoice(uuid4(), PageRequest())
    with pytest.raises(NotFoundError):
        await services.credit_notes.create(uuid4(), CreateCreditNote(amount=1))


@pytest.mark.parametrize(
    ("command", "field"),
    [
        (CreateCreditNote(amount=0), "amount"),
        (CreateCreditNote(amount=-5), "amount"),
        (CreateCreditNote(amount=10.0), "amount"),  # type: ignore[arg-type]
        (CreateCreditNote(amount=10, reason="because"), "reason"),
        (CreateCreditNote(amount=10, memo="x" * 1_001), "memo"),
    ],
)
async def test_bad_requests_change_nothing(kit, services, command, field) -> None:
    invoice = await _open(kit)
    with pytest.raises(ValidationError) as caught:
        await services.credit_notes.create(invoice.id, command)
    assert caught.value.field == field
    assert (await services.invoices.get(invoice.id)).amount_credited == 0


async def test_a_card_number_in_the_memo_is_refused(kit, services) -> None:
    invoice = await _open(kit)
    with pytest.raises(RawCardDataError) as caught:
        await services.credit_notes.create(
            invoice.id, CreateCreditNote(amount=10, memo="card 4242 4242 4242 4242")
        )
    assert caught.value.field == "memo"


async def test_the_same_key_returns_the_same_note(kit, services) -> None:
    invoice = await _open(kit)
    command = CreateCreditNote(amount=500, reason="duplicate")
    first = await services.credit_notes.create(invoice.id, command, idempotency_key="k1")
    again = await services.credit_notes.create(invoice.id, command, idempotency_key="k1")
    assert (again.id, again.number) == (first.id, first.number)
    assert (await services.invoices.get(invoice.id)).amount_credited == 500
    with pytest.raises(IdempotencyKeyReusedError):
        await services.credit_notes.create(
            invoice.id, CreateCreditNote(amount=501), idempotency_key="k1"
        )


# ---------------------------------------------------------------------------- the tax share


def test_the_tax_of_a_first_note_is_its_share_rounded_half_even() -> None:
    # 2500 * 2000 / 22000 = 227.27 -> 227; 1100 * 2000 / 22000 = 100 exactly.
    assert credit_tax(invoice_total=22_000, invoice_tax=2_000, credited_before=0, amount=2_500) == (
        227
    )
    assert credit_tax(invoice_total=22_000, invoice_tax=2_000, credited_before=0, amount=1_100) == (
        100
    )
    # 5 * 1 / 2 = 2.5 -> 2 (to even); 3 * 1 / 2 = 1.5 -> 2.
    assert credit_tax(invoice_total=2, invoice_tax=1, credited_before=0, amount=5) == 2
    assert credit_tax(invoice_total=2, invoice_tax=1, credited_before=0, amount=3) == 2
    assert credit_tax(invoice_total=0, invoice_tax=0, credited_before=0, amount=0) == 0


lines = st.lists(
    st.builds(
        LineItem,
        description=st.just("Line"),
        quantity=st.integers(1, 5),
        unit_amount=st.integers(0, 50_000),
        tax_rate_bps=st.sampled_from([0, 550, 700, 1000, 2000, 10_000]),
    ),
    min_size=1,
    max_size=4,
)


@settings(max_examples=300, deadline=None)
@given(lines=lines, cuts=st.lists(st.integers(1, 10**6), min_size=1, max_size=8))
def test_the_taxes_of_notes_that_credit_an_invoice_whole_are_exactly_its_tax(lines, cuts) -> None:
    """Each note's tax is within 0..amount, never more than one minor unit off its share,
    and the notes of a fully credited invoice carry exactly the invoice's tax."""
    total = sum(i.amount + i.tax for i in lines)
    tax = sum(i.tax for i in lines)
    if total == 0:
        return
    amounts, left = [], total
    for cut in cuts:
        if left == 0:
            break
        part = min(left, 1 + cut % left)
        amounts.append(part)
        left -= part
    if left:
        amounts.append(left)
    credited, taxes = 0, []
    for amount in amounts:
        share = credit_tax(
            invoice_total=total, invoice_tax=tax, credited_before=credited, amount=amount
        )
        assert 0 <= share <= amount
        assert abs(share * total - amount * tax) <= total  # within one minor unit of its share
        taxes.append(share)
        credited += amount
    assert sum(taxes) == tax
    assert taxes[0] == round_half_even(amounts[0] * tax, total)

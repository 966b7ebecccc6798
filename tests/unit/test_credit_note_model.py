"""The credit note aggregate and the invoice's side of a credit, without the services."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from uuid import uuid4

import pytest

from payment_adapters.messaging.codec import encode_event
from payment_adapters.wire import credit_note_view
from payment_core import CreateCreditNote, Currency, Invoice, LineItem, Money
from payment_core.errors import ValidationError
from payment_core.model.credit_note import CreditNote
from payment_core.pagination import PageRequest

NOW = datetime(2026, 11, 30, 9, 5, tzinfo=UTC)
EUR = Currency.of("EUR")


def _note(**overrides: object) -> CreditNote:
    fields: dict[str, object] = {
        "id": uuid4(), "number": "CN-2026-000001", "invoice_id": uuid4(), "booking_id": uuid4(),
        "guest_id": uuid4(), "amount": Money(2_500, EUR), "tax": 227, "now": NOW,
        "event_id": uuid4(),
    }  # fmt: skip
    fields.update(overrides)
    return CreditNote.issue(**fields)  # type: ignore[arg-type]


def test_a_note_is_issued_with_its_event() -> None:
    note = _note(reason="order_change", memo="Spa")
    assert (note.net, note.created_at, note.version) == (2_273, NOW, 0)
    [event] = note.events
    assert (event.type, event.stream_id, event.credit_note.number) == (
        "credit_note.issued",
        note.invoice_id,
        "CN-2026-000001",
    )


@pytest.mark.parametrize(
    ("overrides", "field"),
    [
        ({"tax": 2_501}, "tax"),
        ({"tax": -1}, "tax"),
        ({"tax": 1.0}, "tax"),
        ({"number": "INV-2026-000001"}, "number"),
        ({"amount": Money(0, EUR)}, "amount"),
        ({"reason": "whim"}, "reason"),
    ],
)
def test_a_note_that_cannot_be_is_refused(overrides, field) -> None:
    with pytest.raises(ValidationError) as caught:
        _note(**overrides)
    assert caught.value.field == field


def test_an_invoice_takes_only_positive_integer_credits_and_customers() -> None:
    invoice = Invoice.draft(
        id=uuid4(), booking_id=uuid4(), guest_id=uuid4(), currency=EUR, now=NOW,
        line_items=[LineItem("Room", 1, 10_000, 1_000)],
    )  # fmt: skip
    invoice.issue(now=NOW, number="INV-2026-000001", event_id=uuid4())
    for bad in (0, -1, 5.0, True):
        with pytest.raises(ValidationError):
            invoice.credit(amount=bad, now=NOW)  # type: ignore[arg-type]
    assert invoice.amount_credited == 0
    with pytest.raises(ValidationError) as caught:
        Invoice.draft(
            id=uuid4(), booking_id=uuid4(), guest_id=uuid4(), currency=EUR, now=NOW,
            customer={"name": "Zoë"},  # type: ignore[arg-type]
        )  # fmt: skip
    assert caught.value.field == "customer"


async def test_every_note_of_an_invoice_is_found_past_one_page(kit, services) -> None:
    invoice = await services.invoices.issue((await kit.draft([LineItem("Room", 1, 100_000)])).id)
    for _ in range(205):
        await services.credit_notes.create(invoice.id, CreateCreditNote(amount=1))
    notes = await services.credit_notes.all_for_invoice(invoice.id)
    assert len(notes) == 205
    assert len({n.number for n in notes}) == 205
    page = await services.credit_notes.list_by_invoice(invoice.id, PageRequest(limit=200))
    assert page.next_cursor is not None


def test_the_event_envelope_carries_the_credit_note_view() -> None:
    note = _note(reason="order_change", memo="Spa", refund_id=uuid4())
    [event] = note.events
    envelope = json.loads(encode_event(event))
    assert (envelope["type"], envelope["subject"]) == ("credit_note.issued", str(note.invoice_id))
    assert envelope["data"] == credit_note_view(note)
    assert envelope["data"]["refund_id"] == str(note.refund_id)
    assert envelope["data"]["created_at"] == "2026-11-30T09:05:00Z"

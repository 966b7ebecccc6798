"""Sample documents, and the command that prints them to PDF files.

    python -m payment_adapters.documents.samples docs/samples

writes ``invoice.pdf``, ``credit-note.pdf`` and ``receipt.pdf`` there, from the fixed documents
below, and ``*-from-flow.pdf``: the invoice, credit note and receipt of a real flow through the
services on the in-memory harness (a payment, its invoice, a refund that issues the credit
note), read and printed as the HTTP service does. The ones in docs/samples were made so; the
clock and the ids of the flow are fixed, so the files are the same on every run.
"""

from __future__ import annotations

import asyncio
import sys
from collections.abc import Sequence
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from uuid import UUID

from payment_adapters.documents.credit_note import render_credit_note
from payment_adapters.documents.invoice import render_invoice
from payment_adapters.documents.model import (
    CreditNoteDocument,
    CreditNoteLine,
    InvoiceDocument,
    InvoiceLine,
    InvoiceStatus,
    Party,
    ReceiptDocument,
    ReceiptRefund,
    ReceiptStatus,
)
from payment_adapters.documents.receipt import render_receipt
from payment_adapters.documents.sources import (
    load_credit_note_document,
    load_invoice_document,
    load_receipt_document,
    render,
)
from payment_core.ids import uuid_from_int
from payment_core.model.customer import Address, Customer
from payment_core.model.invoice import LineItem
from payment_core.money import tax_for
from payment_core.services import (
    CreateInvoice,
    CreatePayment,
    Dependencies,
    ProviderRegistry,
    ServiceConfig,
    Services,
)
from payment_core.testing import FakeProvider, InMemoryStore, InMemoryUnitOfWork, SettableClock

__all__ = [
    "SAMPLE_CREDIT_NOTE",
    "SAMPLE_INVOICE",
    "SAMPLE_RECEIPT",
    "documents_from_flow",
    "invoice_of",
    "line",
    "main",
]

SELLER = Party(
    name="Hotel Aurora GmbH",
    address="Seestraße 12\n6900 Bregenz\nAustria",
    tax_id="ATU12345678",
    email="billing@hotel-aurora.example",
)
GUEST = Party(
    name="Zoë Ñúñez-Åberg",
    address="Calle de Alcalá 42, 3º izq.\n28014 Madrid\nSpain",
    tax_id="ES-X1234567L",
    email="zoe@example.org",
)


def line(description: str, quantity: int, unit_amount: int, tax_rate_bps: int) -> InvoiceLine:
    """A line whose total is ``quantity * unit_amount``."""
    return InvoiceLine(
        description=description,
        quantity=quantity,
        unit_amount=unit_amount,
        tax_rate_bps=tax_rate_bps,
        line_total=quantity * unit_amount,
    )


def invoice_of(
    lines: Sequence[InvoiceLine],
    *,
    seller: Party = SELLER,
    customer: Party = GUEST,
    number: str | None = "INV-2026-000042",
    status: InvoiceStatus = InvoiceStatus.OPEN,
    currency: str = "EUR",
    issue_date: date = date(2026, 11, 28),
    due_date: date | None = date(2026, 12, 28),
    amount_paid: int = 0,
    credit_notes: Sequence[CreditNoteLine] = (),
    notes: str | None = None,
) -> InvoiceDocument:
    """An invoice over ``lines`` with its totals computed the way invoices compute them."""
    subtotal = sum(item.line_total for item in lines)
    tax = sum(tax_for(item.line_total, item.tax_rate_bps) for item in lines)
    credited = sum(note.amount for note in credit_notes)
    return InvoiceDocument(
        seller=seller,
        customer=customer,
        number=number,
        status=status,
        issue_date=issue_date,
        due_date=due_date,
        currency=currency,
        lines=tuple(lines),
        subtotal=subtotal,
        tax=tax,
        total=subtotal + tax,
        amount_paid=amount_paid,
        amount_due=max(0, subtotal + tax - amount_paid - credited),
        credit_notes=tuple(credit_notes),
        notes=notes,
    )


SAMPLE_INVOICE = invoice_of(
    [
        line("Deluxe double room, lake view (25-28 Nov 2026)", 3, 18900, 1000),
        line("Breakfast buffet, two guests", 6, 2450, 1000),
        line("Spa access: thermal baths and sauna, including towels and robe", 2, 3500, 2000),
        line("Local tourist tax, per person per night", 6, 235, 0),
        line("Airport transfer (Flughafen Zürich → hotel)", 1, 9500, 1000),
    ],
    status=InvoiceStatus.PAID,
    amount_paid=98800,
    credit_notes=[CreditNoteLine("CN-2026-000007", date(2026, 11, 30), 2500)],
    notes="Thank you for staying with us.\nPaid by card on 2026-11-28; reference PAY-7F3K9Q2M.",
)

SAMPLE_CREDIT_NOTE = CreditNoteDocument(
    seller=SELLER,
    customer=GUEST,
    number="CN-2026-000007",
    invoice_number="INV-2026-000042",
    date=date(2026, 11, 30),
    amount=2500,
    tax=240,
    currency="EUR",
    reason="order_change",
    memo="Spa access not used on the second day.",
)

SAMPLE_RECEIPT = ReceiptDocument(
    merchant=Party(name=SELLER.name, address=SELLER.address),
    reference="PAY-7F3K9Q2M",
    amount=98800,
    currency="EUR",
    date=datetime(2026, 11, 28, 10, 42, tzinfo=UTC),
    status=ReceiptStatus.PARTIALLY_REFUNDED,
    card_brand="visa",
    card_last4="4242",
    refunds=(ReceiptRefund(datetime(2026, 11, 30, 9, 5, tzinfo=UTC), 2500),),
)


class _FixedIds:
    """Ids and references that are the same on every run (so are the flow's documents)."""

    def __init__(self) -> None:
        self._next = 0

    def new_id(self) -> UUID:
        self._next += 1
        return uuid_from_int(self._next)

    def new_reference(self, prefix: str) -> str:
        self._next += 1
        return f"{prefix}_{self._next:026d}"


async def documents_from_flow() -> dict[str, bytes]:
    """A guest pays, is invoiced (PAID by that payment), gets part back two days later: the
    refund issues the credit note. Each document is read back and printed as served."""
    clock = SettableClock(datetime(2026, 11, 28, 10, 42, tzinfo=UTC))
    store = InMemoryStore()
    services = Services.build(
        Dependencies(
            uow=lambda: InMemoryUnitOfWork(store),
            providers=ProviderRegistry([FakeProvider()]),
            clock=clock,
            ids=_FixedIds(),
            config=ServiceConfig(default_provider="fake"),
        )
    )
    booking, guest = uuid_from_int(0xB00C), uuid_from_int(0x6E57)
    lines = [
        LineItem(item.description, item.quantity, item.unit_amount, item.tax_rate_bps)
        for item in SAMPLE_INVOICE.lines
    ]
    total = sum(item.amount + item.tax for item in lines)
    payment = await services.payments.create(
        CreatePayment(booking_id=booking, guest_id=guest, amount=total, currency="EUR")
    )
    payment = await services.payments.confirm(payment.id, "pm_card_visa")
    draft = await services.invoices.create(
        CreateInvoice(
            booking_id=booking,
            guest_id=guest,
            currency="EUR",
            line_items=lines,
            due_date=date(2026, 12, 28),
            payment_id=payment.id,
            notes="Thank you for staying with us.",
            customer=Customer(
                name=GUEST.name,
                email=GUEST.email,
                tax_id=GUEST.tax_id,
                address=Address(
                    line1="Calle de Alcalá 42, 3º izq.",
                    city="Madrid",
                    postal_code="28014",
                    country="ES",
                ),
            ),
        )
    )
    invoice = await services.invoices.issue(draft.id)
    clock.advance(timedelta(days=2, hours=-1, minutes=-37))
    await services.refunds.create(payment.id, 2_500, "requested_by_customer")
    [note] = await services.credit_notes.all_for_invoice(invoice.id)
    return {
        "invoice-from-flow.pdf": render(await load_invoice_document(services, invoice.id, SELLER)),
        "credit-note-from-flow.pdf": render(
            await load_credit_note_document(services, note.id, SELLER)
        ),
        "receipt-from-flow.pdf": render(
            await load_receipt_document(services, payment.reference, SELLER)
        ),
    }


def main(argv: Sequence[str] | None = None) -> int:
    args = sys.argv[1:] if argv is None else list(argv)
    target = Path(args[0] if args else ".")
    target.mkdir(parents=True, exist_ok=True)
    (target / "invoice.pdf").write_bytes(render_invoice(SAMPLE_INVOICE))
    (target / "credit-note.pdf").write_bytes(render_credit_note(SAMPLE_CREDIT_NOTE))
    (target / "receipt.pdf").write_bytes(render_receipt(SAMPLE_RECEIPT))
    for name, content in asyncio.run(documents_from_flow()).items():
        (target / name).write_bytes(content)
    return 0


if __name__ == "__main__":
    sys.exit(main())

"""The documents of the service's own invoices, credit notes and payments, and their PDFs.

``*_document`` functions read what a document prints through the use cases and copy it into
the renderers' input types; :func:`render` turns a document into PDF bytes, remembering the
last few it made. A document is a frozen value of everything printed, so it is its own cache
key: the same version of an invoice (same lines, status, payments, credit notes, seller) is
the same document and gets the same bytes without being drawn again, and any change makes
another document. Rendering is CPU work (0.3 s and more): call :func:`render` in a worker
thread from async code.
"""

from __future__ import annotations

import functools
from datetime import UTC, date, datetime
from typing import Final
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
from payment_core.errors import NotFoundError
from payment_core.model.billing import BillingRecordType
from payment_core.model.credit_note import CreditNote
from payment_core.model.customer import Customer
from payment_core.model.invoice import Invoice
from payment_core.model.payment import Payment, PaymentStatus
from payment_core.model.refund import Refund, RefundStatus
from payment_core.pagination import MAX_LIMIT, PageRequest
from payment_core.services import Services

__all__ = [
    "CACHE_SIZE",
    "Document",
    "credit_note_document",
    "customer_party",
    "invoice_document",
    "load_credit_note_document",
    "load_invoice_document",
    "load_receipt_document",
    "receipt_document",
    "render",
]

Document = InvoiceDocument | CreditNoteDocument | ReceiptDocument
#: Documents whose bytes are kept (one-page documents are 30-40 kB).
CACHE_SIZE: Final = 64


def _day(value: datetime) -> date:
    return value.astimezone(UTC).date()


def customer_party(customer: Customer | None) -> Party:
    """The ``Bill to`` block: the customer's name, address lines, tax id and e-mail."""
    if customer is None:
        return Party()
    address = customer.address
    return Party(
        name=customer.name or "",
        address=() if address is None else address.lines(),
        tax_id=customer.tax_id,
        email=customer.email,
    )


def invoice_document(
    invoice: Invoice, credit_notes: list[CreditNote], seller: Party
) -> InvoiceDocument:
    """What the invoice PDF prints, from the invoice and its credit notes."""
    return InvoiceDocument(
        seller=seller,
        customer=customer_party(invoice.customer),
        number=invoice.number,
        status=InvoiceStatus(invoice.status.value),
        # A draft has no issue date yet: it shows the day it was drafted.
        issue_date=_day(invoice.issued_at or invoice.created_at),
        due_date=invoice.due_date,
        currency=invoice.currency.code,
        lines=[
            InvoiceLine(
                description=item.description,
                quantity=item.quantity,
                unit_amount=item.unit_amount,
                tax_rate_bps=item.tax_rate_bps,
                line_total=item.amount,
            )
            for item in invoice.line_items
        ],
        subtotal=invoice.subtotal.amount,
        tax=invoice.tax.amount,
        total=invoice.total.amount,
        amount_paid=invoice.amount_paid,
        amount_due=invoice.amount_due.amount,
        credit_notes=[
            CreditNoteLine(note.number, _day(note.created_at), note.amount.amount)
            for note in credit_notes
        ],
        notes=invoice.notes,
    )


def credit_note_document(note: CreditNote, invoice: Invoice, seller: Party) -> CreditNoteDocument:
    """What the credit note PDF prints."""
    return CreditNoteDocument(
        seller=seller,
        customer=customer_party(invoice.customer),
        number=note.number,
        invoice_number=invoice.number or "",
        date=_day(note.created_at),
        amount=note.amount.amount,
        tax=note.tax,
        currency=note.amount.currency.code,
        reason=note.reason,
        memo=note.memo,
    )


def receipt_document(
    payment: Payment, refunds: list[Refund], paid_at: datetime, merchant: Party
) -> ReceiptDocument:
    """What the receipt PDF prints: the merchant, the payment, its card and its completed
    refunds. Nothing else about the guest: the document has no place for it."""
    done = [r for r in refunds if r.status is RefundStatus.COMPLETED]
    refunded = sum(r.amount.amount for r in done)
    if refunded == 0:
        status = ReceiptStatus.PAID
    elif refunded >= payment.amount.amount:
        status = ReceiptStatus.REFUNDED
    else:
        status = ReceiptStatus.PARTIALLY_REFUNDED
    card = payment.card
    return ReceiptDocument(
        merchant=merchant,
        reference=payment.reference,
        amount=payment.amount.amount,
        currency=payment.amount.currency.code,
        date=paid_at,
        status=status,
        card_brand=None if card is None else card.brand,
        card_last4=None if card is None else card.last4,
        # When each completed: a completed refund changes no more (a reversal fails it).
        refunds=[ReceiptRefund(r.updated_at, r.amount.amount) for r in done],
    )


# ---------------------------------------------------------------- reading them


async def load_invoice_document(
    services: Services, invoice_id: UUID, seller: Party
) -> InvoiceDocument:
    invoice = await services.invoices.get(invoice_id)
    notes = await services.credit_notes.all_for_invoice(invoice.id)
    return invoice_document(invoice, notes, seller)


async def load_credit_note_document(
    services: Services, credit_note_id: UUID, seller: Party
) -> CreditNoteDocument:
    note = await services.credit_notes.get(credit_note_id)
    invoice = await services.invoices.get(note.invoice_id)
    return credit_note_document(note, invoice, seller)


async def load_receipt_document(
    services: Services, reference: str, merchant: Party
) -> ReceiptDocument:
    """The receipt of the payment with this public reference.

    Only a ``COMPLETED`` payment has one (Stripe makes receipts for successful payments
    only): any other is ``NotFoundError``, as an unknown reference is.
    """
    payment = await services.payments.get_by_reference(reference)
    if payment.status is not PaymentStatus.COMPLETED:
        raise NotFoundError(entity="receipt", key="(reference)")
    refunds: list[Refund] = []
    page = PageRequest(limit=MAX_LIMIT)
    while True:
        found = await services.refunds.list_by_payment(payment.id, page)
        refunds.extend(found.items)
        if found.next_cursor is None:
            break
        page = PageRequest.parse(limit=MAX_LIMIT, cursor=found.next_cursor)
    return receipt_document(payment, refunds, await _paid_at(services, payment), merchant)


async def _paid_at(services: Services, payment: Payment) -> datetime:
    """When the money was taken: the time of the payment's ``CHARGE`` record, written in the
    transaction that completed it (a payment keeps no such time of its own)."""
    page = PageRequest(limit=MAX_LIMIT)
    while True:
        found = await services.billing.list_by_booking(payment.booking_id, page)
        for record in found.items:
            if record.type is BillingRecordType.CHARGE and record.payment_id == payment.id:
                return record.created_at
        if found.next_cursor is None:
            return payment.updated_at
        page = PageRequest.parse(limit=MAX_LIMIT, cursor=found.next_cursor)


# ---------------------------------------------------------------- rendering


@functools.lru_cache(maxsize=CACHE_SIZE)
def render(document: Document) -> bytes:
    """The PDF of ``document``; the same document again is answered from memory."""
    if isinstance(document, InvoiceDocument):
        return render_invoice(document)
    if isinstance(document, CreditNoteDocument):
        return render_credit_note(document)
    return render_receipt(document)

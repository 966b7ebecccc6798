"""Invoices, credit notes and billing records: their views, declared once and built once."""

from __future__ import annotations

from typing import Literal, cast

# pydantic reads TypedDicts for the AsyncAPI document, and wants typing_extensions' before 3.12.
from typing_extensions import TypedDict

from payment_adapters.wire._common import Id, Timestamp, date_text, id_text, rfc3339
from payment_core.model.billing import BillingRecord
from payment_core.model.credit_note import CreditNote
from payment_core.model.invoice import Invoice

__all__ = [
    "Address",
    "BillingRecordView",
    "CreditNoteData",
    "CreditNoteView",
    "Customer",
    "InvoiceData",
    "InvoiceView",
    "LineItem",
    "billing_record_view",
    "credit_note_view",
    "invoice_view",
]


class LineItem(TypedDict):
    description: str
    quantity: int
    unit_amount: int
    tax_rate_bps: int
    amount: int
    tax: int


class Address(TypedDict):
    line1: str | None
    line2: str | None
    city: str | None
    postal_code: str | None
    country: str | None


class Customer(TypedDict):
    """Who the invoice is made out to (every field may be null)."""

    name: str | None
    email: str | None
    tax_id: str | None
    address: Address | None


class InvoiceData(TypedDict):
    """An invoice as of the event."""

    id: Id
    number: str | None
    status: Literal["DRAFT", "OPEN", "PAID", "VOID", "UNCOLLECTIBLE"]
    booking_id: Id
    guest_id: Id
    currency: str
    line_items: list[LineItem]
    subtotal: int
    tax: int
    total: int
    amount_paid: int
    amount_due: int
    amount_credited: int
    due_date: str | None
    issued_at: Timestamp | None
    paid_at: Timestamp | None
    voided_at: Timestamp | None
    payment_id: Id | None
    notes: str | None
    customer: Customer | None
    created_at: Timestamp
    updated_at: Timestamp


class InvoiceView(InvoiceData):
    pass


class CreditNoteData(TypedDict):
    """A credit note as issued (`amount` includes `tax`, the invoice's tax share of it)."""

    id: Id
    number: str
    invoice_id: Id
    booking_id: Id
    amount: int
    tax: int
    currency: str
    reason: str | None
    memo: str | None
    refund_id: Id | None
    created_at: Timestamp


class CreditNoteView(CreditNoteData):
    pass


class BillingRecordView(TypedDict):
    id: Id
    type: Literal[
        "CHARGE",
        "REFUND",
        "REFUND_REVERSED",
        "INVOICE_ISSUED",
        "INVOICE_VOIDED",
        "CREDIT_NOTE_ISSUED",
        "CHARGEBACK",
        "CHARGEBACK_REVERSED",
    ]
    booking_id: Id
    guest_id: Id
    payment_id: Id | None
    refund_id: Id | None
    invoice_id: Id | None
    amount: int
    currency: str
    description: str
    sequence: int | None
    created_at: Timestamp
    previous_hash: str | None
    hash: str


def invoice_view(invoice: Invoice) -> InvoiceView:
    return {
        "id": str(invoice.id),
        "number": invoice.number,
        "status": invoice.status.value,
        "booking_id": str(invoice.booking_id),
        "guest_id": str(invoice.guest_id),
        "currency": invoice.currency.code,
        "line_items": [
            {
                "description": item.description,
                "quantity": item.quantity,
                "unit_amount": item.unit_amount,
                "tax_rate_bps": item.tax_rate_bps,
                "amount": item.amount,
                "tax": item.tax,
            }
            for item in invoice.line_items
        ],
        "subtotal": invoice.subtotal.amount,
        "tax": invoice.tax.amount,
        "total": invoice.total.amount,
        "amount_paid": invoice.amount_paid,
        "amount_due": invoice.amount_due.amount,
        "amount_credited": invoice.amount_credited,
        "due_date": date_text(invoice.due_date),
        "issued_at": rfc3339(invoice.issued_at),
        "paid_at": rfc3339(invoice.paid_at),
        "voided_at": rfc3339(invoice.voided_at),
        "payment_id": id_text(invoice.payment_id),
        "notes": invoice.notes,
        "customer": None
        if invoice.customer is None
        else cast(Customer, invoice.customer.to_json()),
        "created_at": rfc3339(invoice.created_at),
        "updated_at": rfc3339(invoice.updated_at),
    }


def credit_note_view(note: CreditNote) -> CreditNoteView:
    return {
        "id": str(note.id),
        "number": note.number,
        "invoice_id": str(note.invoice_id),
        "booking_id": str(note.booking_id),
        "amount": note.amount.amount,
        "tax": note.tax,
        "currency": note.amount.currency.code,
        "reason": note.reason,
        "memo": note.memo,
        "refund_id": id_text(note.refund_id),
        "created_at": rfc3339(note.created_at),
    }


def billing_record_view(record: BillingRecord) -> BillingRecordView:
    return {
        "id": str(record.id),
        "type": record.type.value,
        "booking_id": str(record.booking_id),
        "guest_id": str(record.guest_id),
        "payment_id": id_text(record.payment_id),
        "refund_id": id_text(record.refund_id),
        "invoice_id": id_text(record.invoice_id),
        "amount": record.amount,
        "currency": record.currency,
        "description": record.description,
        "sequence": record.sequence,
        "created_at": rfc3339(record.created_at),
        "previous_hash": record.previous_hash,
        "hash": record.hash,
    }

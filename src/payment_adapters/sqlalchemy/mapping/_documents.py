"""Invoices, credit notes and billing records to and from their rows."""

from __future__ import annotations

import json
from typing import Any

from payment_adapters.crypto import Cipher
from payment_adapters.sqlalchemy.mapping._sealing import (
    Row,
    open_text,
    seal_text,
)
from payment_core.model.billing import BillingRecord, BillingRecordType
from payment_core.model.credit_note import CreditNote
from payment_core.model.customer import Customer
from payment_core.model.invoice import Invoice, InvoiceStatus, LineItem
from payment_core.money import Currency, Money


# ------------------------------------------------------------------------------ invoices
def _line_to_json(item: LineItem) -> dict[str, Any]:
    return {
        "description": item.description,
        "quantity": item.quantity,
        "unit_amount": item.unit_amount,
        "tax_rate_bps": item.tax_rate_bps,
    }


def _customer_json(customer: Customer | None) -> str | None:
    if customer is None:
        return None
    return json.dumps(customer.to_json(), sort_keys=True, separators=(",", ":"))


def invoice_to_row(invoice: Invoice, cipher: Cipher) -> dict[str, Any]:
    customer = _customer_json(invoice.customer)
    return {
        "id": invoice.id,
        "number": invoice.number,
        "status": invoice.status.value,
        "booking_id": invoice.booking_id,
        "guest_id": invoice.guest_id,
        "currency": invoice.currency.code,
        "line_items": [_line_to_json(i) for i in invoice.line_items],
        "subtotal": invoice.subtotal.amount,
        "tax": invoice.tax.amount,
        "total": invoice.total.amount,
        "amount_paid": invoice.amount_paid,
        "amount_applied": invoice.amount_applied,
        "due_date": invoice.due_date,
        "payment_id": invoice.payment_id,
        "notes": seal_text(cipher, "invoices", "notes", invoice.id, invoice.notes),
        "customer": seal_text(cipher, "invoices", "customer", invoice.id, customer),
        "amount_credited": invoice.amount_credited,
        "issued_at": invoice.issued_at,
        "paid_at": invoice.paid_at,
        "voided_at": invoice.voided_at,
        "created_at": invoice.created_at,
        "updated_at": invoice.updated_at,
        "version": invoice.version,
    }


def invoice_from_row(row: Row, cipher: Cipher) -> Invoice:
    ident = row["id"]
    customer = open_text(cipher, "invoices", "customer", ident, row["customer"])
    return Invoice(
        id=ident,
        booking_id=row["booking_id"],
        guest_id=row["guest_id"],
        currency=Currency.of(row["currency"]),
        status=InvoiceStatus(row["status"]),
        created_at=row["created_at"],
        updated_at=row["updated_at"],
        line_items=tuple(
            LineItem(
                description=i["description"],
                quantity=i["quantity"],
                unit_amount=i["unit_amount"],
                tax_rate_bps=i["tax_rate_bps"],
            )
            for i in row["line_items"]
        ),
        number=row["number"],
        due_date=row["due_date"],
        payment_id=row["payment_id"],
        notes=open_text(cipher, "invoices", "notes", ident, row["notes"]),
        customer=None if customer is None else Customer.from_json(json.loads(customer)),
        amount_paid=row["amount_paid"],
        amount_applied=row["amount_applied"],
        amount_credited=row["amount_credited"],
        issued_at=row["issued_at"],
        paid_at=row["paid_at"],
        voided_at=row["voided_at"],
        version=row["version"],
    )


# ------------------------------------------------------------------------------ credit notes
def credit_note_to_row(note: CreditNote, cipher: Cipher) -> dict[str, Any]:
    return {
        "id": note.id,
        "number": note.number,
        "invoice_id": note.invoice_id,
        "booking_id": note.booking_id,
        "guest_id": note.guest_id,
        "amount": note.amount.amount,
        "tax": note.tax,
        "currency": note.amount.currency.code,
        "reason": note.reason,
        "memo": seal_text(cipher, "credit_notes", "memo", note.id, note.memo),
        "refund_id": note.refund_id,
        "created_at": note.created_at,
        "version": note.version,
    }


def credit_note_from_row(row: Row, cipher: Cipher) -> CreditNote:
    ident = row["id"]
    return CreditNote(
        id=ident,
        number=row["number"],
        invoice_id=row["invoice_id"],
        booking_id=row["booking_id"],
        guest_id=row["guest_id"],
        amount=Money(row["amount"], Currency.of(row["currency"])),
        tax=row["tax"],
        created_at=row["created_at"],
        reason=row["reason"],
        memo=open_text(cipher, "credit_notes", "memo", ident, row["memo"]),
        refund_id=row["refund_id"],
        version=row["version"],
    )


# ------------------------------------------------------------------------------ billing
def billing_to_row(record: BillingRecord) -> dict[str, Any]:
    return {
        "id": record.id,
        "type": record.type.value,
        "booking_id": record.booking_id,
        "guest_id": record.guest_id,
        "sequence": record.sequence,
        "amount": record.amount,
        "currency": record.currency,
        "description": record.description,
        "created_at": record.created_at,
        "previous_hash": record.previous_hash,
        "hash": record.hash,
        "payment_id": record.payment_id,
        "refund_id": record.refund_id,
        "invoice_id": record.invoice_id,
    }


def billing_from_row(row: Row) -> BillingRecord:
    return BillingRecord(
        id=row["id"],
        type=BillingRecordType(row["type"]),
        booking_id=row["booking_id"],
        guest_id=row["guest_id"],
        sequence=row["sequence"],
        amount=row["amount"],
        currency=row["currency"],
        description=row["description"],
        created_at=row["created_at"],
        previous_hash=row["previous_hash"],
        hash=row["hash"],
        payment_id=row["payment_id"],
        refund_id=row["refund_id"],
        invoice_id=row["invoice_id"],
    )

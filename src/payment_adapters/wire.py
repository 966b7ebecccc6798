"""The wire shapes of resources, as plain JSON-ready dicts.

One definition of each view (payments, refunds, invoices, credit notes, billing records, and the
safe views of the reference endpoints), shared by the HTTP responses and the event envelopes so
that an event's ``data`` is exactly what ``GET`` returns.
"""

from __future__ import annotations

from datetime import UTC, date, datetime
from typing import Any
from uuid import UUID

from payment_core.model.billing import BillingRecord
from payment_core.model.credit_note import CreditNote
from payment_core.model.invoice import Invoice
from payment_core.model.payment import Payment
from payment_core.model.refund import Refund

__all__ = [
    "billing_record_view",
    "credit_note_view",
    "invoice_view",
    "payment_safe_view",
    "payment_view",
    "refund_safe_view",
    "refund_view",
    "rfc3339",
]


def rfc3339(value: datetime | None) -> str | None:
    """``2026-11-28T10:00:00Z`` (microseconds only when there are some)."""
    if value is None:
        return None
    if value.tzinfo is not UTC:
        value = value.astimezone(UTC)
    # isoformat leaves the microseconds out when there are none, as we do; about five times
    # faster than strftime, and this runs three times for every event and every view.
    return value.replace(tzinfo=None).isoformat() + "Z"


def _id(value: UUID | None) -> str | None:
    return None if value is None else str(value)


def _date(value: date | None) -> str | None:
    return None if value is None else value.isoformat()


def payment_view(payment: Payment, *, include_client_secret: bool = True) -> dict[str, Any]:
    """The full view of a payment (``client_secret`` is for the API caller, not for events)."""
    card = payment.card
    view: dict[str, Any] = {
        "id": str(payment.id),
        "reference": payment.reference,
        "booking_id": str(payment.booking_id),
        "guest_id": str(payment.guest_id),
        "amount": payment.amount.amount,
        "currency": payment.amount.currency.code,
        "status": payment.status.value,
        "provider": payment.provider,
        "provider_payment_id": payment.provider_payment_id,
        "amount_refunded": payment.amount_refunded,
        "card": None
        if card is None
        else {
            "brand": card.brand,
            "last4": card.last4,
            "exp_month": card.exp_month,
            "exp_year": card.exp_year,
        },
        "failure_code": payment.failure_code,
        "failure_message": payment.failure_message,
        "next_action": None
        if payment.next_action is None
        else {"type": payment.next_action.type, "url": payment.next_action.url},
        "description": payment.description,
        "metadata": dict(payment.metadata),
        "created_at": rfc3339(payment.created_at),
        "updated_at": rfc3339(payment.updated_at),
    }
    if include_client_secret:
        view["client_secret"] = payment.client_secret
    return view


def payment_safe_view(payment: Payment) -> dict[str, Any]:
    """What a public reference may reveal, and nothing more."""
    card = payment.card
    return {
        "reference": payment.reference,
        "status": payment.status.value,
        "amount": payment.amount.amount,
        "currency": payment.amount.currency.code,
        "amount_refunded": payment.amount_refunded,
        "card": None if card is None else {"brand": card.brand, "last4": card.last4},
        "failure_message": payment.failure_message,
        "updated_at": rfc3339(payment.updated_at),
    }


def refund_view(refund: Refund) -> dict[str, Any]:
    return {
        "id": str(refund.id),
        "reference": refund.reference,
        "payment_id": str(refund.payment_id),
        "booking_id": str(refund.booking_id),
        "amount": refund.amount.amount,
        "currency": refund.amount.currency.code,
        "status": refund.status.value,
        "reason": refund.reason,
        "attempts": refund.attempts,
        "next_retry_at": rfc3339(refund.next_retry_at),
        "failure_reason": refund.failure_reason,
        "created_at": rfc3339(refund.created_at),
        "updated_at": rfc3339(refund.updated_at),
    }


def refund_safe_view(refund: Refund) -> dict[str, Any]:
    return {
        "reference": refund.reference,
        "status": refund.status.value,
        "amount": refund.amount.amount,
        "currency": refund.amount.currency.code,
        "updated_at": rfc3339(refund.updated_at),
    }


def invoice_view(invoice: Invoice) -> dict[str, Any]:
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
        "due_date": _date(invoice.due_date),
        "issued_at": rfc3339(invoice.issued_at),
        "paid_at": rfc3339(invoice.paid_at),
        "voided_at": rfc3339(invoice.voided_at),
        "payment_id": _id(invoice.payment_id),
        "notes": invoice.notes,
        "customer": None if invoice.customer is None else invoice.customer.to_json(),
        "created_at": rfc3339(invoice.created_at),
        "updated_at": rfc3339(invoice.updated_at),
    }


def credit_note_view(note: CreditNote) -> dict[str, Any]:
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
        "refund_id": _id(note.refund_id),
        "created_at": rfc3339(note.created_at),
    }


def billing_record_view(record: BillingRecord) -> dict[str, Any]:
    return {
        "id": str(record.id),
        "type": record.type.value,
        "booking_id": str(record.booking_id),
        "guest_id": str(record.guest_id),
        "payment_id": _id(record.payment_id),
        "refund_id": _id(record.refund_id),
        "invoice_id": _id(record.invoice_id),
        "amount": record.amount,
        "currency": record.currency,
        "description": record.description,
        "sequence": record.sequence,
        "created_at": rfc3339(record.created_at),
        "previous_hash": record.previous_hash,
        "hash": record.hash,
    }

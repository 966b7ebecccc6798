"""Explicit mapping between rows and domain objects, with field encryption on the way.

Plain functions rather than an ORM mapping: the aggregates stay ``attrs`` classes that know
nothing of storage, every column is visible here, and encryption happens in one place.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from datetime import UTC, datetime
from typing import Any
from uuid import UUID

from sqlalchemy.engine import RowMapping

from payment_adapters.crypto import Cipher
from payment_adapters.idempotency import StoredResponse
from payment_core.model.billing import BillingRecord, BillingRecordType
from payment_core.model.credit_note import CreditNote
from payment_core.model.customer import Customer
from payment_core.model.invoice import Invoice, InvoiceStatus, LineItem
from payment_core.model.payment import CaptureMethod, Card, NextAction, Payment, PaymentStatus
from payment_core.model.refund import Refund, RefundStatus
from payment_core.money import Currency, Money
from payment_core.ports import StoredWebhook

__all__ = [
    "associated_data",
    "billing_from_row",
    "billing_to_row",
    "credit_note_from_row",
    "credit_note_to_row",
    "invoice_from_row",
    "invoice_to_row",
    "open_bytes",
    "open_text",
    "payment_from_row",
    "payment_to_row",
    "refund_from_row",
    "refund_to_row",
    "response_from_row",
    "seal_bytes",
    "seal_text",
    "utc_now",
    "webhook_from_row",
    "webhook_to_row",
]

Row = RowMapping | Mapping[str, Any]


def associated_data(table: str, column: str, row_key: object) -> bytes:
    """What binds a ciphertext to its place: ``b"payments.client_secret:<uuid>"``."""
    return f"{table}.{column}:{row_key}".encode()


def seal_bytes(cipher: Cipher, table: str, column: str, row_key: object, value: bytes) -> bytes:
    return cipher.encrypt(value, associated_data=associated_data(table, column, row_key))


def open_bytes(cipher: Cipher, table: str, column: str, row_key: object, value: bytes) -> bytes:
    return cipher.decrypt(bytes(value), associated_data=associated_data(table, column, row_key))


def seal_text(
    cipher: Cipher, table: str, column: str, row_key: object, value: str | None
) -> bytes | None:
    if value is None:
        return None
    return seal_bytes(cipher, table, column, row_key, value.encode("utf-8"))


def open_text(
    cipher: Cipher, table: str, column: str, row_key: object, value: bytes | None
) -> str | None:
    if value is None:
        return None
    return open_bytes(cipher, table, column, row_key, value).decode("utf-8")


# ------------------------------------------------------------------------------ payments
def payment_to_row(payment: Payment, cipher: Cipher) -> dict[str, Any]:
    """Every column of a payment; the sensitive ones sealed to this row."""
    ident = payment.id
    card, action = payment.card, payment.next_action
    metadata = (
        json.dumps(dict(payment.metadata), sort_keys=True, separators=(",", ":"))
        if payment.metadata
        else None
    )
    return {
        "id": ident,
        "reference": payment.reference,
        "booking_id": payment.booking_id,
        "guest_id": payment.guest_id,
        "amount": payment.amount.amount,
        "currency": payment.amount.currency.code,
        "provider": payment.provider,
        "status": payment.status.value,
        "payment_method": payment.payment_method,
        "provider_payment_id": payment.provider_payment_id,
        "client_secret": seal_text(
            cipher, "payments", "client_secret", ident, payment.client_secret
        ),
        "amount_refunded": payment.amount_refunded,
        "amount_refund_pending": payment.amount_refund_pending,
        "card_brand": None if card is None else card.brand,
        "card_last4": None if card is None else card.last4,
        "card_exp_month": None if card is None else card.exp_month,
        "card_exp_year": None if card is None else card.exp_year,
        "failure_code": payment.failure_code,
        "failure_message": payment.failure_message,
        "next_action_type": None if action is None else action.type,
        "next_action_url": None if action is None else action.url,
        "description": seal_text(cipher, "payments", "description", ident, payment.description),
        "metadata": seal_text(cipher, "payments", "metadata", ident, metadata),
        "reconcile_at": payment.reconcile_at,
        "reconcile_attempts": payment.reconcile_attempts,
        "refund_on_completion": payment.refund_on_completion,
        "moved_by_request": payment.moved_by_request,
        "capture_method": payment.capture_method.value,
        "amount_capturable": payment.amount_capturable,
        "amount_captured": payment.amount_captured,
        "amount_capture_pending": payment.amount_capture_pending,
        "authorization_expires_at": payment.authorization_expires_at,
        "expiry_warned_at": payment.expiry_warned_at,
        "hold_moved_by_request": payment.hold_moved_by_request,
        "payment_method_id": payment.payment_method_id,
        "off_session": payment.off_session,
        "setup_future_usage": payment.setup_future_usage,
        "created_at": payment.created_at,
        "updated_at": payment.updated_at,
        "version": payment.version,
    }


def payment_from_row(row: Row, cipher: Cipher) -> Payment:
    ident = row["id"]
    metadata = open_text(cipher, "payments", "metadata", ident, row["metadata"])
    return Payment(
        id=ident,
        reference=row["reference"],
        booking_id=row["booking_id"],
        guest_id=row["guest_id"],
        amount=Money(row["amount"], Currency.of(row["currency"])),
        provider=row["provider"],
        status=PaymentStatus(row["status"]),
        created_at=row["created_at"],
        updated_at=row["updated_at"],
        payment_method=row["payment_method"],
        provider_payment_id=row["provider_payment_id"],
        client_secret=open_text(cipher, "payments", "client_secret", ident, row["client_secret"]),
        amount_refunded=row["amount_refunded"],
        amount_refund_pending=row["amount_refund_pending"],
        card=None
        if row["card_brand"] is None
        else Card(
            brand=row["card_brand"],
            last4=row["card_last4"],
            exp_month=row["card_exp_month"],
            exp_year=row["card_exp_year"],
        ),
        failure_code=row["failure_code"],
        failure_message=row["failure_message"],
        next_action=None
        if row["next_action_type"] is None
        else NextAction(type=row["next_action_type"], url=row["next_action_url"]),
        description=open_text(cipher, "payments", "description", ident, row["description"]),
        metadata={} if metadata is None else json.loads(metadata),
        reconcile_at=row["reconcile_at"],
        reconcile_attempts=row["reconcile_attempts"],
        refund_on_completion=row["refund_on_completion"],
        moved_by_request=row["moved_by_request"],
        capture_method=CaptureMethod(row["capture_method"]),
        amount_capturable=row["amount_capturable"],
        amount_captured=row["amount_captured"],
        amount_capture_pending=row["amount_capture_pending"],
        authorization_expires_at=row["authorization_expires_at"],
        expiry_warned_at=row["expiry_warned_at"],
        hold_moved_by_request=row["hold_moved_by_request"],
        payment_method_id=row["payment_method_id"],
        off_session=row["off_session"],
        setup_future_usage=row["setup_future_usage"],
        version=row["version"],
    )


# ------------------------------------------------------------------------------ refunds
def refund_to_row(refund: Refund) -> dict[str, Any]:
    return {
        "id": refund.id,
        "reference": refund.reference,
        "payment_id": refund.payment_id,
        "booking_id": refund.booking_id,
        "guest_id": refund.guest_id,
        "amount": refund.amount.amount,
        "currency": refund.amount.currency.code,
        "provider": refund.provider,
        "status": refund.status.value,
        "reason": refund.reason,
        "attempts": refund.attempts,
        "next_retry_at": refund.next_retry_at,
        "failure_reason": refund.failure_reason,
        "last_error": refund.last_error,
        "provider_refund_id": refund.provider_refund_id,
        "key_generation": refund.key_generation,
        "attempted_by_request": refund.attempted_by_request,
        "created_at": refund.created_at,
        "updated_at": refund.updated_at,
        "version": refund.version,
    }


def refund_from_row(row: Row) -> Refund:
    return Refund(
        id=row["id"],
        reference=row["reference"],
        payment_id=row["payment_id"],
        booking_id=row["booking_id"],
        guest_id=row["guest_id"],
        amount=Money(row["amount"], Currency.of(row["currency"])),
        provider=row["provider"],
        status=RefundStatus(row["status"]),
        created_at=row["created_at"],
        updated_at=row["updated_at"],
        reason=row["reason"],
        attempts=row["attempts"],
        next_retry_at=row["next_retry_at"],
        failure_reason=row["failure_reason"],
        last_error=row["last_error"],
        provider_refund_id=row["provider_refund_id"],
        key_generation=row["key_generation"],
        attempted_by_request=row["attempted_by_request"],
        version=row["version"],
    )


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


# ------------------------------------------------------------------------------ webhooks
def webhook_to_row(webhook: StoredWebhook, cipher: Cipher) -> dict[str, Any]:
    return {
        "id": webhook.id,
        "provider": webhook.provider,
        "event_id": webhook.event_id,
        "body": seal_bytes(cipher, "webhooks", "body", webhook.id, webhook.body),
        "received_at": webhook.received_at,
        "processed_at": webhook.processed_at,
    }


def webhook_from_row(row: Row, cipher: Cipher) -> StoredWebhook:
    ident: UUID = row["id"]
    return StoredWebhook(
        id=ident,
        provider=row["provider"],
        event_id=row["event_id"],
        body=open_bytes(cipher, "webhooks", "body", ident, row["body"]),
        received_at=row["received_at"],
        processed_at=row["processed_at"],
    )


# ------------------------------------------------------------------------------ idempotency
def response_from_row(row: Row, cipher: Cipher) -> StoredResponse | None:
    if row["response_status"] is None:
        return None
    key = row["key"]
    return StoredResponse(
        status=row["response_status"],
        body=open_bytes(cipher, "idempotency_keys", "response_body", key, row["response_body"]),
        content_type=row["response_content_type"],
    )


def utc_now() -> datetime:
    """Wall-clock UTC, for bookkeeping columns the domain does not own (outbox, inbox)."""
    return datetime.now(UTC)

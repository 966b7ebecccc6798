"""The wire shapes of resources: each declared once, as a TypedDict, and built once, as a dict.

One declaration per view (payments, refunds, invoices, billing records, and the safe views of
the reference endpoints) serves every reader of it:

- the functions below build plain JSON-ready dicts, which msgspec (HTTP) and ``json`` (events)
  encode as they are: nothing is converted per request;
- the HTTP controllers name the views as their return types, and the OpenAPI document shows
  msgspec's JSON Schema of them (:mod:`payment_http.openapi`);
- the events carry them as ``data`` and FastStream documents them, through pydantic, on the
  real publishers (:mod:`payment_adapters.messaging.contract`), so an event's ``data`` is
  exactly what ``GET`` returns.

``PaymentData``, ``RefundData`` and ``InvoiceData`` are what the events carry; ``PaymentView``
adds the ``client_secret`` meant for the API caller alone; ``RefundView`` and ``InvoiceView`` are
the same shapes under the names the HTTP document has always given them.
"""

from __future__ import annotations

from datetime import UTC, date, datetime
from typing import Annotated, Any, Literal, cast, overload
from uuid import UUID

# pydantic reads TypedDicts for the AsyncAPI document, and wants typing_extensions' before 3.12.
from typing_extensions import TypedDict

from payment_core.model.billing import BillingRecord
from payment_core.model.invoice import Invoice
from payment_core.model.payment import Payment
from payment_core.model.refund import Refund

__all__ = [
    "BillingRecordView",
    "Card",
    "CardSafeView",
    "InvoiceData",
    "InvoiceView",
    "LineItem",
    "NextAction",
    "PaymentData",
    "PaymentSafeView",
    "PaymentView",
    "RefundData",
    "RefundSafeView",
    "RefundView",
    "billing_record_view",
    "invoice_view",
    "payment_safe_view",
    "payment_view",
    "refund_safe_view",
    "refund_view",
    "rfc3339",
]


def _schema(**details: Any) -> object:
    """msgspec's JSON Schema details of a field (the OpenAPI document's); pydantic ignores them.

    msgspec comes with the ``http`` extra; a worker installed without it documents its events
    through pydantic alone and needs none of this.
    """
    try:
        from msgspec import Meta  # noqa: PLC0415
    except ImportError:  # pragma: no cover - installed without the http extra
        return None
    return Meta(**details)


#: A UUID in its canonical text form.
Id = Annotated[str, _schema(extra_json_schema={"format": "uuid"})]
#: ``2026-11-28T10:00:00Z``, microseconds only when there are some.
Timestamp = Annotated[str, _schema(description="RFC 3339, UTC", examples=["2026-11-28T10:00:00Z"])]

# ---------------------------------------------------------------------------- payments


class Card(TypedDict):
    brand: str
    last4: str
    exp_month: int | None
    exp_year: int | None


class NextAction(TypedDict):
    type: str
    url: str


class PaymentData(TypedDict):
    """A payment's full view as of the event (no `client_secret`)."""

    id: Id
    reference: str
    booking_id: Id
    guest_id: Id
    amount: int
    currency: str
    status: Literal["PENDING", "PROCESSING", "COMPLETED", "FAILED", "CANCELLED"]
    provider: str
    provider_payment_id: str | None
    amount_refunded: int
    card: Card | None
    failure_code: str | None
    failure_message: str | None
    next_action: NextAction | None
    description: str | None
    metadata: dict[str, str]
    created_at: Timestamp
    updated_at: Timestamp


class PaymentView(PaymentData):
    client_secret: str | None


class CardSafeView(TypedDict):
    brand: str
    last4: str


class PaymentSafeView(TypedDict):
    reference: str
    status: str
    amount: int
    currency: str
    amount_refunded: int
    card: CardSafeView | None
    failure_message: str | None
    updated_at: Timestamp


# ---------------------------------------------------------------------------- refunds


class RefundData(TypedDict):
    """A refund's full view as of the event."""

    id: Id
    reference: str
    payment_id: Id
    booking_id: Id
    amount: int
    currency: str
    status: Literal["PENDING", "PROCESSING", "COMPLETED", "FAILED"]
    reason: str | None
    attempts: int
    next_retry_at: Timestamp | None
    failure_reason: str | None
    created_at: Timestamp
    updated_at: Timestamp


class RefundView(RefundData):
    pass


class RefundSafeView(TypedDict):
    reference: str
    status: str
    amount: int
    currency: str
    updated_at: Timestamp


# ---------------------------------------------------------------------------- invoices


class LineItem(TypedDict):
    description: str
    quantity: int
    unit_amount: int
    tax_rate_bps: int
    amount: int
    tax: int


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
    due_date: str | None
    issued_at: Timestamp | None
    paid_at: Timestamp | None
    voided_at: Timestamp | None
    payment_id: Id | None
    notes: str | None
    created_at: Timestamp
    updated_at: Timestamp


class InvoiceView(InvoiceData):
    pass


class BillingRecordView(TypedDict):
    id: Id
    type: Literal["CHARGE", "REFUND", "REFUND_REVERSED", "INVOICE_ISSUED", "INVOICE_VOIDED"]
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


# ---------------------------------------------------------------------------- builders


@overload
def rfc3339(value: datetime) -> str: ...
@overload
def rfc3339(value: None) -> None: ...
@overload
def rfc3339(value: datetime | None) -> str | None: ...
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


@overload
def payment_view(payment: Payment) -> PaymentView: ...
@overload
def payment_view(payment: Payment, *, include_client_secret: Literal[True]) -> PaymentView: ...
@overload
def payment_view(payment: Payment, *, include_client_secret: Literal[False]) -> PaymentData: ...
def payment_view(
    payment: Payment, *, include_client_secret: bool = True
) -> PaymentView | PaymentData:
    """The full view of a payment (``client_secret`` is for the API caller, not for events)."""
    card = payment.card
    data: PaymentData = {
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
    if not include_client_secret:
        return data
    view = cast(PaymentView, data)
    view["client_secret"] = payment.client_secret
    return view


def payment_safe_view(payment: Payment) -> PaymentSafeView:
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


def refund_view(refund: Refund) -> RefundView:
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


def refund_safe_view(refund: Refund) -> RefundSafeView:
    return {
        "reference": refund.reference,
        "status": refund.status.value,
        "amount": refund.amount.amount,
        "currency": refund.amount.currency.code,
        "updated_at": rfc3339(refund.updated_at),
    }


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
        "due_date": _date(invoice.due_date),
        "issued_at": rfc3339(invoice.issued_at),
        "paid_at": rfc3339(invoice.paid_at),
        "voided_at": rfc3339(invoice.voided_at),
        "payment_id": _id(invoice.payment_id),
        "notes": invoice.notes,
        "created_at": rfc3339(invoice.created_at),
        "updated_at": rfc3339(invoice.updated_at),
    }


def billing_record_view(record: BillingRecord) -> BillingRecordView:
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

"""Domain events: frozen, past tense, one per fact worth telling other services.

Each event carries a snapshot of its aggregate as it was when the event happened, so the
message published later says exactly what was true at commit time. ``type`` is the routing key
of the wire contract (``payment.completed``, ...). Events are collected by the unit of work and
written to the outbox in the same transaction as the change that caused them.
"""

from __future__ import annotations

from datetime import datetime
from typing import TYPE_CHECKING, ClassVar, TypeAlias
from uuid import UUID

import attrs

if TYPE_CHECKING:
    from payment_core.model.credit_note import CreditNote
    from payment_core.model.invoice import Invoice
    from payment_core.model.payment import Payment
    from payment_core.model.refund import Refund

__all__ = [
    "CreditNoteEvent",
    "CreditNoteIssued",
    "DomainEvent",
    "InvoiceEvent",
    "InvoiceIssued",
    "InvoiceMarkedUncollectible",
    "InvoicePaid",
    "InvoiceVoided",
    "PaymentCancelled",
    "PaymentCompleted",
    "PaymentEvent",
    "PaymentFailed",
    "PaymentInitiated",
    "RefundCompleted",
    "RefundEvent",
    "RefundFailed",
    "RefundInitiated",
    "RefundReversed",
    "event_types",
]


@attrs.frozen(slots=True)
class PaymentEvent:
    """Something happened to a payment; ``payment`` is its snapshot at that moment."""

    type: ClassVar[str]
    event_id: UUID
    occurred_at: datetime
    payment: Payment = attrs.field(repr=False)

    @property
    def stream_id(self) -> UUID:
        """Events of one stream are published in commit order."""
        return self.payment.id


@attrs.frozen(slots=True)
class PaymentInitiated(PaymentEvent):
    type: ClassVar[str] = "payment.initiated"


@attrs.frozen(slots=True)
class PaymentCompleted(PaymentEvent):
    type: ClassVar[str] = "payment.completed"


@attrs.frozen(slots=True)
class PaymentFailed(PaymentEvent):
    type: ClassVar[str] = "payment.failed"


@attrs.frozen(slots=True)
class PaymentCancelled(PaymentEvent):
    type: ClassVar[str] = "payment.cancelled"


@attrs.frozen(slots=True)
class RefundEvent:
    """Something happened to a refund; ``refund`` is its snapshot at that moment."""

    type: ClassVar[str]
    event_id: UUID
    occurred_at: datetime
    refund: Refund = attrs.field(repr=False)

    @property
    def stream_id(self) -> UUID:
        # Refunds share their payment's stream so consumers see a payment's story in order.
        return self.refund.payment_id


@attrs.frozen(slots=True)
class RefundInitiated(RefundEvent):
    type: ClassVar[str] = "refund.initiated"


@attrs.frozen(slots=True)
class RefundCompleted(RefundEvent):
    type: ClassVar[str] = "refund.completed"


@attrs.frozen(slots=True)
class RefundFailed(RefundEvent):
    """The refund failed for good: retries exhausted, or rejected by the provider."""

    type: ClassVar[str] = "refund.failed"


@attrs.frozen(slots=True)
class RefundReversed(RefundEvent):
    """A refund reported completed failed later at the provider; the money was not returned."""

    type: ClassVar[str] = "refund.reversed"


@attrs.frozen(slots=True)
class InvoiceEvent:
    """Something happened to an invoice; ``invoice`` is its snapshot at that moment."""

    type: ClassVar[str]
    event_id: UUID
    occurred_at: datetime
    invoice: Invoice = attrs.field(repr=False)

    @property
    def stream_id(self) -> UUID:
        return self.invoice.id


@attrs.frozen(slots=True)
class InvoiceIssued(InvoiceEvent):
    type: ClassVar[str] = "invoice.issued"


@attrs.frozen(slots=True)
class InvoicePaid(InvoiceEvent):
    type: ClassVar[str] = "invoice.paid"


@attrs.frozen(slots=True)
class InvoiceVoided(InvoiceEvent):
    type: ClassVar[str] = "invoice.voided"


@attrs.frozen(slots=True)
class InvoiceMarkedUncollectible(InvoiceEvent):
    type: ClassVar[str] = "invoice.marked_uncollectible"


@attrs.frozen(slots=True)
class CreditNoteEvent:
    """Something happened to a credit note; ``credit_note`` is its snapshot at that moment."""

    type: ClassVar[str]
    event_id: UUID
    occurred_at: datetime
    credit_note: CreditNote = attrs.field(repr=False)

    @property
    def stream_id(self) -> UUID:
        # A credit note belongs to its invoice's story: published in order with invoice.*.
        return self.credit_note.invoice_id


@attrs.frozen(slots=True)
class CreditNoteIssued(CreditNoteEvent):
    type: ClassVar[str] = "credit_note.issued"


DomainEvent: TypeAlias = PaymentEvent | RefundEvent | InvoiceEvent | CreditNoteEvent
EventClass: TypeAlias = (
    type[PaymentEvent] | type[RefundEvent] | type[InvoiceEvent] | type[CreditNoteEvent]
)


def event_types() -> dict[str, EventClass]:
    """Every concrete event class by its routing key."""
    classes: list[EventClass] = [
        PaymentInitiated,
        PaymentCompleted,
        PaymentFailed,
        PaymentCancelled,
        RefundInitiated,
        RefundCompleted,
        RefundFailed,
        RefundReversed,
        InvoiceIssued,
        InvoicePaid,
        InvoiceVoided,
        InvoiceMarkedUncollectible,
        CreditNoteIssued,
    ]
    return {cls.type: cls for cls in classes}

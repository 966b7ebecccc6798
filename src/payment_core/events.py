"""Domain events: frozen, past tense, one per fact worth telling other services.

Each event carries a snapshot of its aggregate as it was when the event happened, so the
message published later says exactly what was true at commit time. ``type`` is the routing key
of the wire contract (``payment.completed``, ...). Events are collected by the unit of work and
written to the outbox in the same transaction as the change that caused them.

Each event class is defined beside its aggregate in :mod:`payment_core.model`; this module
gathers them.
"""

from __future__ import annotations

from typing import TypeAlias

from payment_core.model.credit_note import CreditNoteEvent, CreditNoteIssued
from payment_core.model.dispute import DisputeClosed, DisputeCreated, DisputeEvent
from payment_core.model.invoice import (
    InvoiceEvent,
    InvoiceIssued,
    InvoiceMarkedUncollectible,
    InvoicePaid,
    InvoiceVoided,
)
from payment_core.model.payment import (
    PaymentAuthorizationExpiring,
    PaymentAuthorized,
    PaymentCancelled,
    PaymentCompleted,
    PaymentEvent,
    PaymentExpired,
    PaymentFailed,
    PaymentInitiated,
)
from payment_core.model.plan import (
    PaymentPlanCancelled,
    PaymentPlanCreated,
    PaymentPlanDefaulted,
    PaymentPlanEvent,
    PaymentPlanInstallmentFailed,
    PaymentPlanInstallmentPaid,
    PaymentPlanPaid,
)
from payment_core.model.refund import (
    RefundCompleted,
    RefundEvent,
    RefundFailed,
    RefundInitiated,
    RefundReversed,
)

__all__ = [
    "CreditNoteEvent",
    "CreditNoteIssued",
    "DisputeClosed",
    "DisputeCreated",
    "DisputeEvent",
    "DomainEvent",
    "InvoiceEvent",
    "InvoiceIssued",
    "InvoiceMarkedUncollectible",
    "InvoicePaid",
    "InvoiceVoided",
    "PaymentAuthorizationExpiring",
    "PaymentAuthorized",
    "PaymentCancelled",
    "PaymentCompleted",
    "PaymentEvent",
    "PaymentExpired",
    "PaymentFailed",
    "PaymentInitiated",
    "PaymentPlanCancelled",
    "PaymentPlanCreated",
    "PaymentPlanDefaulted",
    "PaymentPlanEvent",
    "PaymentPlanInstallmentFailed",
    "PaymentPlanInstallmentPaid",
    "PaymentPlanPaid",
    "RefundCompleted",
    "RefundEvent",
    "RefundFailed",
    "RefundInitiated",
    "RefundReversed",
    "event_types",
]


DomainEvent: TypeAlias = (
    PaymentEvent | RefundEvent | InvoiceEvent | CreditNoteEvent | PaymentPlanEvent | DisputeEvent
)
EventClass: TypeAlias = (
    type[PaymentEvent]
    | type[RefundEvent]
    | type[InvoiceEvent]
    | type[CreditNoteEvent]
    | type[PaymentPlanEvent]
    | type[DisputeEvent]
)


def event_types() -> dict[str, EventClass]:
    """Every concrete event class by its routing key."""
    classes: list[EventClass] = [
        PaymentInitiated,
        PaymentAuthorized,
        PaymentAuthorizationExpiring,
        PaymentCompleted,
        PaymentFailed,
        PaymentCancelled,
        PaymentExpired,
        RefundInitiated,
        RefundCompleted,
        RefundFailed,
        RefundReversed,
        InvoiceIssued,
        InvoicePaid,
        InvoiceVoided,
        InvoiceMarkedUncollectible,
        CreditNoteIssued,
        PaymentPlanCreated,
        PaymentPlanInstallmentPaid,
        PaymentPlanInstallmentFailed,
        PaymentPlanPaid,
        PaymentPlanDefaulted,
        PaymentPlanCancelled,
        DisputeCreated,
        DisputeClosed,
    ]
    return {cls.type: cls for cls in classes}

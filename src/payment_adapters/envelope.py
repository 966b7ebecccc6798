"""What an event is on the wire and in the outbox: a CloudEvents 1.0 JSON envelope.

A domain event becomes a structured-mode CloudEvent whose ``data`` is the resource's full view
(``payment_adapters.wire``), its ``type`` the routing key and its ``subject`` the stream
(payment or invoice) it belongs to. The unit of work writes these bytes to the outbox, the relay
reads them back as :class:`OutboxMessage` and the publishers send them; each side imports them
from here.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from datetime import datetime
from typing import Any, Final
from uuid import UUID

import attrs

from payment_adapters.wire import (
    credit_note_view,
    dispute_view,
    invoice_view,
    payment_view,
    refund_view,
    rfc3339,
)
from payment_adapters.wire.payment_plans import payment_plan_view
from payment_core.events import (
    CreditNoteEvent,
    DisputeEvent,
    DomainEvent,
    InvoiceEvent,
    PaymentEvent,
    PaymentPlanEvent,
    RefundEvent,
)

__all__ = [
    "CONTENT_TYPE",
    "SOURCE",
    "OutboxMessage",
    "encode_event",
    "event_data",
    "event_to_envelope",
    "message_from_event",
]

SOURCE: Final = "payment-service"
CONTENT_TYPE: Final = "application/cloudevents+json"


def event_data(event: DomainEvent) -> Mapping[str, Any]:
    """The ``data`` of an event: the full view of its resource as of the event."""
    if isinstance(event, PaymentEvent):
        # client_secret is meant for the paying browser only, never for other services.
        return payment_view(event.payment, include_client_secret=False)
    if isinstance(event, RefundEvent):
        return refund_view(event.refund)
    if isinstance(event, InvoiceEvent):
        return invoice_view(event.invoice)
    if isinstance(event, CreditNoteEvent):
        return credit_note_view(event.credit_note)
    if isinstance(event, PaymentPlanEvent):
        return payment_plan_view(event.plan)
    if isinstance(event, DisputeEvent):
        return dispute_view(event.dispute)
    raise TypeError(f"not a domain event: {type(event).__name__}")  # pragma: no cover


def event_to_envelope(event: DomainEvent, *, source: str = SOURCE) -> dict[str, Any]:
    """The CloudEvents envelope of a domain event, as a JSON-ready dict."""
    return {
        "specversion": "1.0",
        "id": str(event.event_id),
        "source": source,
        "type": event.type,
        "subject": str(event.stream_id),
        "time": rfc3339(event.occurred_at),
        "datacontenttype": "application/json",
        "data": event_data(event),
    }


def encode_event(event: DomainEvent, *, source: str = SOURCE) -> bytes:
    """The envelope serialised as compact UTF-8 JSON."""
    return json.dumps(
        event_to_envelope(event, source=source), separators=(",", ":"), ensure_ascii=False
    ).encode("utf-8")


@attrs.frozen(slots=True)
class OutboxMessage:
    """One committed event as it is published: the outbox row, body included."""

    id: UUID
    type: str
    stream_id: UUID
    body: bytes = attrs.field(repr=False)
    sequence: int = 0
    created_at: datetime | None = None


def message_from_event(event: DomainEvent, sequence: int = 0) -> OutboxMessage:
    """The message a domain event becomes (what the unit of work writes to the outbox)."""
    return OutboxMessage(
        id=event.event_id,
        type=event.type,
        stream_id=event.stream_id,
        body=encode_event(event),
        sequence=sequence,
        created_at=event.occurred_at,
    )

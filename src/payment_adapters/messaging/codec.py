"""Domain events <-> CloudEvents 1.0 JSON envelopes.

Outgoing: every domain event becomes a structured-mode CloudEvent whose ``data`` is the
resource's full view (``payment_adapters.wire``), its ``type`` the routing key, its ``subject``
the stream (payment or invoice) it belongs to. Incoming envelopes are decoded by
:func:`decode_envelope`, which tolerates unknown attributes and rejects what is not a valid
envelope with a reason.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from typing import Any, Final
from uuid import UUID

import attrs
import cattrs

from payment_adapters.wire import invoice_view, payment_view, refund_view, rfc3339
from payment_core.events import DomainEvent, InvoiceEvent, PaymentEvent, RefundEvent
from payment_core.services.bookings import BookingCancelled, BookingCreated

__all__ = [
    "BOOKING_EVENT_TYPES",
    "CONTENT_TYPE",
    "SOURCE",
    "BookingEvent",
    "Envelope",
    "EnvelopeError",
    "decode_booking_event",
    "decode_envelope",
    "encode_event",
    "event_to_envelope",
]

SOURCE: Final = "payment-service"
CONTENT_TYPE: Final = "application/cloudevents+json"
MAX_ENVELOPE_BYTES: Final = 1024 * 1024


def event_data(event: DomainEvent) -> Mapping[str, Any]:
    """The ``data`` of an event: the full view of its resource as of the event."""
    if isinstance(event, PaymentEvent):
        # client_secret is meant for the paying browser only, never for other services.
        return payment_view(event.payment, include_client_secret=False)
    if isinstance(event, RefundEvent):
        return refund_view(event.refund)
    if isinstance(event, InvoiceEvent):
        return invoice_view(event.invoice)
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


class EnvelopeError(ValueError):
    """A message that is not a valid CloudEvents 1.0 JSON envelope; ``reason`` says why."""

    def __init__(self, reason: str) -> None:
        super().__init__(reason)
        self.reason = reason


@attrs.frozen(slots=True)
class Envelope:
    """A decoded incoming CloudEvent (unknown attributes are kept in ``extensions``)."""

    id: str
    source: str
    type: str
    data: Mapping[str, Any]
    time: str | None = None
    subject: str | None = None
    extensions: Mapping[str, Any] = attrs.field(factory=dict)


_REQUIRED: Final = ("specversion", "id", "source", "type")
_KNOWN: Final = frozenset({*_REQUIRED, "time", "subject", "datacontenttype", "data", "dataschema"})


def decode_envelope(body: bytes | str) -> Envelope:
    """Parse and validate a structured-mode CloudEvents 1.0 JSON envelope."""
    if isinstance(body, bytes | bytearray):
        if len(body) > MAX_ENVELOPE_BYTES:
            raise EnvelopeError("envelope larger than 1 MiB")
        try:
            text = bytes(body).decode("utf-8")
        except UnicodeDecodeError:
            raise EnvelopeError("not UTF-8") from None
    else:
        text = body
    try:
        raw = json.loads(text)
    except ValueError:
        raise EnvelopeError("not valid JSON") from None
    if not isinstance(raw, dict):
        raise EnvelopeError("an envelope is a JSON object")
    for name in _REQUIRED:
        value = raw.get(name)
        if not isinstance(value, str) or not value:
            raise EnvelopeError(f"missing or empty attribute {name!r}")
    if raw["specversion"] != "1.0":
        raise EnvelopeError(f"unsupported specversion {raw['specversion'][:10]!r}")
    content_type = raw.get("datacontenttype", "application/json")
    if not isinstance(content_type, str) or not content_type.startswith("application/json"):
        raise EnvelopeError("data must be application/json")
    data = raw.get("data")
    if not isinstance(data, dict):
        raise EnvelopeError("data must be a JSON object")
    time, subject = raw.get("time"), raw.get("subject")
    return Envelope(
        id=raw["id"],
        source=raw["source"],
        type=raw["type"],
        data=data,
        time=time if isinstance(time, str) else None,
        subject=subject if isinstance(subject, str) else None,
        extensions={k: v for k, v in raw.items() if k not in _KNOWN},
    )


# ---------------------------------------------------------------- booking events (input)

BookingEvent = BookingCreated | BookingCancelled

#: The booking service's event types we consume, with the shape of their ``data``.
BOOKING_EVENT_TYPES: Final[Mapping[str, type[BookingCreated] | type[BookingCancelled]]] = {
    "booking.created": BookingCreated,
    "booking.cancelled": BookingCancelled,
}


def _strict(kind: type, label: str) -> Any:
    # JSON has no int/bool/str coercions worth trusting: "12", 12.0 and true are not 12.
    def structure(value: Any, _: Any) -> Any:
        if type(value) is not kind:
            raise ValueError(f"must be {label}")
        return value

    return structure


def _uuid(value: Any, _: Any) -> UUID:
    if not isinstance(value, str):
        raise ValueError("must be a UUID string")  # noqa: TRY004 - reported as a reason
    try:
        return UUID(value)
    except ValueError:
        raise ValueError("must be a UUID string") from None


_booking_converter = cattrs.Converter(forbid_extra_keys=False)
_booking_converter.register_structure_hook(int, _strict(int, "an integer"))
_booking_converter.register_structure_hook(bool, _strict(bool, "a boolean"))
_booking_converter.register_structure_hook(str, _strict(str, "a string"))
_booking_converter.register_structure_hook(UUID, _uuid)


def decode_booking_event(body: bytes | str) -> tuple[Envelope, BookingEvent]:
    """A consumed booking event: its envelope and its typed ``data``.

    Raises :class:`EnvelopeError` with a reason for anything that can never be handled: not
    JSON, not a CloudEvents envelope, a type we do not consume, or ``data`` of the wrong shape
    (missing fields, a float or a string where an integer belongs, ...). Unknown attributes
    and unknown ``data`` fields are tolerated.
    """
    envelope = decode_envelope(body)
    kind = BOOKING_EVENT_TYPES.get(envelope.type)
    if kind is None:
        raise EnvelopeError(f"unexpected event type {envelope.type[:64]!r}")
    try:
        data = _booking_converter.structure(dict(envelope.data), kind)
    except (cattrs.BaseValidationError, ValueError, TypeError) as exc:
        if isinstance(exc, cattrs.BaseValidationError):
            reasons = cattrs.transform_error(exc, path="data")
            reason = "; ".join(reasons[:5])
        else:  # pragma: no cover - cattrs wraps hook errors in a validation error
            reason = str(exc)
        raise EnvelopeError(f"invalid {envelope.type} data: {reason}") from None
    return envelope, data

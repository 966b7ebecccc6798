"""The AsyncAPI document of the service's events, and ``docs/events.md`` generated from it.

The document is FastStream's own (``AsyncAPI(broker)``, schema 3.0.0) over a broker on which
the consumed queues are declared by the same function the worker uses
(:func:`~payment_adapters.messaging.consumer.declare_booking_subscribers`), with typed stand-in
handlers so every message has its schema, and one documented publisher per published event
type. Regenerate the page with::

    python -m payment_adapters.messaging.asyncapi > docs/events.md

(the unit tests fail when the committed page differs from what this module renders).
"""

from __future__ import annotations

import json
from collections.abc import Callable, Mapping
from typing import TYPE_CHECKING, Any, Final, Literal, NotRequired, cast

# pydantic (which renders the schemas) needs typing_extensions' TypedDict before Python 3.12.
from typing_extensions import TypedDict

from payment_adapters.messaging.codec import CONTENT_TYPE, SOURCE
from payment_adapters.messaging.consumer import (
    DEFAULT_ATTEMPTS,
    DEFAULT_MAX_REDELIVERIES,
    BookingTopology,
    declare_booking_subscribers,
)
from payment_adapters.settings import Settings
from payment_core.events import event_types

if TYPE_CHECKING:
    from faststream.rabbit import RabbitBroker
    from faststream.specification.base import SpecificationFactory

__all__ = ["EVENT_DESCRIPTIONS", "build_specification", "render_markdown", "specification_json"]

TITLE: Final = "payment-service events"

#: What each published event type means (the routing key on the ``payments`` exchange).
EVENT_DESCRIPTIONS: Final[Mapping[str, str]] = {
    "payment.initiated": "A payment was created (`PENDING`).",
    "payment.completed": "The provider took the money (`COMPLETED`).",
    "payment.failed": "The payment was declined or failed (`FAILED`, with `failure_code`).",
    "payment.cancelled": "A `PENDING` payment was cancelled (`CANCELLED`).",
    "refund.initiated": "A refund was created (`PENDING`); its amount is held on the payment.",
    "refund.completed": "The provider gave the money back (`COMPLETED`).",
    "refund.failed": "The refund failed for good (retries exhausted or rejected).",
    "refund.reversed": "A completed refund failed later at the provider: money not returned.",
    "invoice.issued": "An invoice was issued (`OPEN`, numbered).",
    "invoice.paid": "An invoice was paid (`PAID`).",
    "invoice.voided": "An invoice was voided (`VOID`).",
    "invoice.marked_uncollectible": "An invoice was marked `UNCOLLECTIBLE`.",
    "credit_note.issued": "A credit note was issued against an invoice (by hand, or by a "
    "refund of its payment); `subject` is the invoice.",
}


# ---------------------------------------------------------------- message shapes


class Card(TypedDict):
    brand: str
    last4: str
    exp_month: int | None
    exp_year: int | None


class NextAction(TypedDict):
    type: Literal["redirect"]
    url: str


class PaymentData(TypedDict):
    """A payment's full view as of the event (no `client_secret`)."""

    id: str
    reference: str
    booking_id: str
    guest_id: str
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
    created_at: str
    updated_at: str


class RefundData(TypedDict):
    """A refund's full view as of the event."""

    id: str
    reference: str
    payment_id: str
    booking_id: str
    amount: int
    currency: str
    status: Literal["PENDING", "PROCESSING", "COMPLETED", "FAILED"]
    reason: str | None
    attempts: int
    next_retry_at: str | None
    failure_reason: str | None
    created_at: str
    updated_at: str


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

    id: str
    number: str | None
    status: Literal["DRAFT", "OPEN", "PAID", "VOID", "UNCOLLECTIBLE"]
    booking_id: str
    guest_id: str
    currency: str
    line_items: list[LineItem]
    subtotal: int
    tax: int
    total: int
    amount_paid: int
    amount_due: int
    amount_credited: int
    due_date: str | None
    issued_at: str | None
    paid_at: str | None
    voided_at: str | None
    payment_id: str | None
    notes: str | None
    customer: Customer | None
    created_at: str
    updated_at: str


class CreditNoteData(TypedDict):
    """A credit note as issued (`amount` includes `tax`)."""

    id: str
    number: str
    invoice_id: str
    booking_id: str
    amount: int
    tax: int
    currency: str
    reason: str | None
    memo: str | None
    refund_id: str | None
    created_at: str


class BookingCreatedData(TypedDict):
    booking_id: str
    guest_id: str
    amount: int
    currency: str
    payment_required: bool
    payment_method: NotRequired[str]


class BookingCancelledData(TypedDict):
    booking_id: str
    reason: NotRequired[str]


def _envelope(name: str, event_type: str, data: type, *, source: str | None) -> type:
    """A CloudEvents 1.0 structured-mode envelope model for one event type.

    A pydantic model rather than a TypedDict: FastStream documents a model as it is, where a
    single TypedDict argument would lose its name.
    """
    from pydantic import create_model  # noqa: PLC0415 - a FastStream dependency

    ours = source is not None
    fields: dict[str, Any] = {
        "specversion": (Literal["1.0"], ...),
        "id": (str, ...),
        "source": (Literal[source], ...) if ours else (str, ...),
        "type": (Literal[event_type], ...),
        "subject": (str, ...) if ours else (str | None, None),
        "time": (str, ...) if ours else (str | None, None),
        "datacontenttype": (Literal["application/json"], "application/json"),
        "data": (data, ...),
    }
    return cast(type, create_model(name, **fields))


def _data_shape(event_type: str) -> type:
    prefix = event_type.split(".", 1)[0]
    return {
        "payment": PaymentData,
        "refund": RefundData,
        "invoice": InvoiceData,
        "credit_note": CreditNoteData,
    }[prefix]


def _camel(event_type: str) -> str:
    return "".join(part.capitalize() for part in event_type.replace("_", ".").split("."))


# ---------------------------------------------------------------- the document


def _documented_broker(settings: Settings) -> RabbitBroker:
    from faststream.rabbit import ExchangeType, RabbitBroker, RabbitExchange  # noqa: PLC0415

    broker = RabbitBroker(
        "amqp://guest:guest@localhost:5672/",
        description="RabbitMQ (`RABBITMQ_URL`). Every message is a CloudEvents 1.0 JSON envelope.",
        logger=None,
    )
    shapes = {
        "booking.created": _envelope(
            "BookingCreatedEvent", "booking.created", BookingCreatedData, source=None
        ),
        "booking.cancelled": _envelope(
            "BookingCancelledEvent", "booking.cancelled", BookingCancelledData, source=None
        ),
    }

    def stand_in(key: str) -> Callable[..., Any]:
        shape = shapes[key]

        async def handler(event: Any) -> None:
            """Documentation stand-in for the consumer's handler."""

        # The schema comes from the annotation; string annotations would not resolve here.
        handler.__annotations__ = {"event": shape, "return": None}
        handler.__name__ = _camel(key)
        handler.__doc__ = (
            "`payment_required`: a `PENDING` payment is created for the booking (confirmed "
            "when `payment_method` is given)."
            if key == "booking.created"
            else "`PENDING` payments of the booking are cancelled; with "
            "`AUTO_REFUND_ON_CANCEL` (default) every `COMPLETED` one is refunded in full, and "
            "a `PROCESSING` one is refunded in full if it completes later."
        )
        return handler

    declare_booking_subscribers(
        broker,
        BookingTopology(exchange=settings.bookings_exchange, queue=settings.bookings_queue),
        stand_in,
    )
    exchange = RabbitExchange(settings.payments_exchange, type=ExchangeType.TOPIC, durable=True)
    for event_type in event_types():
        broker.publisher(
            exchange=exchange,
            routing_key=event_type,
            persist=True,
            content_type=CONTENT_TYPE,
            title=f"{settings.payments_exchange}:{event_type}",
            description=EVENT_DESCRIPTIONS.get(event_type),
            schema=_envelope(
                f"{_camel(event_type)}Event",
                event_type,
                _data_shape(event_type),
                source=SOURCE,
            ),
        )
    return broker


def _version() -> str:
    from importlib.metadata import PackageNotFoundError, version  # noqa: PLC0415

    try:
        return version("payment-service")
    except PackageNotFoundError:  # pragma: no cover - running from a source tree
        return "0.0.0"


def build_specification(settings: Settings | None = None) -> SpecificationFactory:
    """FastStream's AsyncAPI 3.0 document of everything published and consumed."""
    from faststream.specification import AsyncAPI  # noqa: PLC0415

    settings = settings or Settings()
    return AsyncAPI(
        _documented_broker(settings),
        title=TITLE,
        version=_version(),
        description=(
            "Payment events published through a transactional outbox, and the booking "
            "events the service consumes."
        ),
        schema_version="3.0.0",
    )


def specification_json(settings: Settings | None = None) -> dict[str, Any]:
    spec = build_specification(settings).to_specification()
    return cast(dict[str, Any], json.loads(spec.to_json()))


# ---------------------------------------------------------------- docs/events.md


def _type_of(schema: Mapping[str, Any]) -> str:
    if "$ref" in schema:
        name = str(schema["$ref"]).rsplit("/", 1)[-1]
        return f"[{name}](#{name.lower()})"
    if "const" in schema:
        return f"`{json.dumps(schema['const'])}`"
    if "enum" in schema:
        return " \\| ".join(f"`{json.dumps(v)}`" for v in schema["enum"])
    if "anyOf" in schema:
        parts = [_type_of(s) for s in schema["anyOf"]]
        return " or ".join(parts)
    kind = schema.get("type")
    if kind == "array":
        return f"array of {_type_of(schema.get('items', {}))}"
    if kind == "object" and isinstance(schema.get("additionalProperties"), Mapping):
        return f"object of {_type_of(schema['additionalProperties'])}"
    return str(kind or "any")


def _fields_table(schema: Mapping[str, Any]) -> list[str]:
    required = set(schema.get("required", ()))
    lines = ["| field | type | required |", "| --- | --- | --- |"]
    for name, prop in schema.get("properties", {}).items():
        lines.append(f"| `{name}` | {_type_of(prop)} | {'yes' if name in required else 'no'} |")
    return lines


def render_markdown(settings: Settings | None = None) -> str:
    """``docs/events.md``: the topology, the guarantees and every message shape."""
    settings = settings or Settings()
    document = specification_json(settings)
    schemas: Mapping[str, Any] = document["components"]["schemas"]
    topology = BookingTopology(exchange=settings.bookings_exchange, queue=settings.bookings_queue)
    out: list[str] = [
        "# Events",
        "",
        "<!-- Generated from the FastStream AsyncAPI document by",
        "     `python -m payment_adapters.messaging.asyncapi > docs/events.md`; do not edit. -->",
        "",
        "The service publishes what happens to payments, refunds, invoices and credit notes,",
        "and consumes the booking service's events, on RabbitMQ (`RABBITMQ_URL`). Every",
        "message is a [CloudEvents 1.0](https://cloudevents.io) JSON envelope in structured mode,",
        f"`Content-Type: {CONTENT_TYPE}`, persistent (delivery mode 2).",
        "",
        "## Published",
        "",
        f"Topic exchange `{settings.payments_exchange}` (`PAYMENTS_EXCHANGE`, durable), the event",
        "type as routing key. Bind your own queue to the keys you need (`payment.*`, `#`, ...).",
        "",
        "- **Transactional outbox**: an event is written in the transaction of the change that",
        "  caused it, and published if and only if that change committed.",
        "- **At least once**, with publisher confirms: a row is marked published only after the",
        "  broker confirmed it, so a crash or an outage can deliver an event twice. Deduplicate",
        "  by the envelope `id` (also the AMQP `message_id`).",
        "- **In commit order per payment**: `subject` is the stream, the payment id for",
        "  `payment.*` and `refund.*` events, the invoice id for `invoice.*` and",
        "  `credit_note.*`. The next event of a stream is sent only once the previous one was",
        "  confirmed, whichever relay sends it.",
        "- `data` is the resource's full view as of the event (`client_secret` is never in it).",
        "",
        "| routing key | `data` | when |",
        "| --- | --- | --- |",
    ]
    rank = {"payment": 0, "refund": 1, "invoice": 2, "credit_note": 3}
    for event_type in sorted(event_types(), key=lambda t: (rank.get(t.split(".")[0], 3), t)):
        shape = _data_shape(event_type).__name__
        out.append(
            f"| `{event_type}` | [{shape}](#{shape.lower()}) | "
            f"{EVENT_DESCRIPTIONS.get(event_type, '')} |"
        )
    out += [
        "",
        "Example (`payment.completed`):",
        "",
        "```json",
        '{"specversion": "1.0", "id": "5f0c…", "source": "payment-service",',
        ' "type": "payment.completed", "subject": "<payment id>", "time": "2026-11-28T10:00:00Z",',
        ' "datacontenttype": "application/json", "data": {"id": "<payment id>", "status": '
        '"COMPLETED", …}}',
        "```",
        "",
        "## Consumed",
        "",
        f"From topic exchange `{topology.exchange}` (`BOOKINGS_EXCHANGE`) into queue",
        f"`{topology.queue}` (`BOOKINGS_QUEUE`). The service declares the exchange and its",
        "queues itself, all durable:",
        "",
        "| queue | bound to | arguments | purpose |",
        "| --- | --- | --- | --- |",
        f"| `{topology.queue}` | "
        + ", ".join(f"`{k}`" for k in topology.routing_keys)
        + f" | dead-letter to `{topology.dead_letter_queue}` | the booking events |",
        f"| `{topology.retry_queue}` | (default exchange) | per-message expiration "
        f"({topology.retry_delay_ms // 1000} s, doubling), "
        f"then dead-letter back to `{topology.queue}` | delayed retries |",
        f"| `{topology.dead_letter_queue}` | (default exchange) | | what can never be "
        "handled, for an operator |",
        "",
        "| routing key | `data` | effect |",
        "| --- | --- | --- |",
        "| `booking.created` | [BookingCreatedData](#bookingcreateddata) | when "
        "`payment_required`, a `PENDING` payment is created for the booking, and confirmed "
        "when `payment_method` is given |",
        "| `booking.cancelled` | [BookingCancelledData](#bookingcancelleddata) | `PENDING` "
        "payments of the booking are cancelled; with `AUTO_REFUND_ON_CANCEL=true` (default) "
        "every `COMPLETED` payment is refunded for its whole refundable remainder, and a "
        "`PROCESSING` one (3-D Secure, unknown outcome) is refunded in full if it completes "
        "later |",
        "",
        "- A booking's two events never interleave: both handlers lock the booking first, and",
        "  a `booking.created` handled after its `booking.cancelled` (redelivered, overtaken on",
        "  another worker) creates no payment.",
        "- Each event `id` is handled **at most once**: it is written to the inbox in the",
        "  transaction of its effects; a redelivery is acknowledged and ignored.",
        "- A message is **acknowledged only after that transaction committed**; a worker that",
        "  dies or stops before leaves it to be delivered again.",
        "- Not UTF-8, not JSON, not a CloudEvents 1.0 envelope, an unexpected `type`, `data` of",
        '  the wrong shape (a missing field, `"12"` or `12.0` for an amount) or a request the',
        f"  domain rejects: **dead-lettered at once** to `{topology.dead_letter_queue}`.",
        "- A handler that fails otherwise (database unavailable, ...) is tried "
        f"{DEFAULT_ATTEMPTS} times in",
        f"  process, then goes through `{topology.retry_queue}` up to "
        f"{DEFAULT_MAX_REDELIVERIES} times (header",
        "  `x-payment-service-redeliveries`), then is dead-lettered. Nothing blocks the queue.",
        "- Unknown envelope attributes and unknown `data` fields are ignored.",
        "",
        "## Without a broker",
        "",
        "With `RABBITMQ_URL` unset events stay in the outbox and are delivered in process to",
        "the subscribers of `payment_adapters.messaging.publishers.InProcessPublisher`",
        '(`bus.subscribe("payment.*", handler)`), in the same order and with the same',
        "at-least-once rule; the in-memory harness (`payment_core.testing`) does the same.",
        "A `payment-service worker` without `RABBITMQ_URL` has no subscribers: it leaves the",
        "outbox alone (the refund retries and sweeps run), so that a `serve` with subscribers,",
        "or a broker configured later, still gets every event.",
        "",
        "## Message shapes",
        "",
    ]
    for name in (
        "BookingCreatedData",
        "BookingCancelledData",
        "PaymentData",
        "Card",
        "NextAction",
        "RefundData",
        "InvoiceData",
        "LineItem",
        "Customer",
        "Address",
        "CreditNoteData",
        "PaymentCompletedEvent",
        "BookingCreatedEvent",
    ):
        schema = schemas[name]
        out += [f"### {name}", ""]
        if schema.get("description"):
            out += [str(schema["description"]), ""]
        if name == "PaymentCompletedEvent":
            out += ["Every published envelope has this shape, with its own `type` and `data`.", ""]
        if name == "BookingCreatedEvent":
            out += [
                "Every consumed envelope has this shape, with its own `type` and `data`.",
                "",
            ]
        out += [*_fields_table(schema), ""]
    out += [
        "## AsyncAPI document",
        "",
        "FastStream's AsyncAPI 3.0 document of every channel, operation and message:",
        "",
        "<details><summary>asyncapi.json</summary>",
        "",
        "```json",
        json.dumps(document, indent=2, sort_keys=True),
        "```",
        "",
        "</details>",
        "",
    ]
    return "\n".join(out)


if __name__ == "__main__":  # pragma: no cover
    import sys

    sys.stdout.write(render_markdown())

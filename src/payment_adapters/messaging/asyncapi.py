"""The AsyncAPI document of the service's events, and ``docs/events.md`` generated from it.

The document is FastStream's own (AsyncAPI 3.0.0) of the worker app's broker, built as
``payment-service worker`` builds it (:func:`payment_adapters.messaging.worker.create_app`): its
subscribers are the booking consumer's, its publishers the ones declared for every event type
(:mod:`payment_adapters.messaging.contract`), and each message's schema is the type those
declare, so the document describes what runs. Regenerate the page with::

    python -m payment_adapters.messaging.asyncapi > docs/events.md

(the unit tests fail when the committed page differs from what this module renders).
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from typing import TYPE_CHECKING, Any, Final, cast

import attrs

from payment_adapters.messaging.codec import CONTENT_TYPE
from payment_adapters.messaging.consumer import (
    DEFAULT_ATTEMPTS,
    DEFAULT_MAX_REDELIVERIES,
    BookingTopology,
)
from payment_adapters.messaging.contract import EVENT_DESCRIPTIONS, data_shape, specification
from payment_adapters.settings import Settings
from payment_core.events import event_types

if TYPE_CHECKING:
    from faststream.specification.base import SpecificationFactory

__all__ = [
    "EVENT_DESCRIPTIONS",
    "build_specification",
    "render_markdown",
    "specification",
    "specification_json",
]

#: The broker address the published document names (the deployment's own is ``RABBITMQ_URL``).
DOCUMENTED_URL: Final = "amqp://guest:guest@localhost:5672/"


def build_specification(settings: Settings | None = None) -> SpecificationFactory:
    """The worker app's AsyncAPI document, for ``settings`` (no connection is made)."""
    from payment_adapters.bootstrap import bootstrap_in_memory  # noqa: PLC0415
    from payment_adapters.messaging.worker import create_app  # noqa: PLC0415

    settings = attrs.evolve(settings or Settings(), rabbitmq_url=DOCUMENTED_URL)
    return create_app(bootstrap_in_memory(settings)).schema


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
        shape = data_shape(event_type).__name__
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

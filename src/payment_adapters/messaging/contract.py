"""The messages of the event contract, as FastStream documents them from the real broker.

Published: for each event type, a CloudEvents 1.0 envelope whose ``data`` is the resource's
view from :mod:`payment_adapters.wire`, the very declaration the HTTP API returns, declared on
the broker as a FastStream publisher with that ``schema`` (:func:`declare_event_publishers`,
called where the broker is built). Consumed: the booking envelopes, whose ``data`` is derived
from the attrs classes the consumer decodes into (:data:`BOOKING_MESSAGES`); the consumer's
handlers take them as their message type. The AsyncAPI document
(:mod:`payment_adapters.messaging.asyncapi`) is FastStream's own, of the worker's broker.
"""

from __future__ import annotations

import functools
import operator
from collections.abc import Mapping
from typing import (
    TYPE_CHECKING,
    Any,
    Final,
    Literal,
    NotRequired,
    cast,
    get_args,
    get_origin,
    get_type_hints,
)

import attrs
from pydantic import BaseModel, SkipValidation, create_model
from typing_extensions import TypedDict

from payment_adapters.messaging.codec import BOOKING_EVENT_TYPES, CONTENT_TYPE, SOURCE
from payment_adapters.wire import (
    CreditNoteData,
    DisputeView,
    InvoiceData,
    PaymentData,
    RefundData,
)
from payment_adapters.wire.payment_plans import PaymentPlanView
from payment_core.events import event_types

if TYPE_CHECKING:
    from faststream.rabbit import RabbitBroker
    from faststream.rabbit.publisher import RabbitPublisher
    from faststream.specification.base import SpecificationFactory

__all__ = [
    "BOOKING_MESSAGES",
    "EVENT_DESCRIPTIONS",
    "TITLE",
    "BookingCancelledMessage",
    "BookingCreatedMessage",
    "data_shape",
    "declare_event_publishers",
    "published_message",
    "specification",
]

#: What each published event type means (the routing key on the ``payments`` exchange).
EVENT_DESCRIPTIONS: Final[Mapping[str, str]] = {
    "payment.initiated": "A payment was created (`PENDING`).",
    "payment.authorized": "The money is held on the card, not taken (`AUTHORIZED`, a "
    "`capture_method=manual` payment): `amount_capturable` until `authorization_expires_at`.",
    "payment.authorization_expiring": "A hold expires within "
    "`AUTHORIZATION_EXPIRY_WARNING_SECONDS` (told once); capture or release it.",
    "payment.completed": "The provider took the money (`COMPLETED`): a confirm, or the capture "
    "of a hold (`amount_captured`).",
    "payment.failed": "The payment was declined or failed (`FAILED`, with `failure_code`).",
    "payment.cancelled": "A `PENDING` payment was cancelled, or a hold released (`CANCELLED`).",
    "payment.expired": "A hold nobody captured reached its expiry (`EXPIRED`): nothing was taken.",
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
    "payment_plan.created": "A payment plan was created (`ACTIVE`); its deposit is charged next.",
    "payment_plan.installment_paid": "An installment of a plan was paid (`PAID`).",
    "payment_plan.installment_failed": "An installment's charge failed (`FAILED`, with "
    "`failure_code`, and `next_attempt_at` when it is tried again).",
    "payment_plan.paid": "Every installment of a plan is paid (`PAID`).",
    "payment_plan.defaulted": "A plan's deposit was declined, or its balance failed after the "
    "last retry (`DEFAULTED`): the booking service decides what becomes of the booking.",
    "payment_plan.cancelled": "A plan was cancelled by its policy (`CANCELLED`); `cancellation` "
    "says what was retained and refunded, and why.",
    "dispute.created": "The guest's bank opened a dispute (chargeback) of a payment "
    "(`NEEDS_RESPONSE`, evidence due by `evidence_due_by`); `subject` is the payment.",
    "dispute.closed": "A dispute closed: `status` `WON` (the money stays or comes back) or "
    "`LOST` (it is gone); `subject` is the payment.",
}

_DATA: Final[Mapping[str, type]] = {
    "payment": PaymentData,
    "refund": RefundData,
    "invoice": InvoiceData,
    "credit_note": CreditNoteData,
    "payment_plan": PaymentPlanView,
    "dispute": DisputeView,
}


def data_shape(event_type: str) -> type:
    """The ``data`` of a published event type: its resource's view."""
    return _DATA[event_type.split(".", 1)[0]]


def _camel(event_type: str) -> str:
    return "".join(part.capitalize() for part in event_type.replace("_", ".").split("."))


def _envelope(name: str, event_type: str, data: type, *, source: str | None) -> type[BaseModel]:
    """The CloudEvents 1.0 structured-mode envelope of one event type.

    A pydantic model rather than a TypedDict: FastStream documents a model under its own name,
    where a lone TypedDict argument would lose it. ``source`` is ours for what we publish.
    """
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
    return cast(type[BaseModel], create_model(name, **fields))


@functools.cache
def published_message(event_type: str) -> type[BaseModel]:
    """The envelope published for ``event_type`` (``PaymentCompletedEvent``, ...)."""
    return _envelope(
        f"{_camel(event_type)}Event", event_type, data_shape(event_type), source=SOURCE
    )


def _data_of(kind: type, name: str) -> type:
    """A TypedDict of an attrs class's fields: what a message must carry to decode into it
    (a field with a default may be left out); nested attrs classes become TypedDicts too."""
    hints = get_type_hints(kind)
    fields = {
        field.name: _shape(hints[field.name], f"{name}{_camel(field.name)}")
        if field.default is attrs.NOTHING
        else NotRequired[_shape(hints[field.name], f"{name}{_camel(field.name)}")]
        for field in attrs.fields(kind)
    }
    return cast(type, TypedDict(name, fields))  # type: ignore[operator]


def _shape(hint: Any, name: str) -> Any:
    """``hint`` with each attrs class in it (alone, optional, or in a list) as a TypedDict."""
    if attrs.has(hint):
        return _data_of(hint, name)
    args = get_args(hint)
    if not args:
        return hint
    shaped = tuple(_shape(arg, name) for arg in args)
    if shaped == args:
        return hint
    if get_origin(hint) is list:
        return list[shaped[0]]  # type: ignore[valid-type]
    return functools.reduce(operator.or_, shaped)


#: The booking envelopes the consumer takes, by routing key (``BookingCreatedEvent``, ...).
BOOKING_MESSAGES: Final[Mapping[str, type[BaseModel]]] = {
    event_type: _envelope(
        f"{_camel(event_type)}Event",
        event_type,
        _data_of(kind, f"{_camel(event_type)}Data"),
        source=None,
    )
    for event_type, kind in BOOKING_EVENT_TYPES.items()
}


if TYPE_CHECKING:
    BookingCreatedMessage = bytes
    BookingCancelledMessage = bytes
else:
    # The consumer's handlers' message types: what FastStream documents, while the handler is
    # given the raw body unvalidated, for the consumer to check (and dead-letter) itself.
    BookingCreatedMessage = SkipValidation[BOOKING_MESSAGES["booking.created"]]
    BookingCancelledMessage = SkipValidation[BOOKING_MESSAGES["booking.cancelled"]]


def declare_event_publishers(broker: RabbitBroker, exchange: str) -> dict[str, RabbitPublisher]:
    """One FastStream publisher per event type on the topic ``exchange``, with its envelope as
    its ``schema`` and the options every event is published with (persistent, not mandatory:
    an event type nobody is bound to yet is dropped by the broker, and confirmed)."""
    from faststream.rabbit import ExchangeType, RabbitExchange  # noqa: PLC0415

    target = RabbitExchange(exchange, type=ExchangeType.TOPIC, durable=True)
    return {
        event_type: broker.publisher(
            exchange=target,
            routing_key=event_type,
            persist=True,
            mandatory=False,
            content_type=CONTENT_TYPE,
            title=f"{exchange}:{event_type}",
            description=EVENT_DESCRIPTIONS.get(event_type),
            schema=published_message(event_type),
        )
        for event_type in event_types()
    }


# ---------------------------------------------------------------- the document

TITLE: Final = "payment-service events"


def _version() -> str:
    from importlib.metadata import PackageNotFoundError, version  # noqa: PLC0415

    try:
        return version("payment-service")
    except PackageNotFoundError:  # pragma: no cover - running from a source tree
        return "0.0.0"


def specification() -> SpecificationFactory:
    """The AsyncAPI 3.0 description of a worker app; FastStream adds the app's broker."""
    from faststream.specification import AsyncAPI  # noqa: PLC0415

    return AsyncAPI(
        title=TITLE,
        version=_version(),
        description=(
            "Payment events published through a transactional outbox, and the booking "
            "events the service consumes."
        ),
        schema_version="3.0.0",
    )

"""The CloudEvents codec: domain events out, booking events in; and the generated docs."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from pathlib import Path
from typing import Any
from uuid import UUID, uuid4
from zoneinfo import ZoneInfo

import pytest
from hypothesis import example, given
from hypothesis import strategies as st

from payment_adapters.messaging import asyncapi
from payment_adapters.messaging.codec import (
    CONTENT_TYPE,
    EnvelopeError,
    decode_booking_event,
    decode_envelope,
    encode_event,
)
from payment_adapters.wire import invoice_view, payment_view, refund_view, rfc3339
from payment_core.events import event_types
from payment_core.model.invoice import LineItem
from payment_core.services import CreateInvoice, CreatePayment
from payment_core.services.bookings import BookingCancelled, BookingCreated
from payment_core.testing import build_in_memory

BOOKING = "3f1c5a52-4d38-4a77-9d39-4a2f6d1f0a11"
GUEST = "8b6f9a0e-12c4-4b1e-9a4f-0d7a3c2b1e55"


def booking_envelope(event_type: str = "booking.created", **data: Any) -> dict[str, Any]:
    body: dict[str, Any] = {
        "booking_id": BOOKING,
        "guest_id": GUEST,
        "amount": 12_500,
        "currency": "EUR",
        "payment_required": True,
    }
    if event_type == "booking.cancelled":
        body = {"booking_id": BOOKING}
    body.update(data)
    return {
        "specversion": "1.0",
        "id": "evt-1",
        "source": "booking-service",
        "type": event_type,
        "time": "2026-11-28T10:00:00Z",
        "datacontenttype": "application/json",
        "data": body,
    }


def raw(envelope: dict[str, Any]) -> bytes:
    return json.dumps(envelope).encode()


async def completed_payment_events() -> list[Any]:
    harness = build_in_memory()
    payment = await harness.services.payments.create(
        CreatePayment(booking_id=uuid4(), guest_id=uuid4(), amount=12_500, currency="EUR")
    )
    await harness.services.payments.confirm(payment.id, "pm_card_visa")
    await harness.services.refunds.create(payment.id, 500)
    return harness.publisher.events


# ---------------------------------------------------------------- outgoing


async def test_encoded_event_is_a_cloudevents_envelope_with_the_full_view() -> None:
    events = await completed_payment_events()
    completed = next(e for e in events if e.type == "payment.completed")
    envelope = json.loads(encode_event(completed))
    assert envelope["specversion"] == "1.0"
    assert envelope["id"] == str(completed.event_id)
    assert envelope["source"] == "payment-service"
    assert envelope["type"] == "payment.completed"
    assert envelope["subject"] == str(completed.payment.id)
    assert envelope["datacontenttype"] == "application/json"
    assert envelope["time"].endswith("Z")
    assert envelope["data"]["status"] == "COMPLETED"
    assert envelope["data"]["id"] == str(completed.payment.id)


async def test_payment_events_never_carry_the_client_secret() -> None:
    for event in await completed_payment_events():
        assert "client_secret" not in json.loads(encode_event(event))["data"]


async def test_refund_events_share_their_payments_stream() -> None:
    events = await completed_payment_events()
    payment_id = next(e for e in events if e.type == "payment.initiated").payment.id
    refund = next(e for e in events if e.type == "refund.initiated")
    assert json.loads(encode_event(refund))["subject"] == str(payment_id)


async def test_encoded_events_decode_as_envelopes() -> None:
    for event in await completed_payment_events():
        decoded = decode_envelope(encode_event(event))
        assert (decoded.id, decoded.type) == (str(event.event_id), event.type)
        assert decoded.subject == str(event.stream_id)


# ---------------------------------------------------------------- incoming envelopes


@pytest.mark.parametrize(
    ("body", "reason"),
    [
        (b"\xff\xfe", "not UTF-8"),
        (b"{not json", "not valid JSON"),
        (b"[1, 2]", "an envelope is a JSON object"),
        (raw({**booking_envelope(), "specversion": "0.3"}), "unsupported specversion"),
        (raw({k: v for k, v in booking_envelope().items() if k != "id"}), "'id'"),
        (raw({**booking_envelope(), "source": ""}), "'source'"),
        (raw({**booking_envelope(), "type": 7}), "'type'"),
        (raw({**booking_envelope(), "datacontenttype": "text/xml"}), "application/json"),
        (raw({**booking_envelope(), "data": "x"}), "data must be a JSON object"),
    ],
)
def test_invalid_envelopes_are_rejected_with_a_reason(body: bytes, reason: str) -> None:
    with pytest.raises(EnvelopeError) as caught:
        decode_envelope(body)
    assert reason in caught.value.reason


def test_unknown_envelope_attributes_are_kept_as_extensions() -> None:
    envelope = decode_envelope(raw({**booking_envelope(), "traceparent": "00-ab-cd-01"}))
    assert envelope.extensions == {"traceparent": "00-ab-cd-01"}


def test_an_envelope_over_one_mebibyte_is_rejected() -> None:
    with pytest.raises(EnvelopeError, match="larger than 1 MiB"):
        decode_envelope(b" " * (1024 * 1024 + 1))


# ---------------------------------------------------------------- booking events


def test_booking_created_decodes_to_typed_data() -> None:
    envelope, data = decode_booking_event(raw(booking_envelope(payment_method="pm_card_visa")))
    assert envelope.id == "evt-1"
    assert data == BookingCreated(
        booking_id=UUID(BOOKING),
        guest_id=UUID(GUEST),
        amount=12_500,
        currency="EUR",
        payment_required=True,
        payment_method="pm_card_visa",
    )


def test_booking_cancelled_decodes_with_an_optional_reason() -> None:
    _, data = decode_booking_event(raw(booking_envelope("booking.cancelled", reason="guest")))
    assert data == BookingCancelled(booking_id=UUID(BOOKING), reason="guest")


def test_unknown_data_fields_are_tolerated() -> None:
    _, data = decode_booking_event(raw(booking_envelope(room="12", nights=2)))
    assert isinstance(data, BookingCreated)


@pytest.mark.parametrize(
    ("field", "value"),
    [
        ("amount", "12500"),
        ("amount", 125.0),
        ("amount", True),
        ("payment_required", 1),
        ("payment_required", "true"),
        ("booking_id", "not-a-uuid"),
        ("booking_id", 42),
        ("currency", 978),
        ("payment_method", 5),
    ],
)
def test_booking_data_of_the_wrong_type_is_rejected(field: str, value: object) -> None:
    with pytest.raises(EnvelopeError) as caught:
        decode_booking_event(raw(booking_envelope(**{field: value})))
    assert f"data.{field}" in caught.value.reason


def test_booking_data_with_a_missing_field_is_rejected() -> None:
    envelope = booking_envelope()
    del envelope["data"]["guest_id"]
    with pytest.raises(EnvelopeError, match=r"required field missing @ data\.guest_id"):
        decode_booking_event(raw(envelope))


def test_a_type_the_service_does_not_consume_is_rejected() -> None:
    with pytest.raises(EnvelopeError, match="unexpected event type"):
        decode_booking_event(raw(booking_envelope("booking.updated")))


# ---------------------------------------------------------------- AsyncAPI and docs


def test_every_published_event_type_has_a_documented_channel() -> None:
    document = asyncapi.specification_json()
    addresses = {c["address"] for c in document["channels"].values()}
    assert set(event_types()) | {"booking.created", "booking.cancelled"} <= addresses
    assert set(event_types()) <= set(asyncapi.EVENT_DESCRIPTIONS)


def test_the_documented_queues_are_the_declared_ones() -> None:
    document = asyncapi.specification_json()
    queues = {
        c["bindings"]["amqp"]["queue"]["name"]
        for c in document["channels"].values()
        if c["bindings"]["amqp"]["is"] == "queue"
    }
    assert queues == {
        "payment-service.bookings",
        "payment-service.bookings.dlq",
        "payment-service.bookings.retry",
    }


async def test_documented_data_shapes_match_the_wire_views() -> None:
    harness = build_in_memory()
    payment = await harness.services.payments.create(
        CreatePayment(booking_id=uuid4(), guest_id=uuid4(), amount=100, currency="EUR")
    )
    payment = await harness.services.payments.confirm(payment.id, "pm_card_visa")
    refund = await harness.services.refunds.create(payment.id, 50)
    invoice = await harness.services.invoices.create(
        CreateInvoice(
            booking_id=uuid4(),
            guest_id=uuid4(),
            currency="EUR",
            line_items=[LineItem(description="Room", quantity=1, unit_amount=100, tax_rate_bps=0)],
        )
    )
    schemas = asyncapi.specification_json()["components"]["schemas"]
    view = payment_view(payment, include_client_secret=False)
    assert set(schemas["PaymentData"]["properties"]) == set(view)
    assert set(schemas["RefundData"]["properties"]) == set(refund_view(refund))
    assert set(schemas["InvoiceData"]["properties"]) == set(invoice_view(invoice))
    assert set(schemas["Card"]["properties"]) == set(view["card"])


def test_docs_events_md_is_generated_from_the_asyncapi_document() -> None:
    page = Path(__file__).parents[2] / "docs" / "events.md"
    assert page.read_text(encoding="utf-8") == asyncapi.render_markdown(), (
        "docs/events.md is stale: python -m payment_adapters.messaging.asyncapi > docs/events.md"
    )


def test_content_type_is_cloudevents_json() -> None:
    assert CONTENT_TYPE == "application/cloudevents+json"


@given(
    moment=st.datetimes(
        min_value=datetime(1000, 1, 2), timezones=st.timezones(), allow_imaginary=False
    )
)
@example(moment=datetime(1987, 9, 27, 2, 0, tzinfo=ZoneInfo("Asia/Dushanbe")))  # ambiguous
def test_rfc3339_is_utc_with_microseconds_only_when_there_are_some(moment: datetime) -> None:
    text = rfc3339(moment)
    utc = moment.astimezone(UTC)
    expected = utc.strftime("%Y-%m-%dT%H:%M:%S")
    expected += f".{utc.microsecond:06d}Z" if utc.microsecond else "Z"
    assert text == expected
    assert datetime.fromisoformat(text) == utc  # the same instant (compared in UTC: an
    # ambiguous local time never equals another zone's, PEP 495)

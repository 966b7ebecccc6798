"""Raw card data is refused with 422 ``raw_card_data_forbidden``, never stored, never logged."""

from __future__ import annotations

import json
import logging
import re
import uuid
from typing import Any

import msgspec
import pytest
from hypothesis import assume, given
from hypothesis import strategies as st
from tests.http.conftest import AUTH, Api, new_id, payment_body

from payment_core.card_data import luhn_valid
from payment_core.errors import RawCardDataError
from payment_core.ids import new_reference
from payment_http.body import BodySpec, decode_body
from payment_http.logging import _scrub, redact

PANS = ["4242424242424242", "4000 0566 5566 5556", "5555-5555-5555-4444", "378282246310005"]


def _digits(text: str) -> str:
    return "".join(c for c in text if c.isdigit())


@pytest.mark.parametrize("number", PANS)
@pytest.mark.parametrize(
    "where",
    ["description", "metadata-value", "metadata-key", "payment_method", "unknown-field"],
)
async def test_a_card_number_anywhere_in_a_payment_is_refused(
    mem: Api, number: str, where: str
) -> None:
    body = payment_body()
    if where == "description":
        body["description"] = f"card {number} please"
    elif where == "metadata-value":
        body["metadata"] = {"note": number}
    elif where == "metadata-key":
        body["metadata"] = {number: "x"}
    elif where == "payment_method":
        body["payment_method"] = number
    else:
        body["extra"] = {"deep": [{"value": number}]}
    response = await mem.client.post("/api/v1/payments", json=body, headers=AUTH)
    assert response.status_code == 422
    assert response.json()["code"] == "raw_card_data_forbidden"
    assert _digits(number) not in _digits(response.text.replace("-", ""))


@pytest.mark.parametrize("field", ["card_number", "cvc", "cvv", "cvv2", "security_code"])
async def test_fields_named_like_card_data_are_refused_whatever_their_value(
    mem: Api, field: str
) -> None:
    response = await mem.client.post(
        "/api/v1/payments", json=payment_body(**{field: "123"}), headers=AUTH
    )
    assert response.status_code == 422
    assert response.json()["code"] == "raw_card_data_forbidden"
    assert response.json()["errors"][0]["field"] == field


async def test_a_card_number_as_a_json_number_is_refused(mem: Api) -> None:
    response = await mem.client.post(
        "/api/v1/payments",
        json=payment_body(metadata={"n": "1"}, extra=4242424242424242),
        headers=AUTH,
    )
    assert response.json()["code"] == "raw_card_data_forbidden"


@pytest.mark.parametrize(
    ("path", "body"),
    [
        ("/api/v1/payments/{id}/confirm", {"payment_method": "4242424242424242"}),
        ("/api/v1/refunds", {"payment_id": "{id}", "reason": "4242424242424242"}),
        (
            "/api/v1/invoices",
            {
                "booking_id": "{id}",
                "guest_id": "{id}",
                "currency": "EUR",
                "notes": "paid with 4242424242424242",
            },
        ),
    ],
)
async def test_every_json_endpoint_refuses_card_data(
    mem: Api, path: str, body: dict[str, Any]
) -> None:
    payment = await mem.create_payment()
    url = path.format(id=payment["id"])
    filled = {k: (v.format(id=new_id()) if isinstance(v, str) else v) for k, v in body.items()}
    response = await mem.client.post(url, json=filled, headers=AUTH)
    assert response.status_code == 422
    assert response.json()["code"] == "raw_card_data_forbidden"


async def test_a_card_number_spelled_with_json_escapes_is_refused(mem: Api) -> None:
    spelled = "".join(f"\\u{ord(c):04x}" for c in "4242424242424242")
    body = (
        f'{{"booking_id":"{new_id()}","guest_id":"{new_id()}","amount":1,'
        f'"currency":"EUR","description":"{spelled}"}}'
    )
    response = await mem.client.post(
        "/api/v1/payments", content=body, headers={**AUTH, "Content-Type": "application/json"}
    )
    assert response.status_code == 422
    assert response.json()["code"] == "raw_card_data_forbidden"


async def test_a_refused_body_is_not_stored_not_even_for_idempotency(api: Api) -> None:
    booking = new_id()
    headers = {**AUTH, "Idempotency-Key": "card-data-1"}
    bad = payment_body(booking_id=booking, description="4242424242424242")
    refused = await api.client.post("/api/v1/payments", json=bad, headers=headers)
    assert refused.status_code == 422
    listed = await api.client.get(f"/api/v1/payments/booking/{booking}", headers=AUTH)
    assert listed.json()["items"] == []
    # Nothing was recorded under the key: a clean request may use it.
    good = await api.client.post(
        "/api/v1/payments", json=payment_body(booking_id=booking), headers=headers
    )
    assert good.status_code == 201
    assert "idempotent-replayed" not in good.headers


async def test_luhn_invalid_digit_runs_and_uuids_are_not_card_data(mem: Api) -> None:
    body = payment_body(
        description="order 4242424242424241, booking " + new_id(),
        metadata={"phone": "+44 20 7946 0958", "ref": "1234567890123"},
    )
    response = await mem.client.post("/api/v1/payments", json=body, headers=AUTH)
    assert response.status_code == 201


async def test_card_numbers_never_reach_a_log_line(
    mem: Api, json_logs: pytest.CaptureFixture[str], caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG)
    number = "4242424242424242"
    await mem.client.post("/api/v1/payments", json=payment_body(description=number), headers=AUTH)
    await mem.client.post("/api/v1/payments", json=payment_body(card_number=number), headers=AUTH)
    await mem.client.get(f"/api/v1/payments/reference/{number}")
    await mem.client.get(f"/api/v1/payments/{number}", headers=AUTH)
    await mem.client.get(f"/api/v1/unknown/{number}")
    logging.getLogger("payment_core.test").warning("someone logged %s", number)
    output = json_logs.readouterr()
    rendered = output.err + output.out
    assert "request" in rendered  # the access log was captured
    assert number not in rendered
    assert "[REDACTED]" in rendered
    for record in caplog.records:
        message = record.getMessage()
        # Records are redacted when rendered; our own never carry a body at all.
        if record.name.startswith("payment_http"):
            assert number not in message


def test_redact_masks_luhn_valid_runs_only() -> None:
    assert redact("pan 4242 4242 4242 4242 end") == "pan [REDACTED] end"
    assert redact("order 4242424242424241") == "order 4242424242424241"
    ident = "0191e0b4-1234-7abc-8def-123456789012"
    assert redact(f"payment {ident}") == f"payment {ident}"


# ---------------------------------------------------------------- separators (issue item 5)

FULLWIDTH = str.maketrans("0123456789", "".join(chr(0xFF10 + d) for d in range(10)))
SEPARATED = [
    "4242  4242  4242  4242",
    "4242.4242.4242.4242",
    "4242/4242/4242/4242",
    "4242_4242_4242_4242",
    "4242,4242,4242,4242",
    "4242+4242+4242+4242",
    "4242\u20134242\u20134242\u20134242",
    "4242\u20144242\u20144242\u20144242",
    "4242\u00a04242\u00a04242\u00a04242",
    "4242\u20094242\u30004242\u202f4242",
    "4242\t4242\t4242\t4242",
    "4242\n4242\r\n4242\n4242",
    "4242 -\t4242 .\u00a04242 / 4242",
    "4242 4242 4242 4242".translate(FULLWIDTH),
]


@pytest.mark.parametrize("text", SEPARATED)
async def test_a_card_number_however_separated_is_refused_and_nothing_is_stored(
    api: Api, text: str
) -> None:
    booking = new_id()
    body = payment_body(booking_id=booking, description=f"paid with {text}", metadata={"n": text})
    response = await api.client.post(
        "/api/v1/payments", json=body, headers={**AUTH, "Idempotency-Key": f"sep-{booking}"}
    )
    assert response.status_code == 422
    assert response.json()["code"] == "raw_card_data_forbidden"
    listed = await api.client.get(f"/api/v1/payments/booking/{booking}", headers=AUTH)
    assert listed.json()["items"] == []


@pytest.mark.parametrize(
    "spelled",
    [
        "4242\\t4242\\t4242\\t4242",  # JSON escapes for separators
        "4242\\u00a04242\\u00a04242\\u00a04242",
        "\\uff14\\uff12\\uff14\\uff12 4242 4242 4242",  # escaped full-width digits
    ],
)
async def test_a_card_number_separated_by_json_escapes_is_refused(mem: Api, spelled: str) -> None:
    body = (
        f'{{"booking_id":"{new_id()}","guest_id":"{new_id()}","amount":1,'
        f'"currency":"EUR","description":"{spelled}"}}'
    )
    response = await mem.client.post(
        "/api/v1/payments", content=body, headers={**AUTH, "Content-Type": "application/json"}
    )
    assert response.status_code == 422
    assert response.json()["code"] == "raw_card_data_forbidden"


async def test_dates_phone_numbers_and_ibans_that_pass_luhn_are_accepted(mem: Api) -> None:
    body = payment_body(
        description="stay 15.09.2026 - 23.09.2026, arrival 2026-10-08 \u2013 2026-10-16",
        metadata={"phone": "+86 169 9718 9472", "iban": "DE46 3982 5979 1907 4833 78"},
    )
    response = await mem.client.post("/api/v1/payments", json=body, headers=AUTH)
    assert response.status_code == 201


def _luhn_complete(prefix: str) -> str:
    return next(prefix + d for d in "0123456789" if luhn_valid(prefix + d))


class _Note(msgspec.Struct):
    note: str


@given(
    st.integers(12, 18).flatmap(
        lambda n: st.text("0123456789", min_size=n, max_size=n).map(lambda s: "4" + s[1:])
    ),
    st.data(),
)
def test_the_body_check_refuses_any_card_number_however_separated(
    prefix: str, data: st.DataObject
) -> None:
    """On the raw bytes, as a client sends them: the byte-level pre-check lets none past."""
    number = _luhn_complete(prefix)
    separators = [" ", "  ", ".", "/", "_", ",", "+", "\u2013", "\u2014", "\u00a0", "\t", "\n"]
    text = number[0]
    for digit in number[1:]:
        text += data.draw(st.sampled_from(["", "", *separators])) + digit
    assume(re.search(r"(?:19|20)\d\d([-/.])\d\d?\1\d\d?|\d\d?([-/.])\d\d?\2(?:19|20)\d\d", text)
           is None)  # fmt: skip
    raw = msgspec.json.encode({"note": f"card: {text} (exp 12/30)"})
    with pytest.raises(RawCardDataError):
        decode_body(raw, BodySpec(_Note), None)  # type: ignore[arg-type]


# ---------------------------------------------------------------- ids in logs (issue item 9)


async def test_the_request_id_a_problem_shows_is_in_the_log_unmasked(
    mem: Api, json_logs: pytest.CaptureFixture[str]
) -> None:
    # A hex id with a Luhn-valid run of 16 digits inside, as uuid4().hex makes now and then.
    request_id = "9f2c4242424242424242ab07e1d3c5"
    response = await mem.client.get(
        f"/api/v1/payments/{new_id()}", headers={**AUTH, "X-Request-Id": request_id}
    )
    assert response.status_code == 404
    assert response.json()["request_id"] == request_id
    lines = [json.loads(line) for line in json_logs.readouterr().err.splitlines() if line]
    access = [line for line in lines if line.get("event") == "request"]
    assert [line["request_id"] for line in access] == [request_id]


@pytest.mark.parametrize(
    "sent", ["4242424242424242", "4242-4242-4242-4242", "pan.4242.4242.4242.4242"]
)
async def test_a_request_id_that_is_a_card_number_is_replaced(mem: Api, sent: str) -> None:
    response = await mem.client.get("/health/live", headers={"X-Request-Id": sent})
    assert response.headers["x-request-id"] != sent
    assert _digits(sent) not in response.headers["x-request-id"]


@given(st.uuids(), st.sampled_from(["pay", "ref", "inv"]))
def test_ids_are_never_redacted(value: uuid.UUID, prefix: str) -> None:
    for ident in (value.hex, str(value), str(value).upper(), new_reference(prefix)):
        assert redact(f"request {ident} failed") == f"request {ident} failed"


def test_id_fields_are_kept_and_free_text_is_masked() -> None:
    event = {
        "event": "refund failed for 4242 4242 4242 4242",
        "request_id": "9f2c4242424242424242ab07e1d3c5",
        "payment_id": "0191e0b4-4242-7424-8242-424242424242",
        "event_ids": ["evt_4242424242424242a", "evt_b4242424242424242"],
        "reference": "pay_4242424242424242x9kqm3v8wz5t7",
        "booking_id": "4242424242424242",  # digits alone are read as text, whatever the field
    }
    scrubbed = _scrub(None, "info", dict(event))
    assert scrubbed["event"] == "refund failed for [REDACTED]"
    for field in ("request_id", "payment_id", "event_ids", "reference"):
        assert scrubbed[field] == event[field]
    assert scrubbed["booking_id"] == "[REDACTED]"

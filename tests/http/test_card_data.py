"""Raw card data is refused with 422 ``raw_card_data_forbidden``, never stored, never logged."""

from __future__ import annotations

import logging
from typing import Any

import pytest
from tests.http.conftest import AUTH, Api, new_id, payment_body

from payment_http.logging import redact

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

"""Strict input validation: amounts, currencies, ids, metadata, unknown fields, transport."""

from __future__ import annotations

import json
from typing import Any

import pytest
from tests.http.conftest import AUTH, Api, new_id, payment_body

JSON = {**AUTH, "Content-Type": "application/json"}


async def post(api: Api, body: Any, path: str = "/api/v1/payments") -> tuple[int, dict]:
    response = await api.client.post(path, json=body, headers=AUTH)
    return response.status_code, response.json()


@pytest.mark.parametrize(
    "amount",
    [12.5, 12.0, "1250", True, False, -1, 0, 100_000_000_000, 10**30, None, [1], {"v": 1}],
    ids=lambda v: repr(v)[:20],
)
async def test_an_amount_that_is_not_a_positive_integer_in_range_is_invalid_amount(
    mem: Api, amount: object
) -> None:
    status, problem = await post(mem, payment_body(amount=amount))
    assert status == 422
    assert problem["code"] == "invalid_amount"
    assert problem["errors"][0]["field"] == "amount"


async def test_the_largest_amount_is_accepted(mem: Api) -> None:
    status, payment = await post(mem, payment_body(amount=99_999_999_999))
    assert status == 201
    assert payment["amount"] == 99_999_999_999


async def test_a_float_written_as_integer_text_in_raw_json_is_refused(mem: Api) -> None:
    ids = f'"booking_id":"{new_id()}","guest_id":"{new_id()}"'
    body = "{" + ids + ',"amount":12500.0,"currency":"EUR"}'
    response = await mem.client.post("/api/v1/payments", content=body, headers=JSON)
    assert response.status_code == 422
    assert response.json()["code"] == "invalid_amount"


async def test_a_missing_amount_is_a_validation_error(mem: Api) -> None:
    body = payment_body()
    del body["amount"]
    status, problem = await post(mem, body)
    assert status == 422
    assert problem["code"] == "validation_error"
    assert problem["errors"] == [{"field": "amount", "reason": "required"}]


@pytest.mark.parametrize("currency", ["eur", "EURO", "XYZ", "XAU", "", 978, None])
async def test_a_currency_that_is_not_upper_case_iso_4217_is_unknown_currency(
    mem: Api, currency: object
) -> None:
    status, problem = await post(mem, payment_body(currency=currency))
    assert status == 422
    assert problem["code"] == "unknown_currency"


@pytest.mark.parametrize("currency", ["JPY", "KWD", "USD"])
async def test_currencies_with_other_exponents_are_accepted(mem: Api, currency: str) -> None:
    status, payment = await post(mem, payment_body(currency=currency, amount=1234))
    assert status == 201
    assert (payment["amount"], payment["currency"]) == (1234, currency)


@pytest.mark.parametrize("field", ["booking_id", "guest_id"])
@pytest.mark.parametrize("value", ["nope", "", 12, None])
async def test_ids_must_be_uuids(mem: Api, field: str, value: object) -> None:
    status, problem = await post(mem, payment_body(**{field: value}))
    assert status == 422
    assert problem["code"] == "validation_error"
    assert problem["errors"][0]["field"] == field


@pytest.mark.parametrize(
    "metadata",
    [
        {f"k{i}": "v" for i in range(21)},
        {"k": "x" * 501},
        {"k": 1},
        {"k": None},
        {"": "v"},
        {"k" * 41: "v"},
        ["k", "v"],
    ],
    ids=["21-keys", "long-value", "int-value", "null-value", "empty-key", "long-key", "list"],
)
async def test_metadata_limits(mem: Api, metadata: object) -> None:
    status, problem = await post(mem, payment_body(metadata=metadata))
    assert status == 422
    assert problem["code"] == "validation_error"
    assert problem["errors"][0]["field"].startswith("metadata")


async def test_metadata_at_its_limits_is_accepted(mem: Api) -> None:
    metadata = {f"k{i}": "x" * 500 for i in range(20)}
    status, payment = await post(mem, payment_body(metadata=metadata))
    assert status == 201
    assert payment["metadata"] == metadata


async def test_an_unknown_field_is_refused_and_named(mem: Api) -> None:
    status, problem = await post(mem, payment_body(colour="blue"))
    assert status == 422
    assert problem["code"] == "validation_error"
    assert problem["errors"] == [{"field": "colour", "reason": "unknown field"}]


async def test_problems_are_rfc_9457(mem: Api) -> None:
    response = await mem.client.post("/api/v1/payments", json={}, headers=AUTH)
    assert response.status_code == 422
    assert response.headers["content-type"] == "application/problem+json"
    problem = response.json()
    assert {"type", "title", "status", "detail", "code"} <= set(problem)
    assert problem["status"] == 422
    assert problem["type"].endswith(problem["code"])


@pytest.mark.parametrize("body", [b"{", b"{'a': 1}", b"\xff\xfe", b'{"a":1,}', b"NaN"])
async def test_malformed_json_is_400(mem: Api, body: bytes) -> None:
    response = await mem.client.post("/api/v1/payments", content=body, headers=JSON)
    assert response.status_code == 400
    assert response.json()["code"] == "malformed_json"


@pytest.mark.parametrize("body", [b"[]", b"1", b'"text"', b"null"])
async def test_a_body_that_is_not_an_object_is_422(mem: Api, body: bytes) -> None:
    response = await mem.client.post("/api/v1/payments", content=body, headers=JSON)
    assert response.status_code == 422


async def test_a_required_body_that_is_empty_is_422(mem: Api) -> None:
    response = await mem.client.post("/api/v1/payments", headers=AUTH)
    assert response.status_code == 422
    assert response.json()["errors"] == [{"field": "body", "reason": "required"}]


async def test_absurdly_nested_json_is_refused_without_a_crash(mem: Api) -> None:
    body = b'{"metadata":' + b'{"a":' * 5000 + b"1" + b"}" * 5001
    response = await mem.client.post("/api/v1/payments", content=body, headers=JSON)
    assert response.status_code in (400, 422)


@pytest.mark.parametrize(
    "content_type",
    ["text/plain", "application/x-www-form-urlencoded", "application/json; charset=latin-1"],
)
async def test_a_non_json_content_type_is_415(mem: Api, content_type: str) -> None:
    response = await mem.client.post(
        "/api/v1/payments",
        content=b'{"amount": 1}',
        headers={**AUTH, "Content-Type": content_type},
    )
    assert response.status_code == 415
    assert response.json()["code"] == "unsupported_media_type"


async def test_a_json_body_without_a_content_type_is_415(mem: Api) -> None:
    response = await mem.client.post("/api/v1/payments", content=b'{"amount": 1}', headers=AUTH)
    assert response.status_code == 415


async def test_json_with_a_suffix_and_utf8_charset_is_accepted(mem: Api) -> None:

    response = await mem.client.post(
        "/api/v1/payments",
        content=json.dumps(payment_body()).encode(),
        headers={**AUTH, "Content-Type": "application/merge-patch+json; charset=UTF-8"},
    )
    assert response.status_code == 201


async def test_a_body_over_64_kib_is_413(mem: Api) -> None:
    body = payment_body(description="x" * (64 * 1024))
    response = await mem.client.post("/api/v1/payments", json=body, headers=AUTH)
    assert response.status_code == 413
    assert response.json()["code"] == "payload_too_large"


async def test_a_chunked_body_over_64_kib_is_413(mem: Api) -> None:
    """Streamed without a Content-Length, the body is cut off once it passes the limit."""
    chunks = [b'{"description": "', *([b"x" * 1024] * 70), b'"}']
    received = 0
    sent: list[dict[str, Any]] = []

    async def receive() -> dict[str, Any]:
        nonlocal received
        chunk = chunks[received]
        received += 1
        return {"type": "http.request", "body": chunk, "more_body": received < len(chunks)}

    async def send(message: dict[str, Any]) -> None:
        sent.append(message)

    scope = {
        "type": "http",
        "asgi": {"version": "3.0"},
        "http_version": "1.1",
        "method": "POST",
        "scheme": "http",
        "path": "/api/v1/payments",
        "raw_path": b"/api/v1/payments",
        "root_path": "",
        "query_string": b"",
        "headers": [
            (b"host", b"test"),
            (b"authorization", AUTH["Authorization"].encode()),
            (b"content-type", b"application/json"),
            (b"transfer-encoding", b"chunked"),
        ],
        "client": ("127.0.0.1", 1),
        "server": ("test", 80),
    }
    await mem.app(scope, receive, send)  # type: ignore[arg-type]
    assert sent[0]["status"] == 413
    assert b"payload_too_large" in sent[1]["body"]
    assert received < len(chunks)  # it stopped reading


async def test_a_body_of_exactly_64_kib_is_read(mem: Api) -> None:
    body = b'{"x":"' + b"y" * (64 * 1024 - 8) + b'"}'
    assert len(body) == 64 * 1024
    response = await mem.client.post("/api/v1/payments", content=body, headers=JSON)
    assert response.status_code == 422  # read and validated, not refused for its size


async def test_a_webhook_body_over_64_kib_is_413(mem: Api) -> None:
    response = await mem.client.post(
        "/api/v1/webhooks/fake", content=b"x" * (64 * 1024 + 1), headers=JSON
    )
    assert response.status_code == 413


@pytest.mark.parametrize("query", ["limit=0", "limit=201", "limit=abc", "limit=1.5"])
async def test_a_limit_out_of_range_is_422(mem: Api, query: str) -> None:
    response = await mem.client.get(f"/api/v1/payments/booking/{new_id()}?{query}", headers=AUTH)
    assert response.status_code == 422
    assert response.json()["code"] == "validation_error"


async def test_limits_at_the_edges_are_accepted(mem: Api) -> None:
    for limit in (1, 200):
        response = await mem.client.get(
            f"/api/v1/payments/booking/{new_id()}?limit={limit}", headers=AUTH
        )
        assert response.status_code == 200


@pytest.mark.parametrize("cursor", ["garbage", "x" * 300, "MjAyNnw="])
async def test_a_cursor_this_api_did_not_return_is_422(mem: Api, cursor: str) -> None:
    response = await mem.client.get(
        f"/api/v1/payments/booking/{new_id()}", params={"cursor": cursor}, headers=AUTH
    )
    assert response.status_code == 422
    assert response.json()["code"] == "validation_error"


async def test_invoice_line_item_amounts_are_strict_integers(mem: Api) -> None:
    body = {
        "booking_id": new_id(),
        "guest_id": new_id(),
        "currency": "EUR",
        "line_items": [{"description": "Room", "quantity": 1, "unit_amount": 100.0}],
    }
    status, problem = await post(mem, body, "/api/v1/invoices")
    assert status == 422
    assert problem["code"] == "invalid_amount"
    assert problem["errors"][0]["field"] == "line_items[0].unit_amount"


async def test_refund_amounts_are_strict_integers(mem: Api) -> None:
    status, problem = await post(mem, {"payment_id": new_id(), "amount": 1.0}, "/api/v1/refunds")
    assert status == 422
    assert problem["code"] == "invalid_amount"


@pytest.mark.parametrize(
    ("query", "field"),
    [
        ("limt=10", "limt"),
        ("=false", "query"),
        ("cursor=&=x", "query"),
        ("cursor=&=", "query"),
        ("limit=5&expand=x", "expand"),
        ("limit=5&caf%C3%A9=1", "café"),
    ],
)
async def test_a_query_parameter_the_operation_does_not_declare_is_refused(
    mem: Api, query: str, field: str
) -> None:
    booking = new_id()
    await mem.create_payment(booking_id=booking)
    response = await mem.client.get(f"/api/v1/payments/booking/{booking}?{query}", headers=AUTH)
    assert response.status_code == 422
    problem = response.json()
    assert problem["code"] == "validation_error"
    assert problem["errors"] == [{"field": field, "reason": "not a parameter of this operation"}]


async def test_declared_query_parameters_are_taken(mem: Api) -> None:
    booking = new_id()
    await mem.create_payment(booking_id=booking)
    await mem.create_payment(booking_id=booking)
    response = await mem.client.get(f"/api/v1/payments/booking/{booking}?limit=1", headers=AUTH)
    assert response.status_code == 200
    assert len(response.json()["items"]) == 1
    assert response.json()["next_cursor"] is not None


async def test_a_webhook_url_with_a_query_is_judged_by_its_signature(mem: Api) -> None:
    response = await mem.client.post("/api/v1/webhooks/fake?source=dashboard", content=b"{}")
    assert response.status_code == 400
    assert response.json()["code"] != "validation_error"

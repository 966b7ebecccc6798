"""The published OpenAPI schema: every status code, the problem shape, the parameters."""

from __future__ import annotations

from typing import Any

import pytest
from tests.http.conftest import Api


@pytest.fixture
def schema(mem: Api) -> dict[str, Any]:
    return dict(mem.app.openapi_schema.to_schema())


def operations(schema: dict[str, Any]) -> list[tuple[str, str, dict[str, Any]]]:
    return [
        (method.upper(), path, op)
        for path, item in schema["paths"].items()
        for method, op in item.items()
        if method in {"get", "post", "patch"}
    ]


def test_every_contract_path_is_published(schema: dict[str, Any]) -> None:
    published = {(m, p) for m, p, _ in operations(schema)}
    assert published == {
        ("POST", "/api/v1/payments"),
        ("GET", "/api/v1/payments/{payment_id}"),
        ("GET", "/api/v1/payments/reference/{reference}"),
        ("POST", "/api/v1/payments/{payment_id}/confirm"),
        ("POST", "/api/v1/payments/{payment_id}/cancel"),
        ("GET", "/api/v1/payments/booking/{booking_id}"),
        ("POST", "/api/v1/refunds"),
        ("GET", "/api/v1/refunds/{refund_id}"),
        ("GET", "/api/v1/refunds/reference/{reference}"),
        ("GET", "/api/v1/refunds/payment/{payment_id}"),
        ("POST", "/api/v1/refunds/{refund_id}/process"),
        ("POST", "/api/v1/invoices"),
        ("GET", "/api/v1/invoices/{invoice_id}"),
        ("GET", "/api/v1/invoices/number/{number}"),
        ("GET", "/api/v1/invoices/booking/{booking_id}"),
        ("PATCH", "/api/v1/invoices/{invoice_id}"),
        ("GET", "/api/v1/invoices/{invoice_id}/pdf"),
        ("POST", "/api/v1/invoices/{invoice_id}/credit-notes"),
        ("GET", "/api/v1/invoices/{invoice_id}/credit-notes"),
        ("GET", "/api/v1/credit-notes/{credit_note_id}"),
        ("GET", "/api/v1/credit-notes/{credit_note_id}/pdf"),
        ("GET", "/api/v1/payments/reference/{reference}/receipt"),
        ("GET", "/api/v1/billing/booking/{booking_id}"),
        ("GET", "/api/v1/billing/guest/{guest_id}"),
        ("GET", "/api/v1/billing/verify"),
        ("POST", "/api/v1/webhooks/{provider}"),
        ("GET", "/health/live"),
        ("GET", "/health/ready"),
        ("GET", "/metrics"),
    }


def test_creates_answer_201_and_the_rest_200(schema: dict[str, Any]) -> None:
    for method, path, op in operations(schema):
        success = {code for code in op["responses"] if code.startswith("2")}
        creates = method == "POST" and path in {
            "/api/v1/payments",
            "/api/v1/refunds",
            "/api/v1/invoices",
            "/api/v1/invoices/{invoice_id}/credit-notes",
        }
        assert success == ({"201"} if creates else {"200"}), (method, path)


def test_every_error_response_is_a_problem_document(schema: dict[str, Any]) -> None:
    for method, path, op in operations(schema):
        if path.startswith("/health") or path == "/metrics":
            continue
        codes = set(op["responses"])
        assert {"500", "503"} <= codes, (method, path)
        if op.get("security"):
            assert "401" in codes, (method, path)
        if "{" in path and path != "/api/v1/webhooks/{provider}":
            assert "404" in codes, (method, path)
        for code, response in op["responses"].items():
            if code.startswith(("4", "5")):
                content = response["content"]["application/problem+json"]
                assert content["schema"]["$ref"] == "#/components/schemas/Problem"


def test_json_writes_document_transport_errors_and_the_idempotency_key(
    schema: dict[str, Any],
) -> None:
    for method, path, op in operations(schema):
        if method == "GET" or "webhooks" in path:
            continue
        assert {"400", "409", "413", "415", "422"} <= set(op["responses"]), (method, path)
        headers = {p["name"] for p in op.get("parameters", []) if p["in"] == "header"}
        assert "Idempotency-Key" in headers, (method, path)


def test_ids_in_paths_are_uuids_and_lists_page(schema: dict[str, Any]) -> None:
    for _, path, op in operations(schema):
        for param in op.get("parameters", []):
            if param["in"] == "path" and param["name"].endswith("_id"):
                assert param["schema"]["format"] == "uuid", path
            if param["name"] == "limit":
                assert (param["schema"]["minimum"], param["schema"]["maximum"]) == (1, 200)


def test_the_problem_schema(schema: dict[str, Any]) -> None:
    problem = schema["components"]["schemas"]["Problem"]
    assert set(problem["required"]) == {"type", "title", "status", "detail", "code"}
    assert "errors" in problem["properties"]


def test_amounts_are_integers_in_range(schema: dict[str, Any]) -> None:
    amount = schema["components"]["schemas"]["CreatePaymentRequest"]["properties"]["amount"]
    assert amount["type"] == "integer"
    assert (amount["minimum"], amount["maximum"]) == (1, 99_999_999_999)


async def test_the_browsable_ui_is_served(mem: Api) -> None:
    for path in ("/schema", "/schema/swagger", "/schema/redoc"):
        response = await mem.client.get(path)
        assert response.status_code == 200
        assert "<html" in response.text.lower()

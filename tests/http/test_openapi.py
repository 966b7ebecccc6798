"""The published OpenAPI schema: every status code, the problem shape, the parameters."""

from __future__ import annotations

import re
import uuid
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from litestar import Litestar
from litestar.testing import AsyncTestClient
from tests.http.conftest import AUTH, Api

from payment_core.money import Currency
from payment_http.docs_ui import SCALAR_VERSION
from payment_http.idempotency import IDEMPOTENCY_HEADER
from payment_http.schemas import CURRENCY_CODES, CURSOR_PATTERN, IDEMPOTENCY_KEY_PATTERN


@pytest.fixture
def schema(mem: Api) -> dict[str, Any]:
    return dict(mem.app.openapi_schema.to_schema())


def operations(schema: dict[str, Any]) -> list[tuple[str, str, dict[str, Any]]]:
    return [
        (method.upper(), path, op)
        for path, item in schema["paths"].items()
        for method, op in item.items()
        if method in {"get", "post", "patch", "delete"}
    ]


def test_every_contract_path_is_published(schema: dict[str, Any]) -> None:
    published = {(m, p) for m, p, _ in operations(schema)}
    assert published == {
        ("POST", "/api/v1/payments"),
        ("GET", "/api/v1/payments/{payment_id}"),
        ("GET", "/api/v1/payments/reference/{reference}"),
        ("POST", "/api/v1/payments/{payment_id}/confirm"),
        ("POST", "/api/v1/payments/{payment_id}/cancel"),
        ("POST", "/api/v1/payments/{payment_id}/capture"),
        ("POST", "/api/v1/payments/{payment_id}/increment_authorization"),
        ("GET", "/api/v1/payments/booking/{booking_id}"),
        ("GET", "/api/v1/payment-methods/{payment_method_id}"),
        ("GET", "/api/v1/payment-methods/guest/{guest_id}"),
        ("DELETE", "/api/v1/payment-methods/{payment_method_id}"),
        ("POST", "/api/v1/payment-plans"),
        ("GET", "/api/v1/payment-plans/{plan_id}"),
        ("GET", "/api/v1/payment-plans/booking/{booking_id}"),
        ("POST", "/api/v1/payment-plans/{plan_id}/installments/{installment_id}/pay"),
        ("POST", "/api/v1/payment-plans/{plan_id}/cancel"),
        ("POST", "/api/v1/payment-plans/{plan_id}/no-show"),
        ("GET", "/api/v1/disputes"),
        ("GET", "/api/v1/disputes/{dispute_id}"),
        ("GET", "/api/v1/disputes/payment/{payment_id}"),
        ("POST", "/api/v1/disputes/{dispute_id}/evidence"),
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
            "/api/v1/payment-plans",
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
        # A DELETE carries no body and is idempotent by itself.
        if method in ("GET", "DELETE") or "webhooks" in path:
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


async def test_the_browsable_ui_is_served_from_the_package_alone(mem: Api) -> None:
    """The reference page names no other origin, and its policy lets it load from this one only."""
    response = await mem.client.get("/schema")
    assert response.status_code == 200
    assert response.headers["content-type"].startswith("text/html")
    page = response.text
    assert "<html" in page.lower()
    assert not re.search(r"(?:https?:)?//", page), "the page names another origin"
    sources = re.findall(r'(?:src|href|data-url)="([^"]*)"', page)
    assert f"/schema/static/scalar/api-reference-{SCALAR_VERSION}.js" in sources
    assert all(source.startswith("/schema/") for source in sources), sources
    header = response.headers["content-security-policy"]
    policy = dict(part.strip().split(" ", 1) for part in header.split(";"))
    assert policy["default-src"] == "'self'"
    assert policy["script-src"] == "'self'"
    assert policy["connect-src"] == "'self'"
    for sources_of in policy.values():
        for source in sources_of.split():
            assert source in {"'self'", "'none'", "data:"} or source.startswith(
                ("'nonce-", "'sha256-")
            ), source
    # The nonce is new for every page.
    again = await mem.client.get("/schema")
    assert again.headers["content-security-policy"] != response.headers["content-security-policy"]


async def test_the_pinned_bundle_and_its_licence_are_served_with_a_long_cache(mem: Api) -> None:
    # A client of its own, outside the leak scan: the third-party bundle carries example card
    # numbers for its request builder, and a static file's ETag is digits from its mtime.
    async with AsyncTestClient(mem.app) as client:
        await _check_bundle(client)


async def _check_bundle(client: AsyncTestClient[Litestar]) -> None:
    response = await client.get(f"/schema/static/scalar/api-reference-{SCALAR_VERSION}.js")
    assert response.status_code == 200
    assert "javascript" in response.headers["content-type"]
    cache = {d.strip() for d in response.headers["cache-control"].split(",")}
    assert {"public", "immutable", "max-age=31536000"} <= cache
    assert f"@scalar/api-reference@{SCALAR_VERSION}".encode() in response.content
    licence = await client.get("/schema/static/scalar/LICENSE")
    assert licence.status_code == 200
    assert b"MIT License" in licence.content
    assert (await client.get("/schema/static/scalar/nothing.js")).status_code == 404


OPERATION_IDS = {
    ("POST", "/api/v1/payments"): "createPayment",
    ("GET", "/api/v1/payments/{payment_id}"): "getPayment",
    ("GET", "/api/v1/payments/reference/{reference}"): "getPaymentByReference",
    ("POST", "/api/v1/payments/{payment_id}/confirm"): "confirmPayment",
    ("POST", "/api/v1/payments/{payment_id}/cancel"): "cancelPayment",
    ("POST", "/api/v1/payments/{payment_id}/capture"): "capturePayment",
    ("POST", "/api/v1/payments/{payment_id}/increment_authorization"): "incrementAuthorization",
    ("GET", "/api/v1/payment-methods/{payment_method_id}"): "getPaymentMethod",
    ("GET", "/api/v1/payment-methods/guest/{guest_id}"): "listGuestPaymentMethods",
    ("DELETE", "/api/v1/payment-methods/{payment_method_id}"): "detachPaymentMethod",
    ("POST", "/api/v1/payment-plans"): "createPaymentPlan",
    ("GET", "/api/v1/payment-plans/{plan_id}"): "getPaymentPlan",
    ("GET", "/api/v1/payment-plans/booking/{booking_id}"): "listBookingPaymentPlans",
    (
        "POST",
        "/api/v1/payment-plans/{plan_id}/installments/{installment_id}/pay",
    ): "payPaymentPlanInstallment",
    ("POST", "/api/v1/payment-plans/{plan_id}/cancel"): "cancelPaymentPlan",
    ("POST", "/api/v1/payment-plans/{plan_id}/no-show"): "markPaymentPlanNoShow",
    ("GET", "/api/v1/disputes"): "listDisputes",
    ("GET", "/api/v1/disputes/{dispute_id}"): "getDispute",
    ("GET", "/api/v1/disputes/payment/{payment_id}"): "listPaymentDisputes",
    ("POST", "/api/v1/disputes/{dispute_id}/evidence"): "addDisputeEvidence",
    ("GET", "/api/v1/payments/booking/{booking_id}"): "listBookingPayments",
    ("POST", "/api/v1/refunds"): "createRefund",
    ("GET", "/api/v1/refunds/{refund_id}"): "getRefund",
    ("GET", "/api/v1/refunds/reference/{reference}"): "getRefundByReference",
    ("GET", "/api/v1/refunds/payment/{payment_id}"): "listPaymentRefunds",
    ("POST", "/api/v1/refunds/{refund_id}/process"): "processRefund",
    ("POST", "/api/v1/invoices"): "createInvoice",
    ("GET", "/api/v1/invoices/{invoice_id}"): "getInvoice",
    ("GET", "/api/v1/invoices/number/{number}"): "getInvoiceByNumber",
    ("GET", "/api/v1/invoices/booking/{booking_id}"): "listBookingInvoices",
    ("PATCH", "/api/v1/invoices/{invoice_id}"): "updateInvoice",
    ("GET", "/api/v1/invoices/{invoice_id}/pdf"): "getInvoicePdf",
    ("POST", "/api/v1/invoices/{invoice_id}/credit-notes"): "createCreditNote",
    ("GET", "/api/v1/invoices/{invoice_id}/credit-notes"): "listInvoiceCreditNotes",
    ("GET", "/api/v1/credit-notes/{credit_note_id}"): "getCreditNote",
    ("GET", "/api/v1/credit-notes/{credit_note_id}/pdf"): "getCreditNotePdf",
    ("GET", "/api/v1/payments/reference/{reference}/receipt"): "getPaymentReceipt",
    ("GET", "/api/v1/billing/booking/{booking_id}"): "listBookingBillingRecords",
    ("GET", "/api/v1/billing/guest/{guest_id}"): "listGuestBillingRecords",
    ("GET", "/api/v1/billing/verify"): "verifyBillingRecords",
    ("POST", "/api/v1/webhooks/{provider}"): "handleWebhook",
    ("GET", "/health/live"): "getLiveness",
    ("GET", "/health/ready"): "getReadiness",
    ("GET", "/metrics"): "getMetrics",
}


def test_operations_are_named_as_a_client_calls_them(schema: dict[str, Any]) -> None:
    named = {(method, path): op.get("operationId") for method, path, op in operations(schema)}
    assert named == OPERATION_IDS


def test_successes_are_described_by_what_they_return(schema: dict[str, Any]) -> None:
    for method, path, op in operations(schema):
        for code, response in op["responses"].items():
            if code.startswith("2"):
                assert "follows" not in response["description"], (method, path, code)


def test_request_bodies_are_the_decoders_own_schemas(schema: dict[str, Any]) -> None:
    """One declaration: the published body schemas are msgspec's, closed to unknown fields."""
    components = schema["components"]["schemas"]
    for name in (
        "CreatePaymentRequest",
        "ConfirmPaymentRequest",
        "CapturePaymentRequest",
        "IncrementAuthorizationRequest",
        "CreateRefundRequest",
        "CreateInvoiceRequest",
        "UpdateInvoiceRequest",
        "LineItemRequest",
        "EmptyRequest",
    ):
        assert components[name]["additionalProperties"] is False, name
    payment = components["CreatePaymentRequest"]["properties"]
    metadata = payment["metadata"]["anyOf"][0]
    assert metadata["maxProperties"] == 20
    assert metadata["propertyNames"] == {"minLength": 1, "maxLength": 40}
    assert metadata["additionalProperties"] == {"type": "string", "maxLength": 500}
    assert payment["currency"]["enum"] == list(CURRENCY_CODES)
    assert {c.code for c in Currency.all()} == set(CURRENCY_CODES)
    assert "XXX" not in CURRENCY_CODES
    assert payment["provider"]["anyOf"][0]["enum"] == ["fake"]  # what this deployment has
    line = components["LineItemRequest"]["properties"]
    assert (line["quantity"]["minimum"], line["quantity"]["maximum"]) == (1, 1_000_000)
    assert components["CreateInvoiceRequest"]["properties"]["line_items"]["maxItems"] == 250


def test_every_json_write_declares_its_body(schema: dict[str, Any]) -> None:
    bodies = {
        (method, path): op.get("requestBody")
        for method, path, op in operations(schema)
        if method in {"POST", "PATCH"} and "webhooks" not in path
    }
    for (method, path), body in bodies.items():
        assert body is not None, (method, path)
        (media,) = body["content"]
        assert media == "application/json"
        assert set(body["content"][media]["schema"]) == {"$ref"}, (method, path)  # never null
    optional = {key for key, body in bodies.items() if not body["required"]}
    assert optional == {
        ("POST", "/api/v1/payments/{payment_id}/confirm"),
        ("POST", "/api/v1/payments/{payment_id}/cancel"),
        ("POST", "/api/v1/payments/{payment_id}/capture"),
        ("POST", "/api/v1/refunds/{refund_id}/process"),
        ("POST", "/api/v1/payment-plans/{plan_id}/installments/{installment_id}/pay"),
        ("POST", "/api/v1/payment-plans/{plan_id}/cancel"),
        ("POST", "/api/v1/payment-plans/{plan_id}/no-show"),
    }


def test_query_and_header_formats_are_declared(schema: dict[str, Any]) -> None:
    for method, path, op in operations(schema):
        params = {p["name"]: p for p in op.get("parameters", [])}
        if "cursor" in params:
            cursor = params["cursor"]["schema"]
            assert (cursor["pattern"], cursor["maxLength"]) == (CURSOR_PATTERN, 200), path
        if IDEMPOTENCY_HEADER in params:
            key = params[IDEMPOTENCY_HEADER]["schema"]
            assert key["pattern"] == IDEMPOTENCY_KEY_PATTERN, (method, path)
            assert (key["minLength"], key["maxLength"]) == (1, 255)
    # HTTP drops spaces at either end of a header value: a key of spaces arrives empty (400).
    for bad in (" ", "   ", " a", "a ", "a\x7f", "é", "a" * 256):
        assert not re.fullmatch(IDEMPOTENCY_KEY_PATTERN, bad), bad
    for good in ("a", "a b", "!~", "order-1", "x" * 255):
        assert re.fullmatch(IDEMPOTENCY_KEY_PATTERN, good), good
    webhook = schema["paths"]["/api/v1/webhooks/{provider}"]["post"]["parameters"]
    assert webhook[0]["schema"]["enum"] == ["fake"]


@settings(max_examples=40, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(key=st.from_regex(IDEMPOTENCY_KEY_PATTERN, fullmatch=True).filter(lambda k: len(k) <= 255))
async def test_every_key_the_schema_allows_is_accepted(mem: Api, key: str) -> None:
    """A key matching the published pattern is never refused as malformed."""
    response = await mem.client.post(
        f"/api/v1/payments/{uuid.uuid4()}/cancel", headers={**AUTH, IDEMPOTENCY_HEADER: key}
    )
    assert response.status_code == 404, response.text


async def test_next_cursors_have_the_published_format(api: Api) -> None:
    booking = str(uuid.uuid4())
    for _ in range(3):
        await api.create_payment(booking_id=booking)
    response = await api.client.get(
        f"/api/v1/payments/booking/{booking}", params={"limit": 1}, headers=AUTH
    )
    cursor = response.json()["next_cursor"]
    assert isinstance(cursor, str)
    assert re.fullmatch(CURSOR_PATTERN, cursor)


async def test_options_names_every_method_of_the_path(mem: Api, schema: dict[str, Any]) -> None:
    """``Allow`` lists what the document lists (``PATCH /invoices/{id}`` was left out)."""
    ids = {"invoice_id", "payment_id", "refund_id", "booking_id", "guest_id"}
    for path, item in schema["paths"].items():
        url = path
        for name in ids:
            url = url.replace(f"{{{name}}}", str(uuid.uuid4()))
        url = url.replace("{reference}", "pay_x").replace("{number}", "INV-1")
        url = url.replace("{provider}", "fake")
        response = await mem.client.options(url, headers=AUTH)
        assert response.status_code == 204, path
        allowed = {m.strip() for m in response.headers["allow"].split(",")}
        assert allowed == {m.upper() for m in item} | {"OPTIONS"}, path


def test_links_lead_to_operations_that_take_what_they_give(schema: dict[str, Any]) -> None:
    by_id = {op["operationId"]: op for _, _, op in operations(schema)}
    seen = 0
    for _, _, op in operations(schema):
        for response in op["responses"].values():
            for link in response.get("links", {}).values():
                target = by_id[link["operationId"]]
                names = {p["name"] for p in target.get("parameters", [])}
                assert set(link.get("parameters", {})) <= names, link
                if "requestBody" in link:
                    assert "requestBody" in target, link
                seen += 1
    assert seen >= 30
    created = schema["paths"]["/api/v1/payments"]["post"]["responses"]["201"]["links"]
    assert created["confirmPayment"]["parameters"] == {"payment_id": "$response.body#/id"}
    assert created["createRefund"]["requestBody"] == {"payment_id": "$response.body#/id"}

"""The service as a process: every endpoint over HTTP, concurrency, webhooks, shutdown."""

from __future__ import annotations

import asyncio
import json
import time
import uuid
from typing import Any

import httpx
import pytest
from tests.e2e.conftest import AUTH, WEBHOOK_SECRET, Backend, Service

from payment_core import signing

pytestmark = pytest.mark.e2e


def new_id() -> str:
    return str(uuid.uuid4())


def keyed(key: str) -> dict[str, str]:
    return {**AUTH, "Idempotency-Key": key}


async def create_payment(http: httpx.AsyncClient, **overrides: Any) -> dict[str, Any]:
    body = {"booking_id": new_id(), "guest_id": new_id(), "amount": 12500, "currency": "EUR"}
    body.update(overrides)
    response = await http.post("/api/v1/payments", json=body, headers=AUTH)
    assert response.status_code == 201, response.text
    return dict(response.json())


async def confirm(http: httpx.AsyncClient, payment_id: str, method: str = "pm_card_visa") -> dict:
    response = await http.post(
        f"/api/v1/payments/{payment_id}/confirm", json={"payment_method": method}, headers=AUTH
    )
    assert response.status_code == 200, response.text
    return dict(response.json())


def webhook(
    payment: dict[str, Any],
    event_type: str,
    event_id: str,
    *,
    shift: int = 0,
    secret: str = WEBHOOK_SECRET,
) -> tuple[bytes, dict[str, str]]:
    """A Stripe-shaped ``payment_intent.*`` event, signed the way the fake provider's are."""
    now = int(time.time()) + shift
    body = json.dumps(
        {
            "id": event_id,
            "object": "event",
            "type": event_type,
            "created": now,
            "data": {
                "object": {
                    "id": payment["provider_payment_id"],
                    "object": "payment_intent",
                    "amount": payment["amount"],
                    "currency": payment["currency"].lower(),
                    "status": event_type.rsplit(".", 1)[1],
                    "metadata": {"payment_id": payment["id"]},
                    "payment_method_details": {
                        "card": {
                            "brand": "visa",
                            "last4": "3184",
                            "exp_month": 12,
                            "exp_year": 2034,
                        }
                    },
                }
            },
        },
        separators=(",", ":"),
    ).encode()
    return body, {
        "Fake-Signature": signing.signature_header(secret, now, body),
        "Content-Type": "application/json",
    }


# ---------------------------------------------------------------------------- every endpoint


async def test_every_endpoint_of_the_contract(client: httpx.AsyncClient) -> None:
    http = client
    # Health and metrics (public).
    assert (await http.get("/health/live")).json() == {"status": "ok", "checks": {}}
    assert (await http.get("/health/ready")).status_code == 200
    assert (await http.get("/metrics")).status_code == 200
    assert (await http.get("/schema/openapi.json")).status_code == 200
    # Payments.
    booking, guest = new_id(), new_id()
    payment = await create_payment(
        http,
        booking_id=booking,
        guest_id=guest,
        description="Room 12, 2 nights",
        metadata={"k": "v"},
    )
    assert payment["status"] == "PENDING"
    got = await http.get(f"/api/v1/payments/{payment['id']}", headers=AUTH)
    assert got.json()["id"] == payment["id"]
    completed = await confirm(http, payment["id"])
    assert completed["status"] == "COMPLETED"
    assert completed["card"]["last4"] == "4242"
    safe = await http.get(f"/api/v1/payments/reference/{payment['reference']}")
    assert safe.json()["status"] == "COMPLETED"
    assert "id" not in safe.json()
    other = await create_payment(http, booking_id=booking, guest_id=guest)
    cancelled = await http.post(f"/api/v1/payments/{other['id']}/cancel", headers=AUTH)
    assert cancelled.json()["status"] == "CANCELLED"
    listed = await http.get(
        f"/api/v1/payments/booking/{booking}", params={"limit": 1}, headers=AUTH
    )
    assert [p["id"] for p in listed.json()["items"]] == [payment["id"]]
    page2 = await http.get(
        f"/api/v1/payments/booking/{booking}",
        params={"limit": 1, "cursor": listed.json()["next_cursor"]},
        headers=AUTH,
    )
    assert [p["id"] for p in page2.json()["items"]] == [other["id"]]
    # Refunds.
    created = await http.post(
        "/api/v1/refunds",
        json={"payment_id": payment["id"], "amount": 2500, "reason": "requested_by_customer"},
        headers=AUTH,
    )
    assert created.status_code == 201
    refund = created.json()
    assert refund["status"] == "COMPLETED"
    assert (await http.get(f"/api/v1/refunds/{refund['id']}", headers=AUTH)).json() == refund
    safe_refund = await http.get(f"/api/v1/refunds/reference/{refund['reference']}")
    assert safe_refund.json()["amount"] == 2500
    by_payment = await http.get(f"/api/v1/refunds/payment/{payment['id']}", headers=AUTH)
    assert [r["id"] for r in by_payment.json()["items"]] == [refund["id"]]
    processed = await http.post(f"/api/v1/refunds/{refund['id']}/process", headers=AUTH)
    assert processed.json()["status"] == "COMPLETED"
    # Invoices.
    draft = await http.post(
        "/api/v1/invoices",
        headers=AUTH,
        json={
            "booking_id": booking,
            "guest_id": guest,
            "currency": "EUR",
            "due_date": "2026-12-31",
            "line_items": [
                {"description": "Room", "quantity": 2, "unit_amount": 10000, "tax_rate_bps": 1000}
            ],
            "payment_id": None,
            "notes": "two nights",
        },
    )
    assert draft.status_code == 201
    invoice = draft.json()
    assert (invoice["number"], invoice["total"]) == (None, 22000)
    edited = await http.patch(
        f"/api/v1/invoices/{invoice['id']}", json={"notes": "edited"}, headers=AUTH
    )
    assert edited.json()["notes"] == "edited"
    issued = await http.patch(
        f"/api/v1/invoices/{invoice['id']}", json={"status": "OPEN"}, headers=AUTH
    )
    number = issued.json()["number"]
    assert number.startswith("INV-")
    assert (await http.get(f"/api/v1/invoices/number/{number}", headers=AUTH)).json()["id"] == (
        invoice["id"]
    )
    assert (await http.get(f"/api/v1/invoices/{invoice['id']}", headers=AUTH)).status_code == 200
    by_booking = await http.get(f"/api/v1/invoices/booking/{booking}", headers=AUTH)
    assert [i["id"] for i in by_booking.json()["items"]] == [invoice["id"]]
    locked = await http.patch(
        f"/api/v1/invoices/{invoice['id']}", json={"notes": "x"}, headers=AUTH
    )
    assert locked.status_code == 409
    # Billing.
    records = await http.get(f"/api/v1/billing/booking/{booking}", headers=AUTH)
    assert [r["type"] for r in records.json()["items"]] == ["CHARGE", "REFUND", "INVOICE_ISSUED"]
    by_guest = await http.get(f"/api/v1/billing/guest/{guest}", headers=AUTH)
    assert len(by_guest.json()["items"]) == 3
    verify = await http.get("/api/v1/billing/verify", headers=AUTH)
    assert verify.json()["ok"] is True
    # Errors are problems; keys are required.
    assert (await http.get(f"/api/v1/payments/{payment['id']}")).status_code == 401
    bad = await http.post("/api/v1/payments", json={"amount": 12.0}, headers=AUTH)
    assert bad.status_code == 422
    assert bad.headers["content-type"] == "application/problem+json"


# ---------------------------------------------------------------------------- concurrency


async def test_32_concurrent_identical_requests_with_one_key_create_one_payment(
    client: httpx.AsyncClient,
) -> None:
    body = {"booking_id": new_id(), "guest_id": new_id(), "amount": 5000, "currency": "EUR"}
    key = f"e2e-{uuid.uuid4()}"
    responses = await asyncio.gather(
        *(client.post("/api/v1/payments", json=body, headers=keyed(key)) for _ in range(32))
    )
    assert {r.status_code for r in responses} <= {201, 409}
    ids = {r.json()["id"] for r in responses if r.status_code == 201}
    assert len(ids) == 1
    for r in responses:
        if r.status_code == 409:
            assert r.json()["code"] == "idempotency_request_in_progress"
    listed = await client.get(f"/api/v1/payments/booking/{body['booking_id']}", headers=AUTH)
    assert len(listed.json()["items"]) == 1
    again = await client.post("/api/v1/payments", json=body, headers=keyed(key))
    assert again.headers["idempotent-replayed"] == "true"
    assert again.json()["id"] in ids


@pytest.mark.parametrize("with_key", [False, True])
async def test_16_concurrent_confirms_charge_once(
    client: httpx.AsyncClient, with_key: bool
) -> None:
    payment = await create_payment(client)
    url = f"/api/v1/payments/{payment['id']}/confirm"
    headers = keyed(f"confirm-{payment['id']}") if with_key else AUTH
    responses = await asyncio.gather(*(client.post(url, headers=headers) for _ in range(16)))
    ok = [r for r in responses if r.status_code == 200]
    conflicts = [r for r in responses if r.status_code == 409]
    assert len(ok) + len(conflicts) == 16
    assert all(r.json()["status"] == "COMPLETED" for r in ok)
    fresh = [r for r in ok if "idempotent-replayed" not in r.headers]
    assert len(fresh) == 1
    records = await client.get(f"/api/v1/billing/booking/{payment['booking_id']}", headers=AUTH)
    assert [r["type"] for r in records.json()["items"]] == ["CHARGE"]


async def test_concurrent_refunds_never_exceed_the_amount(client: httpx.AsyncClient) -> None:
    payment = await create_payment(client, amount=1000)
    await confirm(client, payment["id"])
    responses = await asyncio.gather(
        *(
            client.post(
                "/api/v1/refunds", json={"payment_id": payment["id"], "amount": 300}, headers=AUTH
            )
            for _ in range(10)
        )
    )
    created = [r for r in responses if r.status_code == 201]
    assert len(created) <= 3
    for r in responses:
        if r.status_code != 201:
            assert r.json()["code"] in {"refund_exceeds_refundable", "concurrent_modification"}
    got = await client.get(f"/api/v1/payments/{payment['id']}", headers=AUTH)
    assert got.json()["amount_refunded"] == 300 * len(created) <= 1000


async def test_concurrent_invoice_issuing_stays_gap_free(client: httpx.AsyncClient) -> None:
    body = {
        "booking_id": new_id(),
        "guest_id": new_id(),
        "currency": "EUR",
        "line_items": [{"description": "Room", "quantity": 1, "unit_amount": 100}],
    }
    ids = []
    for _ in range(12):
        response = await client.post("/api/v1/invoices", json=body, headers=AUTH)
        ids.append(response.json()["id"])
    responses = await asyncio.gather(
        *(client.patch(f"/api/v1/invoices/{i}", json={"status": "OPEN"}, headers=AUTH) for i in ids)
    )
    assert all(r.status_code == 200 for r in responses), [r.text for r in responses]
    numbers = sorted(int(r.json()["number"].rsplit("-", 1)[1]) for r in responses)
    assert numbers == list(range(numbers[0], numbers[0] + 12))
    # Nothing else issued a number in between: the sequence has no holes at all.
    previous = await client.get(
        f"/api/v1/invoices/number/INV-{time.gmtime().tm_year}-{numbers[0] - 1:06d}", headers=AUTH
    )
    assert numbers[0] == 1 or previous.status_code == 200


# ---------------------------------------------------------------------------- webhooks


async def test_3ds_completes_on_a_signed_webhook_delivered_three_times(
    client: httpx.AsyncClient,
) -> None:
    payment = await create_payment(client)
    pending = await confirm(client, payment["id"], "pm_card_authenticationRequired")
    assert pending["status"] == "PROCESSING"
    assert pending["next_action"]["type"] == "redirect"
    body, headers = webhook(pending, "payment_intent.succeeded", f"evt_{uuid.uuid4().hex}")
    results = [
        await client.post("/api/v1/webhooks/fake", content=body, headers=headers) for _ in range(3)
    ]
    assert [r.json()["duplicate"] for r in results] == [False, True, True]
    got = await client.get(f"/api/v1/payments/{payment['id']}", headers=AUTH)
    assert got.json()["status"] == "COMPLETED"
    late, late_headers = webhook(pending, "payment_intent.processing", f"evt_{uuid.uuid4().hex}")
    response = await client.post("/api/v1/webhooks/fake", content=late, headers=late_headers)
    assert response.status_code == 200
    got = await client.get(f"/api/v1/payments/{payment['id']}", headers=AUTH)
    assert got.json()["status"] == "COMPLETED"
    records = await client.get(f"/api/v1/billing/booking/{payment['booking_id']}", headers=AUTH)
    assert [r["type"] for r in records.json()["items"]] == ["CHARGE"]


@pytest.mark.parametrize(
    ("case", "shift", "secret"),
    [
        ("forged", 0, "whsec_forged"),
        ("stale", -400, WEBHOOK_SECRET),
        ("future", 400, WEBHOOK_SECRET),
    ],
)
async def test_forged_stale_and_future_signatures_get_400(
    client: httpx.AsyncClient, case: str, shift: int, secret: str
) -> None:
    payment = await create_payment(client)
    pending = await confirm(client, payment["id"], "pm_card_authenticationRequired")
    body, headers = webhook(
        pending,
        "payment_intent.succeeded",
        f"evt_{case}_{uuid.uuid4().hex}",
        shift=shift,
        secret=secret,
    )
    response = await client.post("/api/v1/webhooks/fake", content=body, headers=headers)
    assert response.status_code == 400
    assert response.json()["code"] == "invalid_signature"
    got = await client.get(f"/api/v1/payments/{payment['id']}", headers=AUTH)
    assert got.json()["status"] == "PROCESSING"


# ---------------------------------------------------------------------------- the process


async def test_sigterm_finishes_in_flight_requests_and_exits_0(backend: Backend) -> None:
    url = backend.new_database()
    svc = Service(url, backend.workdir).start()
    booking = new_id()
    body = {"booking_id": booking, "guest_id": new_id(), "amount": 100, "currency": "EUR"}
    async with svc.client() as http:

        async def one(i: int) -> httpx.Response | None:
            try:
                return await http.post("/api/v1/payments", json=body, headers=keyed(f"term-{i}"))
            except httpx.TransportError:
                return None  # arrived after the listener closed: refused, never half-done

        tasks = [asyncio.create_task(one(i)) for i in range(60)]
        # Signal as soon as the first answer is in: the others are still in flight.
        await asyncio.wait(tasks, return_when=asyncio.FIRST_COMPLETED)
        svc.signal()
        responses = await asyncio.gather(*tasks)
    code = await asyncio.to_thread(svc.terminate)
    assert code == 0, svc.output()
    accepted = {r.json()["id"] for r in responses if r is not None and r.status_code == 201}
    assert accepted  # some requests were in flight when the signal came, and finished
    assert all(r is None or r.status_code == 201 for r in responses), [
        r.text for r in responses if r is not None
    ]
    # Restart on the same database: every payment that was answered 201 is there.
    again = Service(url, backend.workdir, ENCRYPTION_KEYS=svc.env["ENCRYPTION_KEYS"]).start()
    try:
        async with again.client() as http:
            listed = await http.get(
                f"/api/v1/payments/booking/{booking}", params={"limit": 200}, headers=AUTH
            )
        stored = {p["id"] for p in listed.json()["items"]}
        assert accepted <= stored
        assert len(stored) == len(accepted)  # nothing half-done either
    finally:
        assert again.terminate() == 0


async def test_transport_errors_over_the_wire(client: httpx.AsyncClient) -> None:
    async def chunks() -> Any:
        yield b'{"description": "'
        for _ in range(80):
            yield b"x" * 1024
        yield b'"}'

    chunked = await client.post(
        "/api/v1/payments", content=chunks(), headers={**AUTH, "Content-Type": "application/json"}
    )
    assert chunked.request.headers.get("transfer-encoding") == "chunked"
    assert chunked.status_code == 413
    assert chunked.json()["code"] == "payload_too_large"
    declared = await client.post(
        "/api/v1/payments",
        content=b"x" * 70_000,
        headers={**AUTH, "Content-Type": "application/json"},
    )
    assert declared.status_code == 413
    wrong_type = await client.post(
        "/api/v1/payments", content=b"amount=1", headers={**AUTH, "Content-Type": "text/plain"}
    )
    assert wrong_type.status_code == 415
    malformed = await client.post(
        "/api/v1/payments", content=b"{", headers={**AUTH, "Content-Type": "application/json"}
    )
    assert malformed.status_code == 400
    assert (await client.delete("/api/v1/payments", headers=AUTH)).status_code == 405
    unknown = await client.get("/nowhere", headers={"X-Request-Id": "e2e-trace-1"})
    assert unknown.status_code == 404
    assert unknown.headers["x-request-id"] == "e2e-trace-1"
    assert unknown.headers["content-type"] == "application/problem+json"

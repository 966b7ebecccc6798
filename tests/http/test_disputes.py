"""Disputes over HTTP: the fake provider's dispute arrives by itself through the signed webhook
path within seconds, the payment shows it and refuses refunds, evidence is merged and
submitted once, and its outcome closes the dispute with the money recorded both ways; every
refusal is its problem code, on every database."""

from __future__ import annotations

import asyncio
from datetime import timedelta
from typing import Any

import pytest
from tests.http.conftest import AUTH, Api, new_id

DISPUTE_FIELDS = {
    "id",
    "payment_id",
    "booking_id",
    "provider",
    "provider_dispute_id",
    "amount",
    "currency",
    "reason",
    "status",
    "inquiry",
    "evidence_due_by",
    "evidence",
    "evidence_submitted_at",
    "funds_withdrawn",
    "closed_at",
    "created_at",
    "updated_at",
}


async def eventually(api: Api, path: str, done: Any, seconds: float = 6.0) -> Any:
    """GET ``path`` until ``done(body)`` (the fake's webhooks arrive on their own)."""
    body: Any = None
    for _ in range(int(seconds / 0.05)):
        response = await api.client.get(path, headers=AUTH)
        assert response.status_code == 200, response.text
        body = response.json()
        if done(body):
            return body
        await asyncio.sleep(0.05)
    raise AssertionError(f"not done after {seconds} s: {body}")


async def disputed_payment(api: Api, *, fast: bool = True) -> tuple[dict[str, Any], dict[str, Any]]:
    if fast:
        api.provider.dispute_delay = timedelta(milliseconds=20)
    response = await api.client.post(
        "/api/v1/payments",
        json={
            "booking_id": new_id(),
            "guest_id": new_id(),
            "amount": 12_500,
            "currency": "EUR",
            "payment_method": "pm_card_createDispute",
            "confirm": True,
        },
        headers=AUTH,
    )
    assert response.status_code == 201, response.text
    payment = response.json()
    assert payment["status"] == "COMPLETED"
    # Opened, then its funds withdrawn: two deliveries, one after the other.
    page = await eventually(
        api,
        f"/api/v1/disputes/payment/{payment['id']}",
        lambda body: len(body["items"]) == 1 and body["items"][0]["funds_withdrawn"],
    )
    return payment, page["items"][0]


async def evidence(api: Api, dispute_id: str, body: Any, **headers: str) -> Any:
    return await api.client.post(
        f"/api/v1/disputes/{dispute_id}/evidence", json=body, headers={**AUTH, **headers}
    )


@pytest.mark.parametrize("backend", ["memory", "sqlite", "postgres"])
async def test_a_dispute_from_the_webhook_to_won(make_api, backend: str) -> None:
    api: Api = await make_api(backend)
    payment, dispute = await disputed_payment(api)
    assert set(dispute) == DISPUTE_FIELDS
    assert (dispute["status"], dispute["amount"], dispute["currency"], dispute["reason"]) == (
        "NEEDS_RESPONSE",
        12_500,
        "EUR",
        "fraudulent",
    )
    assert dispute["funds_withdrawn"] is True
    assert dispute["evidence_due_by"] is not None
    shown = (await api.client.get(f"/api/v1/payments/{payment['id']}", headers=AUTH)).json()
    assert shown["amount_disputed"] == 12_500
    refused = await api.client.post(
        "/api/v1/refunds", json={"payment_id": payment["id"]}, headers=AUTH
    )
    assert refused.status_code == 409
    assert refused.json()["code"] == "payment_disputed"
    listed = (await api.client.get("/api/v1/disputes?status=NEEDS_RESPONSE", headers=AUTH)).json()
    assert [d["id"] for d in listed["items"]] == [dispute["id"]]

    merged = await evidence(api, dispute["id"], {"evidence": {"customer_name": "Ana Lima"}})
    assert merged.status_code == 200, merged.text
    assert merged.json()["evidence"]["customer_name"] == "Ana Lima"
    assert merged.json()["status"] == "NEEDS_RESPONSE"
    submitted = await evidence(
        api,
        dispute["id"],
        {"evidence": {"uncategorized_text": "winning_evidence"}, "submit": True},
    )
    assert submitted.status_code == 200, submitted.text
    assert submitted.json()["status"] == "UNDER_REVIEW"
    assert submitted.json()["evidence_submitted_at"] is not None
    won = await eventually(
        api, f"/api/v1/disputes/{dispute['id']}", lambda body: body["status"] == "WON"
    )
    assert won["funds_withdrawn"] is False
    assert won["closed_at"] is not None
    again = await evidence(api, dispute["id"], {"evidence": {"customer_name": "B"}})
    assert again.status_code == 409
    assert again.json()["code"] == "dispute_evidence_closed"

    records = (
        await api.client.get(f"/api/v1/billing/booking/{payment['booking_id']}", headers=AUTH)
    ).json()
    assert [r["type"] for r in records["items"]] == ["CHARGE", "CHARGEBACK", "CHARGEBACK_REVERSED"]
    verified = (await api.client.get("/api/v1/billing/verify", headers=AUTH)).json()
    assert verified == {"ok": True, "records": 3}
    shown = (await api.client.get(f"/api/v1/payments/{payment['id']}", headers=AUTH)).json()
    assert shown["amount_disputed"] == 0


async def test_losing_evidence_loses_within_a_few_seconds(make_api) -> None:
    api: Api = await make_api("memory")
    # The fake's own pace: the dispute, then the outcome, each a few seconds later.
    payment, dispute = await disputed_payment(api, fast=False)
    submitted = await evidence(
        api, dispute["id"], {"evidence": {"uncategorized_text": "losing_evidence"}, "submit": True}
    )
    assert submitted.status_code == 200
    lost = await eventually(
        api, f"/api/v1/disputes/{dispute['id']}", lambda body: body["status"] == "LOST"
    )
    assert lost["funds_withdrawn"] is True
    records = (
        await api.client.get(f"/api/v1/billing/booking/{payment['booking_id']}", headers=AUTH)
    ).json()
    assert [r["type"] for r in records["items"]] == ["CHARGE", "CHARGEBACK"]


async def test_refusals_are_problems_and_change_nothing(make_api) -> None:
    api: Api = await make_api("memory")
    _, dispute = await disputed_payment(api)
    path = f"/api/v1/disputes/{dispute['id']}"
    unknown_field = await evidence(api, dispute["id"], {"evidence": {"receipt_file": "x"}})
    assert unknown_field.status_code == 422
    assert unknown_field.json()["code"] == "validation_error"
    not_text = await evidence(api, dispute["id"], {"evidence": {"receipt": 5}})
    assert not_text.status_code == 422
    card = await evidence(
        api, dispute["id"], {"evidence": {"uncategorized_text": "paid with 4242424242424242"}}
    )
    assert card.status_code == 422
    assert card.json()["code"] == "raw_card_data_forbidden"
    too_long = await evidence(api, dispute["id"], {"evidence": {"receipt": "x" * 4001}})
    assert too_long.status_code == 422
    assert (await api.client.get(path, headers=AUTH)).json() == dispute
    missing = await api.client.get(f"/api/v1/disputes/{new_id()}", headers=AUTH)
    assert missing.status_code == 404
    malformed = await api.client.get("/api/v1/disputes/nope", headers=AUTH)
    assert malformed.status_code == 404
    bad_status = await api.client.get("/api/v1/disputes?status=OPEN", headers=AUTH)
    assert bad_status.status_code == 422
    no_payment = await api.client.get(f"/api/v1/disputes/payment/{new_id()}", headers=AUTH)
    assert no_payment.status_code == 404
    unauthorized = await api.client.get(path)
    assert unauthorized.status_code == 401


async def test_a_submission_is_made_once_whatever_the_retries(make_api) -> None:
    api: Api = await make_api("memory")
    _, dispute = await disputed_payment(api)
    body = {"evidence": {"product_description": "Two nights"}, "submit": True}
    first = await evidence(api, dispute["id"], body, **{"Idempotency-Key": "submit-1"})
    replay = await evidence(api, dispute["id"], body, **{"Idempotency-Key": "submit-1"})
    assert first.status_code == replay.status_code == 200
    assert replay.headers.get("Idempotent-Replayed") == "true"
    assert replay.json() == first.json()
    later = await evidence(api, dispute["id"], body)
    assert later.status_code == 409
    calls = [k for name, k in api.provider.calls if name == "submit_dispute_evidence"]
    assert calls == [f"dispute-{dispute['id']}-submit"]


async def test_the_evidence_starts_with_the_invoice_numbers_and_email(make_api) -> None:
    api: Api = await make_api("memory")
    api.provider.dispute_delay = timedelta(milliseconds=20)
    booking, guest = new_id(), new_id()
    response = await api.client.post(
        "/api/v1/payments",
        json={
            "booking_id": booking,
            "guest_id": guest,
            "amount": 10_000,
            "currency": "EUR",
            "payment_method": "pm_card_createDispute",
        },
        headers=AUTH,
    )
    payment = response.json()
    invoice = await api.client.post(
        "/api/v1/invoices",
        json={
            "booking_id": booking,
            "guest_id": guest,
            "currency": "EUR",
            "line_items": [
                {"description": "Room", "quantity": 1, "unit_amount": 10_000, "tax_rate_bps": 0}
            ],
            "payment_id": payment["id"],
            "customer": {"name": "Ana", "email": "ana@example.com"},
        },
        headers=AUTH,
    )
    assert invoice.status_code == 201, invoice.text
    issued = await api.client.patch(
        f"/api/v1/invoices/{invoice.json()['id']}", json={"status": "OPEN"}, headers=AUTH
    )
    assert issued.status_code == 200, issued.text
    confirmed = await api.client.post(f"/api/v1/payments/{payment['id']}/confirm", headers=AUTH)
    assert confirmed.status_code == 200
    page = await eventually(
        api, f"/api/v1/disputes/payment/{payment['id']}", lambda body: len(body["items"]) == 1
    )
    assert page["items"][0]["evidence"] == {
        "customer_email_address": "ana@example.com",
        "receipt": issued.json()["number"],
    }

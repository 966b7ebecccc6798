"""Payments over HTTP: every endpoint, its status codes and its exact fields."""

from __future__ import annotations

import pytest
from tests.http.conftest import AUTH, Api, new_id, payment_body

PAYMENT_FIELDS = {
    "id", "reference", "booking_id", "guest_id", "amount", "currency", "status", "provider",
    "provider_payment_id", "amount_refunded", "card", "failure_code", "failure_message",
    "next_action", "client_secret", "description", "metadata", "created_at", "updated_at",
    # Card holds and saved cards (Part 2).
    "capture_method", "amount_capturable", "amount_captured", "amount_capture_pending",
    "authorization_expires_at", "payment_method_id",
    # Disputes (Part 2).
    "amount_disputed",
}  # fmt: skip
SAFE_FIELDS = {
    "reference", "status", "amount", "currency", "amount_refunded", "card", "failure_message",
    "updated_at",
}  # fmt: skip


async def confirm(api: Api, payment_id: str, method: str | None = None) -> tuple[int, dict]:
    body = None if method is None else {"payment_method": method}
    response = await api.client.post(
        f"/api/v1/payments/{payment_id}/confirm", json=body, headers=AUTH
    )
    return response.status_code, response.json()


async def test_create_answers_201_with_the_full_view(api: Api) -> None:
    body = payment_body(
        description="Room 12, 2 nights", metadata={"k": "v"}, payment_method="pm_card_visa"
    )
    response = await api.client.post("/api/v1/payments", json=body, headers=AUTH)
    assert response.status_code == 201
    payment = response.json()
    assert set(payment) == PAYMENT_FIELDS
    assert payment["status"] == "PENDING"
    assert payment["amount"] == 12500
    assert payment["currency"] == "EUR"
    assert payment["provider"] == "fake"
    assert payment["provider_payment_id"].startswith("pi_fake_")
    assert payment["reference"].startswith("pay_")
    assert payment["metadata"] == {"k": "v"}
    assert payment["card"] is None
    assert payment["next_action"] is None
    assert payment["created_at"].endswith("Z")


async def test_get_returns_the_payment(api: Api) -> None:
    created = await api.create_payment()
    response = await api.client.get(f"/api/v1/payments/{created['id']}", headers=AUTH)
    assert response.status_code == 200
    assert response.json()["id"] == created["id"]


async def test_reference_returns_only_the_safe_view_without_a_key(api: Api) -> None:
    payment = await api.completed_payment()
    response = await api.client.get(f"/api/v1/payments/reference/{payment['reference']}")
    assert response.status_code == 200
    view = response.json()
    assert set(view) == SAFE_FIELDS
    assert view["card"] == {"brand": "visa", "last4": "4242"}
    assert view["status"] == "COMPLETED"


@pytest.mark.parametrize("reference", ["pay_doesnotexist", "pay_" + "a" * 26, "x" * 300])
async def test_unknown_reference_is_404(mem: Api, reference: str) -> None:
    response = await mem.client.get(f"/api/v1/payments/reference/{reference}")
    assert response.status_code == 404
    assert response.json()["code"] == "not_found"


async def test_confirm_with_visa_completes_with_the_card(api: Api) -> None:
    payment = await api.create_payment()
    status, body = await confirm(api, payment["id"], "pm_card_visa")
    assert status == 200
    assert body["status"] == "COMPLETED"
    assert body["card"] == {"brand": "visa", "last4": "4242", "exp_month": 12, "exp_year": 2034}


async def test_confirm_without_a_body_uses_visa(api: Api) -> None:
    payment = await api.create_payment()
    response = await api.client.post(f"/api/v1/payments/{payment['id']}/confirm", headers=AUTH)
    assert response.status_code == 200
    assert response.json()["status"] == "COMPLETED"


@pytest.mark.parametrize(
    ("method", "code"),
    [
        ("pm_card_chargeDeclined", "card_declined"),
        ("pm_card_chargeDeclinedInsufficientFunds", "insufficient_funds"),
    ],
)
async def test_a_decline_fails_the_payment(api: Api, method: str, code: str) -> None:
    payment = await api.create_payment()
    status, body = await confirm(api, payment["id"], method)
    assert status == 200
    assert body["status"] == "FAILED"
    assert body["failure_code"] == code


async def test_3ds_stays_processing_with_a_redirect(api: Api) -> None:
    payment = await api.create_payment()
    status, body = await confirm(api, payment["id"], "pm_card_authenticationRequired")
    assert status == 200
    assert body["status"] == "PROCESSING"
    assert body["next_action"]["type"] == "redirect"
    assert body["next_action"]["url"].startswith("https://")


async def test_a_provider_timeout_leaves_it_processing(api: Api) -> None:
    payment = await api.create_payment()
    status, body = await confirm(api, payment["id"], "pm_card_timeout")
    assert status == 200
    assert body["status"] == "PROCESSING"
    assert body["failure_code"] is None


async def test_confirming_a_completed_payment_again_is_409(api: Api) -> None:
    payment = await api.completed_payment()
    status, body = await confirm(api, payment["id"])
    assert status == 409
    assert body["code"] == "invalid_state_transition"


async def test_cancel_moves_pending_to_cancelled(api: Api) -> None:
    payment = await api.create_payment()
    response = await api.client.post(f"/api/v1/payments/{payment['id']}/cancel", headers=AUTH)
    assert response.status_code == 200
    assert response.json()["status"] == "CANCELLED"


async def test_cancel_of_a_completed_payment_is_409(api: Api) -> None:
    payment = await api.completed_payment()
    response = await api.client.post(f"/api/v1/payments/{payment['id']}/cancel", headers=AUTH)
    assert response.status_code == 409
    assert response.json()["code"] == "invalid_state_transition"


async def test_list_by_booking_pages_oldest_first(api: Api) -> None:
    booking = new_id()
    created = [(await api.create_payment(booking_id=booking))["id"] for _ in range(5)]
    seen: list[str] = []
    cursor = None
    pages = 0
    while True:
        params = {"limit": 2} | ({"cursor": cursor} if cursor else {})
        response = await api.client.get(
            f"/api/v1/payments/booking/{booking}", params=params, headers=AUTH
        )
        assert response.status_code == 200
        page = response.json()
        assert set(page) == {"items", "next_cursor"}
        seen += [p["id"] for p in page["items"]]
        pages += 1
        cursor = page["next_cursor"]
        if cursor is None:
            break
    assert seen == created
    assert pages == 3


async def test_an_empty_list_has_no_cursor(mem: Api) -> None:
    response = await mem.client.get(f"/api/v1/payments/booking/{new_id()}", headers=AUTH)
    assert response.json() == {"items": [], "next_cursor": None}


@pytest.mark.parametrize(
    "path",
    [
        "/api/v1/payments/{id}",
        "/api/v1/payments/{id}/confirm",
        "/api/v1/payments/{id}/cancel",
    ],
)
@pytest.mark.parametrize("ident", ["not-a-uuid", "00000000-0000-0000-0000-00000000000g"])
async def test_a_malformed_id_is_404_not_found(mem: Api, path: str, ident: str) -> None:
    url = path.format(id=ident)
    method = mem.client.get if url.endswith(ident) else mem.client.post
    response = await method(url, headers=AUTH)
    assert response.status_code == 404
    assert response.headers["content-type"] == "application/problem+json"
    assert response.json()["code"] == "not_found"


async def test_an_unknown_id_is_404(api: Api) -> None:
    response = await api.client.get(f"/api/v1/payments/{new_id()}", headers=AUTH)
    assert response.status_code == 404
    assert response.json()["code"] == "not_found"


async def test_an_unknown_provider_is_422(mem: Api) -> None:
    response = await mem.client.post(
        "/api/v1/payments", json=payment_body(provider="acme"), headers=AUTH
    )
    assert response.status_code == 422
    assert response.json()["code"] == "unknown_provider"


async def test_a_malformed_booking_id_in_a_list_path_is_404(mem: Api) -> None:
    response = await mem.client.get("/api/v1/payments/booking/nope", headers=AUTH)
    assert response.status_code == 404

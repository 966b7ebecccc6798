"""Refunds over HTTP."""

from __future__ import annotations

import asyncio

from tests.http.conftest import AUTH, Api, new_id

REFUND_FIELDS = {
    "id", "reference", "payment_id", "booking_id", "amount", "currency", "status", "reason",
    "attempts", "next_retry_at", "failure_reason", "created_at", "updated_at",
}  # fmt: skip


async def refund(
    api: Api, payment_id: str, amount: int | None = None, **extra: object
) -> tuple[int, dict]:
    body: dict[str, object] = {"payment_id": payment_id, **extra}
    if amount is not None:
        body["amount"] = amount
    response = await api.client.post("/api/v1/refunds", json=body, headers=AUTH)
    return response.status_code, response.json()


async def test_a_partial_refund_is_created_and_completed(api: Api) -> None:
    payment = await api.completed_payment()
    status, body = await refund(api, payment["id"], 500, reason="requested_by_customer")
    assert status == 201
    assert set(body) == REFUND_FIELDS
    assert body["status"] == "COMPLETED"
    assert (body["amount"], body["currency"]) == (500, "EUR")
    assert body["reason"] == "requested_by_customer"
    assert body["reference"].startswith("re_")
    got = await api.client.get(f"/api/v1/payments/{payment['id']}", headers=AUTH)
    assert got.json()["amount_refunded"] == 500


async def test_the_amount_defaults_to_the_refundable_remainder(api: Api) -> None:
    payment = await api.completed_payment()
    await refund(api, payment["id"], 2500)
    status, body = await refund(api, payment["id"])
    assert status == 201
    assert body["amount"] == payment["amount"] - 2500


async def test_more_than_refundable_is_422(api: Api) -> None:
    payment = await api.completed_payment()
    status, body = await refund(api, payment["id"], payment["amount"] + 1)
    assert status == 422
    assert body["code"] == "refund_exceeds_refundable"


async def test_a_payment_that_is_not_completed_cannot_be_refunded(api: Api) -> None:
    payment = await api.create_payment()
    status, body = await refund(api, payment["id"], 100)
    assert status == 409
    assert body["code"] == "invalid_state_transition"


async def test_an_unknown_payment_is_404(mem: Api) -> None:
    status, _body = await refund(mem, new_id(), 100)
    assert status == 404


async def test_get_reference_and_list(api: Api) -> None:
    payment = await api.completed_payment()
    _, created = await refund(api, payment["id"], 100)
    got = await api.client.get(f"/api/v1/refunds/{created['id']}", headers=AUTH)
    assert got.status_code == 200
    assert got.json() == created
    safe = await api.client.get(f"/api/v1/refunds/reference/{created['reference']}")
    assert safe.status_code == 200
    assert set(safe.json()) == {"reference", "status", "amount", "currency", "updated_at"}
    listed = await api.client.get(f"/api/v1/refunds/payment/{payment['id']}", headers=AUTH)
    assert [r["id"] for r in listed.json()["items"]] == [created["id"]]
    assert listed.json()["next_cursor"] is None


async def test_listing_the_refunds_of_an_unknown_payment_is_404(mem: Api) -> None:
    response = await mem.client.get(f"/api/v1/refunds/payment/{new_id()}", headers=AUTH)
    assert response.status_code == 404


async def test_processing_a_completed_refund_returns_it_as_it_is(api: Api) -> None:
    payment = await api.completed_payment()
    _, created = await refund(api, payment["id"], 100)
    response = await api.client.post(f"/api/v1/refunds/{created['id']}/process", headers=AUTH)
    assert response.status_code == 200
    assert response.json()["status"] == "COMPLETED"
    assert response.json()["attempts"] == created["attempts"]


async def test_a_failing_refund_retries_then_fails_and_processing_it_is_409(
    make_api: object,
) -> None:
    api = await make_api("memory", refund_max_attempts=2)  # type: ignore[operator]
    payment = await api.completed_payment("pm_card_refundFail")
    _, created = await refund(api, payment["id"], 100)
    assert created["status"] == "PENDING"
    assert created["next_retry_at"] is not None
    assert created["attempts"] == 1
    url = f"/api/v1/refunds/{created['id']}/process"
    second = await api.client.post(url, headers=AUTH)
    assert second.json()["status"] == "FAILED"
    assert second.json()["failure_reason"]
    third = await api.client.post(url, headers=AUTH)
    assert third.status_code == 409
    assert third.json()["code"] == "invalid_state_transition"


async def test_concurrent_refunds_never_exceed_the_amount(api: Api) -> None:
    payment = await api.completed_payment(amount=1000)
    results = await asyncio.gather(*(refund(api, payment["id"], 300) for _ in range(8)))
    accepted = [body for status, body in results if status == 201]
    refused = [body["code"] for status, body in results if status != 201]
    assert len(accepted) == 3
    assert set(refused) <= {"refund_exceeds_refundable", "concurrent_modification"}
    got = await api.client.get(f"/api/v1/payments/{payment['id']}", headers=AUTH)
    assert got.json()["amount_refunded"] == 900


async def test_a_malformed_refund_id_is_404(mem: Api) -> None:
    for response in (
        await mem.client.get("/api/v1/refunds/xyz", headers=AUTH),
        await mem.client.post("/api/v1/refunds/xyz/process", headers=AUTH),
        await mem.client.get("/api/v1/refunds/reference/re_nope"),
    ):
        assert response.status_code == 404

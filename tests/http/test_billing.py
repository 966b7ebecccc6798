"""The billing audit trail over HTTP."""

from __future__ import annotations

from tests.http.conftest import AUTH, Api

RECORD_FIELDS = {
    "id", "type", "booking_id", "guest_id", "payment_id", "refund_id", "invoice_id", "amount",
    "currency", "description", "created_at", "hash",
}  # fmt: skip


async def test_charges_and_refunds_are_recorded_and_verify(api: Api) -> None:
    payment = await api.completed_payment()
    await api.client.post(
        "/api/v1/refunds", json={"payment_id": payment["id"], "amount": 100}, headers=AUTH
    )
    by_booking = await api.client.get(
        f"/api/v1/billing/booking/{payment['booking_id']}", headers=AUTH
    )
    assert by_booking.status_code == 200
    records = by_booking.json()["items"]
    assert [r["type"] for r in records] == ["CHARGE", "REFUND"]
    assert set(records[0]) >= RECORD_FIELDS
    assert [r["amount"] for r in records] == [payment["amount"], 100]
    assert all(len(r["hash"]) == 64 for r in records)
    by_guest = await api.client.get(f"/api/v1/billing/guest/{payment['guest_id']}", headers=AUTH)
    assert [r["id"] for r in by_guest.json()["items"]] == [r["id"] for r in records]
    verify = await api.client.get("/api/v1/billing/verify", headers=AUTH)
    assert verify.status_code == 200
    assert verify.json() == {"ok": True, "records": 2}


async def test_billing_lists_page(mem: Api) -> None:
    payment = await mem.completed_payment()
    for _ in range(3):
        await mem.client.post(
            "/api/v1/refunds", json={"payment_id": payment["id"], "amount": 10}, headers=AUTH
        )
    first = await mem.client.get(
        f"/api/v1/billing/booking/{payment['booking_id']}?limit=3", headers=AUTH
    )
    page = first.json()
    assert len(page["items"]) == 3
    assert page["next_cursor"]
    second = await mem.client.get(
        f"/api/v1/billing/booking/{payment['booking_id']}",
        params={"limit": 3, "cursor": page["next_cursor"]},
        headers=AUTH,
    )
    assert len(second.json()["items"]) == 1
    assert second.json()["next_cursor"] is None


async def test_malformed_ids_are_404(mem: Api) -> None:
    for path in ("/api/v1/billing/booking/x", "/api/v1/billing/guest/x"):
        assert (await mem.client.get(path, headers=AUTH)).status_code == 404

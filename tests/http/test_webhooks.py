"""Provider webhooks: raw-body signatures, deduplication, never backwards."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from tests.http.conftest import AUTH, Api

from payment_core import signing


async def three_ds_payment(api: Api) -> dict:
    payment = await api.create_payment()
    response = await api.client.post(
        f"/api/v1/payments/{payment['id']}/confirm",
        json={"payment_method": "pm_card_authenticationRequired"},
        headers=AUTH,
    )
    assert response.json()["status"] == "PROCESSING"
    return dict(response.json())


def delivery(api: Api, payment: dict, event: str, event_id: str, **when: int) -> tuple[bytes, dict]:
    status = event.rsplit(".", 1)[1]
    obj = api.provider.payment_intent_object(payment["provider_payment_id"], status=status)
    now = datetime.now(UTC) + timedelta(**when)
    return api.provider.build_webhook(event, obj, event_id=event_id, now=now)


async def test_a_signed_success_completes_a_3ds_payment_once(api: Api) -> None:
    payment = await three_ds_payment(api)
    body, headers = delivery(api, payment, "payment_intent.succeeded", "evt_ok_1")
    results = [
        await api.client.post("/api/v1/webhooks/fake", content=body, headers=headers)
        for _ in range(3)
    ]
    assert [r.status_code for r in results] == [200, 200, 200]
    assert [r.json() for r in results] == [
        {"received": True, "duplicate": False},
        {"received": True, "duplicate": True},
        {"received": True, "duplicate": True},
    ]
    got = await api.client.get(f"/api/v1/payments/{payment['id']}", headers=AUTH)
    assert got.json()["status"] == "COMPLETED"
    records = await api.client.get(f"/api/v1/billing/booking/{payment['booking_id']}", headers=AUTH)
    assert [r["type"] for r in records.json()["items"]] == ["CHARGE"]


async def test_a_late_processing_event_does_not_move_it_back(api: Api) -> None:
    payment = await three_ds_payment(api)
    body, headers = delivery(api, payment, "payment_intent.succeeded", "evt_ok_2")
    await api.client.post("/api/v1/webhooks/fake", content=body, headers=headers)
    late, late_headers = delivery(api, payment, "payment_intent.processing", "evt_late_2")
    response = await api.client.post("/api/v1/webhooks/fake", content=late, headers=late_headers)
    assert response.status_code == 200
    got = await api.client.get(f"/api/v1/payments/{payment['id']}", headers=AUTH)
    assert got.json()["status"] == "COMPLETED"


@pytest.mark.parametrize("case", ["forged", "stale", "future", "missing", "tampered", "garbage"])
async def test_a_bad_signature_is_400_and_changes_nothing(api: Api, case: str) -> None:
    payment = await three_ds_payment(api)
    shift = {"stale": -400, "future": 400}.get(case, 0)
    body, headers = delivery(api, payment, "payment_intent.succeeded", f"evt_{case}", seconds=shift)
    if case == "forged":
        t = int(datetime.now(UTC).timestamp())
        headers = {"Fake-Signature": signing.signature_header("whsec_forged", t, body)}
    elif case == "missing":
        headers = {}
    elif case == "tampered":
        body = body.replace(b"succeeded", b"succeeded ", 1)
    elif case == "garbage":
        headers = {"Fake-Signature": "t=abc,v1=zz"}
    response = await api.client.post("/api/v1/webhooks/fake", content=body, headers=headers)
    assert response.status_code == 400
    assert response.json()["code"] == "invalid_signature"
    got = await api.client.get(f"/api/v1/payments/{payment['id']}", headers=AUTH)
    assert got.json()["status"] == "PROCESSING"


@pytest.mark.parametrize("provider", ["acme", "stripe", "x" * 300])
async def test_an_unknown_or_unconfigured_provider_is_404(mem: Api, provider: str) -> None:
    response = await mem.client.post(f"/api/v1/webhooks/{provider}", content=b"{}")
    assert response.status_code == 404
    assert response.json()["code"] == "not_found"


async def test_a_signed_body_that_is_not_an_event_is_422(mem: Api) -> None:
    body = b'{"hello": "world"}'
    header = signing.signature_header("whsec_fake", int(datetime.now(UTC).timestamp()), body)
    response = await mem.client.post(
        "/api/v1/webhooks/fake", content=body, headers={"Fake-Signature": header}
    )
    assert response.status_code == 422


async def test_the_signature_is_checked_on_the_raw_bytes(mem: Api) -> None:
    """Re-serialising the JSON (spaces) breaks the signature: nothing parses before checking."""
    payment = await three_ds_payment(mem)
    body, headers = delivery(mem, payment, "payment_intent.succeeded", "evt_raw")
    spaced = body.replace(b'","', b'", "')
    response = await mem.client.post("/api/v1/webhooks/fake", content=spaced, headers=headers)
    assert response.status_code == 400

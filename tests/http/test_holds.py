"""Card holds over HTTP: authorize now, capture (whole or part) later, release, increase;
each refusal its problem code, and nothing changed."""

from __future__ import annotations

from typing import Any

from tests.http.conftest import AUTH, Api, new_id, payment_body


async def hold(api: Api, **overrides: Any) -> dict[str, Any]:
    """An AUTHORIZED payment (created and confirmed in one request)."""
    body = payment_body(capture_method="manual", confirm=True, amount=10_000, **overrides)
    response = await api.client.post("/api/v1/payments", json=body, headers=AUTH)
    assert response.status_code == 201, response.text
    payment = dict(response.json())
    assert payment["status"] == "AUTHORIZED", payment
    return payment


async def post(api: Api, path: str, body: Any = None, **headers: str) -> tuple[int, Any]:
    response = await api.client.post(path, json=body, headers={**AUTH, **headers})
    return response.status_code, response.json()


async def get(api: Api, payment_id: str) -> dict[str, Any]:
    response = await api.client.get(f"/api/v1/payments/{payment_id}", headers=AUTH)
    return dict(response.json())


async def test_a_manual_confirm_holds_the_money(api: Api) -> None:
    payment = await hold(api, payment_method="pm_card_visa")
    assert payment["capture_method"] == "manual"
    assert payment["amount_capturable"] == 10_000
    assert payment["amount_captured"] == 0
    assert payment["amount_capture_pending"] == 0
    assert payment["authorization_expires_at"].endswith("Z")
    assert payment["card"]["last4"] == "4242"
    records = await api.client.get(f"/api/v1/billing/booking/{payment['booking_id']}", headers=AUTH)
    assert records.json()["items"] == []  # nothing moved yet


async def test_a_partial_capture_completes_and_releases_the_rest(api: Api) -> None:
    payment = await hold(api)
    status, captured = await post(
        api, f"/api/v1/payments/{payment['id']}/capture", {"amount": 8_000}
    )
    assert status == 200, captured
    assert captured["status"] == "COMPLETED"
    assert (captured["amount_captured"], captured["amount_capturable"]) == (8_000, 0)
    assert captured["authorization_expires_at"] is None
    records = await api.client.get(f"/api/v1/billing/booking/{payment['booking_id']}", headers=AUTH)
    [charge] = records.json()["items"]
    assert (charge["type"], charge["amount"]) == ("CHARGE", 8_000)
    # What can be refunded is what was captured.
    status, problem = await post(
        api, "/api/v1/refunds", {"payment_id": payment["id"], "amount": 8_001}
    )
    assert (status, problem["code"]) == (422, "refund_exceeds_refundable")
    status, refund = await post(api, "/api/v1/refunds", {"payment_id": payment["id"]})
    assert (status, refund["amount"]) == (201, 8_000)


async def test_a_capture_without_a_body_takes_the_whole_hold(api: Api) -> None:
    payment = await hold(api)
    status, captured = await post(api, f"/api/v1/payments/{payment['id']}/capture")
    assert status == 200
    assert captured["amount_captured"] == 10_000


async def test_capturing_more_than_held_is_refused_and_changes_nothing(api: Api) -> None:
    payment = await hold(api)
    status, problem = await post(
        api, f"/api/v1/payments/{payment['id']}/capture", {"amount": 10_001}
    )
    assert (status, problem["code"]) == (422, "capture_exceeds_authorized")
    after = await get(api, payment["id"])
    assert (after["status"], after["amount_capturable"], after["updated_at"]) == (
        "AUTHORIZED",
        10_000,
        payment["updated_at"],
    )


async def test_capture_increment_and_release_in_the_wrong_state_are_409(api: Api) -> None:
    taken = await api.completed_payment()
    for path, body in (
        ("capture", None),
        ("increment_authorization", {"amount": 20_000}),
    ):
        status, problem = await post(api, f"/api/v1/payments/{taken['id']}/{path}", body)
        assert (status, problem["code"]) == (409, "invalid_state_transition"), path
    assert await get(api, taken["id"]) == {**taken, "client_secret": taken["client_secret"]}
    pending = await api.create_payment(capture_method="manual")
    status, problem = await post(api, f"/api/v1/payments/{pending['id']}/capture")
    assert (status, problem["code"]) == (409, "invalid_state_transition")


async def test_cancel_releases_a_hold_and_then_nothing_captures_it(api: Api) -> None:
    payment = await hold(api)
    status, released = await post(api, f"/api/v1/payments/{payment['id']}/cancel")
    assert status == 200
    assert (released["status"], released["amount_capturable"]) == ("CANCELLED", 0)
    status, problem = await post(api, f"/api/v1/payments/{payment['id']}/capture")
    assert (status, problem["code"]) == (409, "invalid_state_transition")
    status, problem = await post(api, f"/api/v1/payments/{payment['id']}/cancel")
    assert (status, problem["code"]) == (409, "invalid_state_transition")


async def test_an_increase_grows_the_hold(api: Api) -> None:
    payment = await hold(api)
    status, raised = await post(
        api, f"/api/v1/payments/{payment['id']}/increment_authorization", {"amount": 15_000}
    )
    assert status == 200, raised
    assert (raised["status"], raised["amount"], raised["amount_capturable"]) == (
        "AUTHORIZED",
        15_000,
        15_000,
    )
    status, captured = await post(api, f"/api/v1/payments/{payment['id']}/capture")
    assert captured["amount_captured"] == 15_000


async def test_a_declined_increase_is_402_and_the_hold_stays(api: Api) -> None:
    payment = await hold(api, payment_method="pm_card_incrementDeclined")
    status, problem = await post(
        api, f"/api/v1/payments/{payment['id']}/increment_authorization", {"amount": 15_000}
    )
    assert (status, problem["code"]) == (402, "card_declined")
    after = await get(api, payment["id"])
    assert (after["amount"], after["amount_capturable"], after["status"]) == (
        10_000,
        10_000,
        "AUTHORIZED",
    )


async def test_an_increase_that_is_not_larger_is_refused(api: Api) -> None:
    payment = await hold(api)
    status, problem = await post(
        api, f"/api/v1/payments/{payment['id']}/increment_authorization", {"amount": 10_000}
    )
    assert (status, problem["code"]) == (422, "validation_error")
    assert problem["errors"] == [
        {"field": "amount", "reason": "must be larger than the amount held"}
    ]
    status, problem = await post(
        api, f"/api/v1/payments/{payment['id']}/increment_authorization", {}
    )
    assert (status, problem["code"]) == (422, "validation_error")


async def test_a_capture_with_the_same_key_replays_and_captures_once(mem: Api) -> None:
    payment = await hold(mem)
    key = {"Idempotency-Key": f"capture-{new_id()}"}
    first = await post(mem, f"/api/v1/payments/{payment['id']}/capture", {"amount": 5_000}, **key)
    again = await post(mem, f"/api/v1/payments/{payment['id']}/capture", {"amount": 5_000}, **key)
    assert first == again
    assert first[0] == 200
    captures = [c for c in mem.provider.calls if c[0] == "capture_payment"]
    assert len(captures) == 1


async def test_an_unknown_payment_is_404_on_every_hold_operation(mem: Api) -> None:
    for path, body in (("capture", None), ("increment_authorization", {"amount": 2})):
        status, problem = await post(mem, f"/api/v1/payments/{new_id()}/{path}", body)
        assert (status, problem["code"]) == (404, "not_found")


async def test_an_unknown_capture_method_is_422(mem: Api) -> None:
    body = payment_body(capture_method="later")
    response = await mem.client.post("/api/v1/payments", json=body, headers=AUTH)
    assert response.status_code == 422
    assert response.json()["errors"][0]["field"] == "capture_method"

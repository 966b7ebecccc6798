"""Saved cards and off-session charges over HTTP: a card saved by a payment that succeeds,
charged later without the guest, listed, detached; each refusal its problem code and nothing
changed. The provider's token and customer id never appear in a response."""

from __future__ import annotations

from typing import Any

from tests import _leakscan
from tests.http.conftest import AUTH, Api, new_id, payment_body

METHOD_FIELDS = {"id", "guest_id", "provider", "type", "card", "status", "created_at", "updated_at"}


async def create(api: Api, **body: Any) -> tuple[int, dict[str, Any]]:
    response = await api.client.post("/api/v1/payments", json=payment_body(**body), headers=AUTH)
    return response.status_code, dict(response.json())


async def saved_card(api: Api, token: str = "pm_card_visa", **body: Any) -> dict[str, Any]:
    """A payment that saved its card (COMPLETED), and its guest."""
    status, payment = await create(
        api, payment_method=token, setup_future_usage="off_session", confirm=True, **body
    )
    assert status == 201, payment
    assert payment["status"] in ("COMPLETED", "AUTHORIZED")
    assert payment["payment_method_id"] is not None
    # The saved card's token and customer must never be answered or logged, by any test.
    intent = api.provider._intents[payment["provider_payment_id"]]
    assert intent.saved is not None
    _leakscan.register_secret(intent.saved.token, intent.saved.customer_id)
    return payment


async def off_session(api: Api, payment: dict[str, Any], **body: Any) -> tuple[int, Any]:
    fields = {
        "guest_id": payment["guest_id"],
        "payment_method_id": payment["payment_method_id"],
        "off_session": True,
        "confirm": True,
        "amount": 4_000,
    }
    fields.update(body)
    return await create(api, **fields)


def no_secret_in(body: object, payment: dict[str, Any], api: Api) -> None:
    text = str(body)
    for intent in api.provider._intents.values():
        if intent.saved is not None:
            assert intent.saved.token not in text
            assert str(intent.saved.customer_id) not in text


async def test_a_successful_payment_saves_its_card(api: Api) -> None:
    payment = await saved_card(api, token="pm_card_mastercard")
    response = await api.client.get(
        f"/api/v1/payment-methods/{payment['payment_method_id']}", headers=AUTH
    )
    assert response.status_code == 200
    method = response.json()
    assert set(method) == METHOD_FIELDS
    assert (method["status"], method["type"], method["provider"]) == ("ACTIVE", "card", "fake")
    assert method["guest_id"] == payment["guest_id"]
    assert method["card"] == {
        "brand": "mastercard",
        "last4": "4444",
        "exp_month": 12,
        "exp_year": 2034,
    }
    no_secret_in(method, payment, api)


async def test_a_hold_saves_its_card_too(api: Api) -> None:
    payment = await saved_card(api, capture_method="manual")
    assert payment["status"] == "AUTHORIZED"


async def test_an_off_session_charge_uses_the_saved_card(api: Api) -> None:
    payment = await saved_card(api)
    status, charge = await off_session(api, payment)
    assert status == 201, charge
    assert (charge["status"], charge["payment_method_id"]) == (
        "COMPLETED",
        payment["payment_method_id"],
    )
    assert charge["card"]["last4"] == "4242"
    no_secret_in(charge, payment, api)
    # The provider was told it is merchant-initiated, with the saved card.
    confirms = [c for c in api.provider.calls if c[0] == "confirm_payment"]
    assert len(confirms) == 2


async def test_the_issuer_wanting_the_guest_fails_the_charge(api: Api) -> None:
    payment = await saved_card(api, token="pm_card_offSessionAuthRequired")
    status, charge = await off_session(api, payment)
    assert status == 201
    assert (charge["status"], charge["failure_code"]) == ("FAILED", "authentication_required")


async def test_an_issuer_declining_off_session_fails_the_charge(api: Api) -> None:
    payment = await saved_card(api, token="pm_card_offSessionDeclined")
    status, charge = await off_session(api, payment)
    assert (status, charge["status"], charge["failure_code"]) == (201, "FAILED", "card_declined")


async def test_another_guests_card_is_refused_and_nothing_is_made(api: Api) -> None:
    payment = await saved_card(api)
    stranger = new_id()
    status, problem = await off_session(api, payment, guest_id=stranger)
    assert (status, problem["code"]) == (422, "payment_method_guest_mismatch")
    assert problem["errors"][0]["field"] == "payment_method_id"
    listed = await api.client.get(f"/api/v1/billing/guest/{stranger}", headers=AUTH)
    assert listed.json()["items"] == []


async def test_off_session_without_a_saved_card_is_refused(api: Api) -> None:
    status, problem = await create(api, off_session=True, confirm=True)
    assert (status, problem["code"]) == (422, "payment_method_required")
    status, problem = await create(api, payment_method_id=new_id(), off_session=True, confirm=True)
    assert (status, problem["code"]) == (422, "validation_error")
    assert problem["errors"][0]["field"] == "payment_method_id"


async def test_detaching_is_final_idempotent_and_refuses_later_charges(api: Api) -> None:
    payment = await saved_card(api)
    path = f"/api/v1/payment-methods/{payment['payment_method_id']}"
    first = await api.client.delete(path, headers=AUTH)
    again = await api.client.delete(path, headers=AUTH)
    assert (first.status_code, again.status_code) == (200, 200)
    assert first.json()["status"] == again.json()["status"] == "DETACHED"
    status, problem = await off_session(api, payment)
    assert (status, problem["code"]) == (409, "payment_method_detached")
    detaches = [c for c in api.provider.calls if c[0] == "detach_payment_method"]
    assert len(detaches) == 2  # asked again: the provider forgets it at most once more


async def test_a_guests_methods_are_listed_oldest_first_in_pages(api: Api) -> None:
    first = await saved_card(api)
    guest = first["guest_id"]
    second = await saved_card(api, guest_id=guest)
    response = await api.client.get(f"/api/v1/payment-methods/guest/{guest}?limit=1", headers=AUTH)
    page = response.json()
    assert [m["id"] for m in page["items"]] == [first["payment_method_id"]]
    rest = await api.client.get(
        f"/api/v1/payment-methods/guest/{guest}?limit=1&cursor={page['next_cursor']}",
        headers=AUTH,
    )
    assert [m["id"] for m in rest.json()["items"]] == [second["payment_method_id"]]
    assert rest.json()["next_cursor"] is None


async def test_an_unknown_method_is_404(mem: Api) -> None:
    for method in ("get", "delete"):
        response = await getattr(mem.client, method)(
            f"/api/v1/payment-methods/{new_id()}", headers=AUTH
        )
        assert (response.status_code, response.json()["code"]) == (404, "not_found")

"""Credit notes and invoice customers over HTTP (memory and SQLite; one flow on PostgreSQL)."""

from __future__ import annotations

from typing import Any

import pytest
from tests.http.conftest import AUTH, Api, invoice_body, new_id

CREDIT_NOTE_FIELDS = {
    "id", "number", "invoice_id", "booking_id", "amount", "tax", "currency", "reason", "memo",
    "refund_id", "created_at",
}  # fmt: skip
CUSTOMER = {
    "name": "Zoë Ñúñez-Åberg",
    "email": "zoe@example.org",
    "tax_id": "ES-X1234567L",
    "address": {
        "line1": "Calle de Alcalá 42",
        "line2": None,
        "city": "Madrid",
        "postal_code": "28014",
        "country": "ES",
    },
}


async def invoice(api: Api, **overrides: Any) -> dict[str, Any]:
    response = await api.client.post(
        "/api/v1/invoices", json=invoice_body(**overrides), headers=AUTH
    )
    assert response.status_code == 201, response.text
    return dict(response.json())


async def move(api: Api, invoice_id: str, status: str) -> dict[str, Any]:
    response = await api.client.patch(
        f"/api/v1/invoices/{invoice_id}", json={"status": status}, headers=AUTH
    )
    assert response.status_code == 200, response.text
    return dict(response.json())


async def credit(api: Api, invoice_id: str, **body: Any) -> Any:
    return await api.client.post(
        f"/api/v1/invoices/{invoice_id}/credit-notes", json=body, headers=AUTH
    )


async def paid_invoice(api: Api, amount: int = 22_000, **overrides: Any) -> tuple[dict, dict]:
    """A completed payment and an invoice of 220.00 it paid."""
    payment = await api.completed_payment(amount=amount)
    made = await invoice(
        api,
        booking_id=payment["booking_id"],
        guest_id=payment["guest_id"],
        payment_id=payment["id"],
        **overrides,
    )
    issued = await move(api, made["id"], "OPEN")
    assert issued["status"] == "PAID"
    return payment, issued


# ---------------------------------------------------------------------------- customers


async def test_an_invoice_takes_and_shows_its_customer(api: Api) -> None:
    made = await invoice(api, customer=CUSTOMER)
    assert made["customer"] == CUSTOMER
    assert made["amount_credited"] == 0
    fetched = (await api.client.get(f"/api/v1/invoices/{made['id']}", headers=AUTH)).json()
    assert fetched["customer"] == CUSTOMER
    bare = await invoice(api)
    assert bare["customer"] is None


async def test_a_draft_customer_can_change_and_an_issued_one_cannot(api: Api) -> None:
    made = await invoice(api)
    response = await api.client.patch(
        f"/api/v1/invoices/{made['id']}", json={"customer": {"name": "Åberg"}}, headers=AUTH
    )
    assert response.json()["customer"] == {
        "name": "Åberg", "email": None, "tax_id": None, "address": None,
    }  # fmt: skip
    await move(api, made["id"], "OPEN")
    response = await api.client.patch(
        f"/api/v1/invoices/{made['id']}", json={"customer": None}, headers=AUTH
    )
    assert (response.status_code, response.json()["code"]) == (409, "invoice_not_editable")


@pytest.mark.parametrize(
    ("customer", "field"),
    [
        ({"email": "not-an-address"}, "customer.email"),
        ({"address": {"country": "es"}}, "customer.address.country"),
        ({"address": {"country": "XX"}}, "customer.address.country"),
        ({"name": ""}, "customer.name"),
        ({"name": "x" * 201}, "customer.name"),
        ({"address": {"postal_code": "1" * 21}}, "customer.address.postal_code"),
        ({"phone": "+34 600 000 000"}, "customer.phone"),
    ],
)
async def test_a_bad_customer_is_refused_naming_the_field(mem: Api, customer, field) -> None:
    response = await mem.client.post(
        "/api/v1/invoices", json=invoice_body(customer=customer), headers=AUTH
    )
    assert response.status_code == 422, response.text
    assert response.json()["errors"][0]["field"] == field


async def test_a_card_number_in_the_customer_is_refused_and_not_stored(mem: Api, pan) -> None:
    response = await mem.client.post(
        "/api/v1/invoices",
        json=invoice_body(customer={"address": {"line1": f"card {pan}"}}),
        headers=AUTH,
    )
    assert (response.status_code, response.json()["code"]) == (422, "raw_card_data_forbidden")
    assert mem.runtime.harness is not None
    assert mem.runtime.harness.store.invoices == {}


# ---------------------------------------------------------------------------- credit notes


async def test_a_credit_note_is_issued_read_and_listed(api: Api) -> None:
    made = await invoice(api)
    opened = await move(api, made["id"], "OPEN")
    response = await credit(api, made["id"], amount=2500, reason="order_change", memo="Spa")
    assert response.status_code == 201, response.text
    note = response.json()
    assert set(note) == CREDIT_NOTE_FIELDS
    assert (note["number"], note["amount"], note["tax"], note["currency"]) == (
        opened["number"].replace("INV-", "CN-"),
        2500,
        227,
        "EUR",
    )
    assert (note["invoice_id"], note["booking_id"], note["refund_id"]) == (
        made["id"],
        made["booking_id"],
        None,
    )
    fetched = await api.client.get(f"/api/v1/credit-notes/{note['id']}", headers=AUTH)
    assert fetched.json() == note
    listed = await api.client.get(
        f"/api/v1/invoices/{made['id']}/credit-notes?limit=1", headers=AUTH
    )
    assert listed.json() == {"items": [note], "next_cursor": None}
    after = (await api.client.get(f"/api/v1/invoices/{made['id']}", headers=AUTH)).json()
    assert (after["amount_credited"], after["amount_due"]) == (2500, 22000 - 2500)


async def test_credit_notes_answer_409_422_and_404_as_the_contract_says(api: Api) -> None:
    draft = await invoice(api)
    response = await credit(api, draft["id"], amount=100)
    assert (response.status_code, response.json()["code"]) == (409, "invalid_state_transition")
    await move(api, draft["id"], "OPEN")
    response = await credit(api, draft["id"], amount=22001)
    assert (response.status_code, response.json()["code"]) == (422, "credit_exceeds_invoice")
    for bad in ({"amount": 0}, {"amount": 10.0}, {"amount": "10"}, {"amount": 1, "reason": "x"}):
        response = await credit(api, draft["id"], **bad)
        assert response.status_code == 422, bad
    response = await credit(api, new_id(), amount=100)
    assert (response.status_code, response.json()["code"]) == (404, "not_found")
    for path in (f"/api/v1/credit-notes/{new_id()}", "/api/v1/credit-notes/nope"):
        assert (await api.client.get(path, headers=AUTH)).status_code == 404
    credited = await credit(api, draft["id"], amount=100)
    assert credited.status_code == 201
    response = await api.client.patch(
        f"/api/v1/invoices/{draft['id']}", json={"status": "VOID"}, headers=AUTH
    )
    assert (response.status_code, response.json()["code"]) == (409, "invoice_has_credit_notes")


async def test_a_retried_create_replays_the_same_note(mem: Api) -> None:
    made = await invoice(mem)
    await move(mem, made["id"], "OPEN")
    headers = {**AUTH, "Idempotency-Key": "credit-1"}
    path = f"/api/v1/invoices/{made['id']}/credit-notes"
    first = await mem.client.post(path, json={"amount": 700}, headers=headers)
    again = await mem.client.post(path, json={"amount": 700}, headers=headers)
    assert again.headers["idempotent-replayed"] == "true"
    assert again.json() == first.json()
    after = (await mem.client.get(f"/api/v1/invoices/{made['id']}", headers=AUTH)).json()
    assert after["amount_credited"] == 700


async def test_a_refund_of_a_paid_invoice_issues_its_credit_note(api: Api) -> None:
    payment, paid = await paid_invoice(api)
    response = await api.client.post(
        "/api/v1/refunds", json={"payment_id": payment["id"], "amount": 2500}, headers=AUTH
    )
    refund = response.json()
    assert refund["status"] == "COMPLETED"
    notes = (
        await api.client.get(f"/api/v1/invoices/{paid['id']}/credit-notes", headers=AUTH)
    ).json()["items"]
    assert [(n["amount"], n["tax"], n["refund_id"]) for n in notes] == [(2500, 227, refund["id"])]
    records = (
        await api.client.get(f"/api/v1/billing/booking/{payment['booking_id']}", headers=AUTH)
    ).json()["items"]
    assert [r["type"] for r in records][-2:] == ["REFUND", "CREDIT_NOTE_ISSUED"]
    assert (await api.client.get("/api/v1/billing/verify", headers=AUTH)).json()["ok"] is True


async def test_the_whole_flow_on_postgresql(make_api) -> None:
    api = await make_api("postgres")
    payment, paid = await paid_invoice(api, customer=CUSTOMER)
    assert paid["customer"] == CUSTOMER
    await api.client.post(
        "/api/v1/refunds", json={"payment_id": payment["id"], "amount": 1000}, headers=AUTH
    )
    by_hand = await credit(api, paid["id"], amount=21001)
    assert by_hand.json()["code"] == "credit_exceeds_invoice"
    by_hand = await credit(api, paid["id"], amount=21000, reason="order_change")
    assert by_hand.status_code == 201
    notes = (
        await api.client.get(f"/api/v1/invoices/{paid['id']}/credit-notes", headers=AUTH)
    ).json()["items"]
    assert [n["amount"] for n in notes] == [1000, 21000]
    assert sum(n["tax"] for n in notes) == paid["tax"]  # credited whole: exactly its tax

"""The PDFs over HTTP: what their text says matches the JSON views it was made from."""

from __future__ import annotations

from typing import Any

import pytest
from tests.documents._pdf import all_text
from tests.http.conftest import AUTH, Api, new_id

from payment_core.money import Money

SELLER = {
    "seller_name": "Hotel Aurora GmbH",
    "seller_address": ("Seestraße 12", "6900 Bregenz"),
    "seller_tax_id": "ATU12345678",
    "seller_email": "billing@hotel-aurora.example",
}
CUSTOMER = {
    "name": "山田 Zoë Ñúñez",
    "email": "zoe@example.org",
    "tax_id": "ES-X1234567L",
    "address": {"line1": "Calle de Alcalá 42", "city": "Madrid", "postal_code": "28014",
                "country": "ES"},
}  # fmt: skip


def money(amount: int, currency: str = "EUR") -> str:
    return f"{currency} {Money.of(amount, currency).format()}"


@pytest.fixture(params=["memory", "sqlite"])
async def docs(request: pytest.FixtureRequest, make_api) -> Api:
    return await make_api(request.param, **SELLER)  # type: ignore[no-any-return]


async def pdf(api: Api, path: str, headers: dict[str, str] | None = None) -> Any:
    response = await api.client.get(path, headers=AUTH if headers is None else headers)
    assert response.status_code == 200, response.text
    assert response.headers["content-type"] == "application/pdf"
    assert response.content.startswith(b"%PDF-")
    return response


async def flow(api: Api, currency: str = "EUR", unit: int = 10_000) -> dict[str, Any]:
    """A paid invoice with a customer, a refund and its credit note, and a note by hand."""
    payment = await api.completed_payment(amount=2 * unit + 2 * unit // 10, currency=currency)
    made = await api.client.post(
        "/api/v1/invoices",
        json={
            "booking_id": payment["booking_id"],
            "guest_id": payment["guest_id"],
            "currency": currency,
            "due_date": "2026-12-31",
            "payment_id": payment["id"],
            "customer": CUSTOMER,
            "line_items": [
                {"description": "Deluxe room", "quantity": 2, "unit_amount": unit,
                 "tax_rate_bps": 1000},
            ],
            "notes": "Thank you for staying with us.",
        },
        headers=AUTH,
    )  # fmt: skip
    invoice_id = made.json()["id"]
    await api.client.patch(f"/api/v1/invoices/{invoice_id}", json={"status": "OPEN"}, headers=AUTH)
    refund = await api.client.post(
        "/api/v1/refunds", json={"payment_id": payment["id"], "amount": unit // 4}, headers=AUTH
    )
    note = await api.client.post(
        f"/api/v1/invoices/{invoice_id}/credit-notes",
        json={"amount": unit // 10, "reason": "order_change", "memo": "Late check-out waived"},
        headers=AUTH,
    )
    assert note.status_code == 201, note.text
    get = api.client.get
    return {
        "payment": (await get(f"/api/v1/payments/{payment['id']}", headers=AUTH)).json(),
        "invoice": (await get(f"/api/v1/invoices/{invoice_id}", headers=AUTH)).json(),
        "refund": refund.json(),
        "notes": (await get(f"/api/v1/invoices/{invoice_id}/credit-notes", headers=AUTH)).json()[
            "items"
        ],
    }


async def test_the_invoice_pdf_prints_its_view(docs: Api) -> None:
    made = await flow(docs)
    invoice = made["invoice"]
    response = await pdf(docs, f"/api/v1/invoices/{invoice['id']}/pdf")
    text = all_text(response.content)
    for fact in [
        "Hotel Aurora GmbH", "Seestraße 12", "ATU12345678", "billing@hotel-aurora.example",
        "山田 Zoë Ñúñez", "Calle de Alcalá 42", "28014 Madrid", "ES-X1234567L", "zoe@example.org",
        invoice["number"], invoice["issued_at"][:10], "2026-12-31", "Deluxe room", "10%",
        money(invoice["line_items"][0]["unit_amount"]), money(invoice["subtotal"]),
        money(invoice["tax"]), money(invoice["total"]), money(invoice["amount_paid"]),
        money(invoice["amount_due"]), "PAID", "Thank you for staying with us.",
    ]:  # fmt: skip
        assert fact in text, fact
    assert len(made["notes"]) == 2
    for note in made["notes"]:
        assert note["number"] in text
        assert money(note["amount"]) in text
    assert invoice["amount_credited"] == sum(n["amount"] for n in made["notes"])
    assert response.headers["content-disposition"] == f'inline; filename="{invoice["number"]}.pdf"'


async def test_amounts_print_with_the_currencys_minor_units(mem: Api) -> None:
    made = await flow(mem, currency="JPY", unit=2_500)
    invoice = made["invoice"]
    text = all_text((await pdf(mem, f"/api/v1/invoices/{invoice['id']}/pdf")).content)
    assert "JPY 5000" in text  # subtotal: no decimals for a currency without minor units
    assert f"JPY {invoice['total']}" in text


async def test_a_credit_note_pdf_prints_its_view(docs: Api) -> None:
    made = await flow(docs)
    invoice = made["invoice"]
    for note in made["notes"]:
        response = await pdf(docs, f"/api/v1/credit-notes/{note['id']}/pdf")
        text = all_text(response.content)
        for fact in [
            "CREDIT NOTE", note["number"], invoice["number"], note["created_at"][:10],
            money(note["amount"]), money(note["tax"]), money(note["amount"] - note["tax"]),
            "Hotel Aurora GmbH", "山田 Zoë Ñúñez",
        ]:  # fmt: skip
            assert fact in text, fact
    by_refund, by_hand = made["notes"]
    assert by_refund["memo"] in all_text(
        (await pdf(docs, f"/api/v1/credit-notes/{by_refund['id']}/pdf")).content
    )
    assert "Order change" in all_text(
        (await pdf(docs, f"/api/v1/credit-notes/{by_hand['id']}/pdf")).content
    )


async def test_the_receipt_is_public_and_tells_nothing_more_of_the_guest(docs: Api) -> None:
    made = await flow(docs)
    payment, refund = made["payment"], made["refund"]
    response = await pdf(docs, f"/api/v1/payments/reference/{payment['reference']}/receipt", {})
    text = all_text(response.content)
    for fact in [
        "RECEIPT", "Hotel Aurora GmbH", payment["reference"], "Visa ending in 4242",
        money(payment["amount"]), money(refund["amount"]),
        money(payment["amount"] - payment["amount_refunded"]), "PARTIALLY REFUNDED",
    ]:  # fmt: skip
        assert fact in text, fact
    for private in [
        payment["guest_id"], payment["booking_id"], payment["id"], "Zoë", "zoe@example.org",
        "Madrid", made["invoice"]["number"],
    ]:  # fmt: skip
        assert private not in text, private


async def test_only_a_completed_payment_has_a_receipt(mem: Api) -> None:
    pending = await mem.create_payment()
    declined = await mem.completed_payment("pm_card_chargeDeclined")
    assert declined["status"] == "FAILED"
    for reference in (pending["reference"], declined["reference"], "pay_" + "x" * 26, "nope"):
        response = await mem.client.get(f"/api/v1/payments/reference/{reference}/receipt")
        assert (response.status_code, response.json()["code"]) == (404, "not_found")


async def test_the_same_document_is_the_same_bytes_and_etag(mem: Api) -> None:
    made = await flow(mem)
    path = f"/api/v1/invoices/{made['invoice']['id']}/pdf"
    first, second = await pdf(mem, path), await pdf(mem, path)
    assert first.content == second.content
    assert first.headers["etag"] == second.headers["etag"]
    unchanged = await mem.client.get(path, headers={**AUTH, "If-None-Match": first.headers["etag"]})
    assert (unchanged.status_code, unchanged.content) == (304, b"")
    await mem.client.post(
        f"/api/v1/invoices/{made['invoice']['id']}/credit-notes", json={"amount": 1}, headers=AUTH
    )
    changed = await pdf(mem, path)
    assert changed.headers["etag"] != first.headers["etag"]


async def test_a_draft_prints_with_its_mark_and_no_number(mem: Api) -> None:
    payment = await mem.create_payment()
    made = await mem.client.post(
        "/api/v1/invoices",
        json={"booking_id": payment["booking_id"], "guest_id": payment["guest_id"],
              "currency": "EUR",
              "line_items": [{"description": "Room", "quantity": 1, "unit_amount": 100}]},
        headers=AUTH,
    )  # fmt: skip
    text = all_text((await pdf(mem, f"/api/v1/invoices/{made.json()['id']}/pdf")).content)
    assert "DRAFT" in text
    assert "not issued" in text


async def test_documents_need_a_key_and_unknown_ones_are_404(mem: Api) -> None:
    for path in (f"/api/v1/invoices/{new_id()}/pdf", f"/api/v1/credit-notes/{new_id()}/pdf"):
        assert (await mem.client.get(path)).status_code == 401
        response = await mem.client.get(path, headers=AUTH)
        assert (response.status_code, response.json()["code"]) == (404, "not_found")

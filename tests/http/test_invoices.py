"""Invoices over HTTP: drafts, PATCH edits and moves, gap-free numbers."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime

import pytest
from tests.http.conftest import AUTH, Api, invoice_body, new_id

INVOICE_FIELDS = {
    "id", "number", "status", "booking_id", "guest_id", "currency", "line_items", "subtotal",
    "tax", "total", "amount_paid", "amount_due", "due_date", "issued_at", "paid_at",
    "payment_id", "notes", "created_at", "updated_at",
}  # fmt: skip


async def create(api: Api, **overrides: object) -> dict:
    response = await api.client.post(
        "/api/v1/invoices", json=invoice_body(**overrides), headers=AUTH
    )
    assert response.status_code == 201, response.text
    return dict(response.json())


async def patch(api: Api, invoice_id: str, body: dict) -> tuple[int, dict]:
    response = await api.client.patch(f"/api/v1/invoices/{invoice_id}", json=body, headers=AUTH)
    return response.status_code, response.json()


async def test_a_draft_has_totals_and_no_number(api: Api) -> None:
    invoice = await create(api)
    assert set(invoice) >= INVOICE_FIELDS
    assert invoice["status"] == "DRAFT"
    assert invoice["number"] is None
    assert (invoice["subtotal"], invoice["tax"], invoice["total"]) == (20000, 2000, 22000)
    assert invoice["amount_due"] == 22000
    assert invoice["due_date"] == "2026-12-31"


async def test_tax_is_rounded_half_even_per_line(mem: Api) -> None:
    invoice = await create(
        mem,
        line_items=[
            {"description": "a", "quantity": 1, "unit_amount": 5, "tax_rate_bps": 1000},
            {"description": "b", "quantity": 1, "unit_amount": 15, "tax_rate_bps": 1000},
        ],
    )
    assert [line["tax"] for line in invoice["line_items"]] == [0, 2]  # 0.5 -> 0, 1.5 -> 2


async def test_a_draft_can_be_edited(api: Api) -> None:
    invoice = await create(api)
    status, edited = await patch(
        api,
        invoice["id"],
        {
            "line_items": [{"description": "Suite", "quantity": 1, "unit_amount": 30000}],
            "notes": None,
            "due_date": "2027-01-15",
        },
    )
    assert status == 200
    assert edited["total"] == 30000
    assert edited["notes"] is None
    assert edited["due_date"] == "2027-01-15"


async def test_issuing_assigns_the_next_number(api: Api) -> None:
    invoice = await create(api)
    status, issued = await patch(api, invoice["id"], {"status": "OPEN"})
    assert status == 200
    assert issued["status"] == "OPEN"
    year = datetime.now(UTC).year
    assert issued["number"].startswith(f"INV-{year}-")
    by_number = await api.client.get(f"/api/v1/invoices/number/{issued['number']}", headers=AUTH)
    assert by_number.status_code == 200
    assert by_number.json()["id"] == invoice["id"]


async def test_content_of_an_issued_invoice_cannot_change(api: Api) -> None:
    invoice = await create(api)
    await patch(api, invoice["id"], {"status": "OPEN"})
    status, problem = await patch(api, invoice["id"], {"notes": "changed"})
    assert status == 409
    assert problem["code"] == "invoice_not_editable"


@pytest.mark.parametrize(
    ("moves", "allowed"),
    [
        (["OPEN", "PAID"], [True, True]),
        (["OPEN", "UNCOLLECTIBLE", "PAID"], [True, True, True]),
        (["VOID"], [True]),
        (["PAID"], [False]),
        (["OPEN", "VOID", "PAID"], [True, True, False]),
    ],
)
async def test_status_moves_follow_the_state_machine(
    mem: Api, moves: list[str], allowed: list[bool]
) -> None:
    invoice = await create(mem)
    for move, ok in zip(moves, allowed, strict=True):
        status, body = await patch(mem, invoice["id"], {"status": move})
        if ok:
            assert status == 200
            assert body["status"] == move
        else:
            assert status == 409
            assert body["code"] == "invalid_state_transition"


@pytest.mark.parametrize("body", [{"status": "DRAFT"}, {"status": "open"}, {"line_items": None}])
async def test_an_invalid_patch_is_422(mem: Api, body: dict) -> None:
    invoice = await create(mem)
    status, _problem = await patch(mem, invoice["id"], body)
    assert status == 422


async def test_an_open_invoice_is_paid_when_its_payment_completes(api: Api) -> None:
    payment = await api.create_payment(amount=22000)
    invoice = await create(api, payment_id=payment["id"], booking_id=payment["booking_id"])
    await patch(api, invoice["id"], {"status": "OPEN"})
    await api.client.post(f"/api/v1/payments/{payment['id']}/confirm", headers=AUTH)
    got = await api.client.get(f"/api/v1/invoices/{invoice['id']}", headers=AUTH)
    assert got.json()["status"] == "PAID"


def _room(amount: int) -> list[dict]:
    return [{"description": "Room", "quantity": 1, "unit_amount": amount}]


async def test_a_small_payment_pays_a_large_invoice_in_part(api: Api) -> None:
    payment = await api.completed_payment(amount=100)
    invoice = await create(
        api, payment_id=payment["id"], booking_id=payment["booking_id"], line_items=_room(500000)
    )
    status, issued = await patch(api, invoice["id"], {"status": "OPEN"})
    assert status == 200
    assert (issued["status"], issued["amount_paid"], issued["amount_due"]) == (
        "OPEN",
        100,
        499900,
    )


async def test_one_payment_pays_one_invoice_of_its_amount_not_three(api: Api) -> None:
    payment = await api.completed_payment(amount=500000)
    statuses = []
    for _ in range(3):
        invoice = await create(
            api,
            payment_id=payment["id"],
            booking_id=payment["booking_id"],
            line_items=_room(500000),
        )
        statuses.append((await patch(api, invoice["id"], {"status": "OPEN"}))[1]["status"])
    assert statuses == ["PAID", "OPEN", "OPEN"]


async def test_a_fully_refunded_payment_pays_no_invoice(api: Api) -> None:
    payment = await api.completed_payment(amount=500000)
    refunded = await api.client.post(
        "/api/v1/refunds", json={"payment_id": payment["id"]}, headers=AUTH
    )
    assert refunded.status_code == 201, refunded.text
    invoice = await create(
        api, payment_id=payment["id"], booking_id=payment["booking_id"], line_items=_room(500000)
    )
    _, issued = await patch(api, invoice["id"], {"status": "OPEN"})
    assert (issued["status"], issued["amount_paid"]) == ("OPEN", 0)


async def test_a_payment_of_another_booking_cannot_be_linked(api: Api) -> None:
    payment = await api.completed_payment(amount=22000)
    response = await api.client.post(
        "/api/v1/invoices", json=invoice_body(payment_id=payment["id"]), headers=AUTH
    )
    assert response.status_code == 422
    problem = response.json()
    assert problem["code"] == "invoice_payment_mismatch"
    assert problem["errors"] == [
        {"field": "payment_id", "reason": "the payment is for another booking"}
    ]
    draft = await create(api)
    status, problem = await patch(api, draft["id"], {"payment_id": payment["id"], "status": "OPEN"})
    assert (status, problem["code"]) == (422, "invoice_payment_mismatch")
    unchanged = await api.client.get(f"/api/v1/invoices/{draft['id']}", headers=AUTH)
    assert (unchanged.json()["status"], unchanged.json()["payment_id"]) == ("DRAFT", None)


async def test_an_unknown_payment_id_is_422(mem: Api) -> None:
    response = await mem.client.post(
        "/api/v1/invoices", json=invoice_body(payment_id=new_id()), headers=AUTH
    )
    assert response.status_code == 422


async def test_list_by_booking(api: Api) -> None:
    booking = new_id()
    ids = [(await create(api, booking_id=booking))["id"] for _ in range(3)]
    listed = await api.client.get(f"/api/v1/invoices/booking/{booking}?limit=2", headers=AUTH)
    page = listed.json()
    assert [i["id"] for i in page["items"]] == ids[:2]
    assert page["next_cursor"]


@pytest.mark.parametrize("number", ["INV-2026-999999", "nope", "INV-20X6-000001"])
async def test_an_unknown_or_malformed_number_is_404(mem: Api, number: str) -> None:
    response = await mem.client.get(f"/api/v1/invoices/number/{number}", headers=AUTH)
    assert response.status_code == 404


async def test_concurrent_issuing_stays_gap_free(api: Api) -> None:
    invoices = [await create(api) for _ in range(8)]
    results = await asyncio.gather(*(patch(api, i["id"], {"status": "OPEN"}) for i in invoices))
    numbers = sorted(int(body["number"].rsplit("-", 1)[1]) for _, body in results)
    assert all(status == 200 for status, _ in results)
    assert numbers == list(range(numbers[0], numbers[0] + 8))

"""Every console page, over the in-memory harness and a real SQLite database."""

from __future__ import annotations

import re
import uuid

import pytest
from tests.console.conftest import AUTH

PAGES = [
    "/console",
    "/console/payments",
    "/console/attention",
    "/console/webhooks",
    "/console/outbox",
]


@pytest.mark.parametrize("path", PAGES)
async def test_every_page_renders_for_a_signed_in_operator(operator_on, path):
    await operator_on.payment()
    response = await operator_on.get(path)
    assert response.status_code == 200, response.text
    assert "<main" in response.text


async def test_the_overview_counts_the_last_30_days_and_describes_its_charts(operator_on):
    await operator_on.payment()
    await operator_on.payment("pm_card_chargeDeclined")
    page = await operator_on.get("/console")
    text = page.text
    assert "Payments created" in text
    assert "EUR 125.00" in text  # the completed volume
    assert "50 %" in text  # one completed, one failed
    assert text.count('role="img"') == 4  # volume, success, refunds, disputes
    assert "<desc" in text
    assert "<title" in text
    assert "Disputes" in text
    # Disputes are recorded now: the overview points at their list.
    assert 'href="/console/disputes"' in text


async def test_the_search_finds_a_payment_by_reference_booking_guest_and_status(operator_on):
    first = await operator_on.payment()
    other = await operator_on.payment("pm_card_chargeDeclined")
    by_ref = await operator_on.get(f"/console/payments?reference={first['reference']}")
    assert first["reference"] in by_ref.text
    assert other["reference"] not in by_ref.text
    by_booking = await operator_on.get(f"/console/payments?booking_id={other['booking_id']}")
    assert other["reference"] in by_booking.text
    assert first["reference"] not in by_booking.text
    by_guest = await operator_on.get(f"/console/payments?guest_id={first['guest_id']}")
    assert first["reference"] in by_guest.text
    assert other["reference"] not in by_guest.text
    failed = await operator_on.get("/console/payments?status=FAILED")
    assert other["reference"] in failed.text
    assert first["reference"] not in failed.text


async def test_the_search_by_dates_includes_the_last_day(operator_on):
    payment = await operator_on.payment()
    day = payment["created_at"][:10]
    found = await operator_on.get(f"/console/payments?created_from={day}&created_to={day}")
    assert payment["reference"] in found.text
    none = await operator_on.get("/console/payments?created_to=2000-01-01")
    assert payment["reference"] not in none.text


async def test_the_search_pages_newest_first_with_cursors(operator_on):
    made = [await operator_on.payment(method="") for _ in range(55)]
    first = await operator_on.get("/console/payments")
    assert made[-1]["reference"] in first.text
    assert made[0]["reference"] not in first.text
    link = re.search(r'href="([^"]+cursor=[^"]+)" rel="next"', first.text)
    assert link is not None
    second = await operator_on.get(link.group(1).replace("&amp;", "&"))
    assert made[0]["reference"] in second.text
    assert made[-1]["reference"] not in second.text


async def test_bad_search_values_are_said_and_change_nothing(operator_on):
    page = await operator_on.get("/console/payments?booking_id=nope&created_from=31-12-2026")
    assert page.status_code == 200
    assert "booking id: a UUID" in page.text
    assert "a date such as" in page.text
    forged = await operator_on.get("/console/payments?cursor=Zm9yZ2Vk")
    assert "no longer valid" in forged.text


async def test_the_find_box_goes_to_the_payment_by_reference_id_or_refund(operator_on):
    payment = await operator_on.payment()
    for query in (payment["reference"], payment["id"]):
        found = await operator_on.client.get(f"/console/find?q={query}", follow_redirects=False)
        assert found.headers["location"] == f"/console/payments/{payment['id']}"
    refund = await operator_on.api.client.post(
        "/api/v1/refunds", json={"payment_id": payment["id"], "amount": 100}, headers=AUTH
    )
    found = await operator_on.client.get(
        f"/console/find?q={refund.json()['reference']}", follow_redirects=False
    )
    assert found.headers["location"] == f"/console/payments/{payment['id']}"
    booking = await operator_on.client.get(
        f"/console/find?q={payment['booking_id']}", follow_redirects=False
    )
    assert booking.headers["location"] == f"/console/payments?booking_id={payment['booking_id']}"


async def test_the_payment_page_tells_its_story_without_secrets(operator_on):
    payment = await operator_on.payment()
    await operator_on.api.client.post(
        "/api/v1/refunds", json={"payment_id": payment["id"], "amount": 2500}, headers=AUTH
    )
    page = await operator_on.get(f"/console/payments/{payment['id']}")
    text = page.text
    assert page.status_code == 200
    assert payment["reference"] in text
    assert "visa •••• 4242" in text
    assert "EUR 25.00" in text
    assert "EUR 100.00" in text
    for entry in ("Payment completed", "Billing record CHARGE", "Refund completed"):
        assert entry in text
    assert "not available yet" in text.lower()  # plans, disputes
    assert "does not record each provider call" in text


async def test_the_payment_page_shows_its_invoice(operator_on):
    payment = await operator_on.payment(method="")
    invoice = await operator_on.api.client.post(
        "/api/v1/invoices",
        json={
            "booking_id": payment["booking_id"],
            "guest_id": payment["guest_id"],
            "currency": "EUR",
            "line_items": [{"description": "Room", "quantity": 1, "unit_amount": 12500}],
            "payment_id": payment["id"],
        },
        headers=AUTH,
    )
    assert invoice.status_code == 201, invoice.text
    await operator_on.api.client.patch(
        f"/api/v1/invoices/{invoice.json()['id']}", json={"status": "OPEN"}, headers=AUTH
    )
    await operator_on.api.client.post(
        f"/api/v1/payments/{payment['id']}/confirm", json={}, headers=AUTH
    )
    page = await operator_on.get(f"/console/payments/{payment['id']}")
    assert "INV-" in page.text
    assert "PAID" in page.text


async def test_unknown_things_are_a_404_page(operator_on):
    for path in (
        f"/console/payments/{uuid.uuid4()}",
        "/console/payments/not-an-id",
        f"/console/refunds/{uuid.uuid4()}/retry",
        f"/console/webhooks/{uuid.uuid4()}/replay",
        "/console/no/such/page",
    ):
        response = await operator_on.get(path)
        assert response.status_code == 404, path
        assert "Not found" in response.text


async def test_needs_a_person_lists_failed_and_retrying_refunds(operator_on):
    payment = await operator_on.payment("pm_card_refundFail")
    refund = await operator_on.api.client.post(
        "/api/v1/refunds", json={"payment_id": payment["id"], "amount": 1000}, headers=AUTH
    )
    page = await operator_on.get("/console/attention")
    assert refund.json()["reference"] in page.text
    assert "Retry now" in page.text
    assert "Disputes waiting for evidence" in page.text
    assert "Payment plans in default" in page.text
    assert "Not available yet" not in page.text  # both are built
    assert "RABBITMQ_URL is unset" in page.text


async def test_the_outbox_page_shows_what_waits(operator_on):
    page = await operator_on.get("/console/outbox")
    assert "Waiting to be published" in page.text
    assert 'id="outbox-pending"' in page.text

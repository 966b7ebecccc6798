"""The console's payment plans: plans in default listed on "needs a person", a plan's page
with its installments and decision, and "pay an installment now", confirmed and done once."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime, timedelta
from typing import Any

from tests.console.conftest import hidden
from tests.http.conftest import AUTH, new_id


async def plan(operator: Any, method: str = "pm_card_chargeDeclined") -> dict[str, Any]:
    """A plan whose deposit was declined (DEFAULTED) unless ``method`` pays it."""
    body = {
        "booking_id": new_id(),
        "guest_id": new_id(),
        "currency": "EUR",
        "total_amount": 100_000,
        "check_in": (datetime.now(UTC) + timedelta(days=60)).date().isoformat(),
        "time_zone": "Europe/Lisbon",
        "deposit_bps": 3000,
        "balance_due_days_before_check_in": 14,
        "payment_method": method,
        "cancellation_policy": {"tiers": [{"days_before_check_in": 30, "refund_bps": 10000}]},
    }
    response = await operator.api.client.post("/api/v1/payment-plans", json=body, headers=AUTH)
    assert response.status_code == 201, response.text
    return dict(response.json())


async def test_plans_in_default_are_listed_and_open_their_page(operator) -> None:
    defaulted = await plan(operator)
    paying = await plan(operator, "pm_card_visa")
    attention = await operator.get("/console/attention")
    assert attention.status_code == 200
    assert f"/console/plans/{defaulted['id']}" in attention.text
    assert f"/console/plans/{paying['id']}" not in attention.text
    assert "card_declined" in attention.text
    assert "EUR 0.00 / EUR 1,000.00" in attention.text or "EUR 0.00 / EUR 1000.00" in attention.text
    page = await operator.get(f"/console/plans/{defaulted['id']}")
    assert page.status_code == 200
    assert "DEFAULTED" in page.text
    assert "Pay now…" in page.text
    assert "pm_card_chargeDeclined" not in page.text  # the token is never shown
    missing = await operator.get(f"/console/plans/{new_id()}")
    assert missing.status_code == 404


async def test_an_installment_is_paid_after_confirmation_once(operator_on) -> None:
    made = await plan(operator_on, "pm_card_visa")
    balance = made["installments"][1]
    path = f"/console/plans/{made['id']}/installments/{balance['id']}/pay"
    page = await operator_on.get(path)
    assert "Pay an installment now" in page.text
    assert "Charge EUR 700.00" in page.text
    fields = {n: hidden(page.text, n) for n in ("csrf_token", "form_key")}
    first, second = await asyncio.gather(
        operator_on.post(path, fields), operator_on.post(path, fields)
    )
    assert first.status_code == second.status_code == 303
    shown = await operator_on.api.client.get(f"/api/v1/payment-plans/{made['id']}", headers=AUTH)
    assert shown.json()["status"] == "PAID"
    assert shown.json()["installments"][1]["attempts"] == 1
    confirms = [c for c in operator_on.api.provider.calls if c[0] == "confirm_payment"]
    assert len(confirms) == 2  # the deposit and the balance, once each
    notice = await operator_on.get(first.headers["location"])
    assert "The installment is PAID; the plan is PAID." in notice.text


async def test_paying_an_installment_that_is_paid_is_told_not_done(operator) -> None:
    made = await plan(operator, "pm_card_visa")
    deposit = made["installments"][0]
    path = f"/console/plans/{made['id']}/installments/{deposit['id']}/pay"
    page = await operator.get(path)
    fields = {n: hidden(page.text, n) for n in ("csrf_token", "form_key")}
    done = await operator.post(path, fields)
    shown = await operator.get(done.headers["location"])
    assert "invalid_state_transition" in shown.text

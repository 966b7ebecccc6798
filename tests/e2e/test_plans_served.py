"""Payment plans against ``payment-service serve`` on SQLite and PostgreSQL: the deposit
charged by the request, the balance by the served background work when it falls due, a
cancellation by the policy, all over HTTP."""

from __future__ import annotations

import asyncio
import time
import uuid
from datetime import UTC, datetime, timedelta
from typing import Any

import httpx
import pytest
from tests.e2e.conftest import AUTH

pytestmark = pytest.mark.e2e


async def test_a_plan_is_paid_by_the_served_loop_then_cancelled_by_its_policy(
    client: httpx.AsyncClient,
) -> None:
    now = datetime.now(UTC)
    body: dict[str, Any] = {
        "booking_id": str(uuid.uuid4()),
        "guest_id": str(uuid.uuid4()),
        "currency": "EUR",
        "total_amount": 100_000,
        "check_in": (now + timedelta(days=20)).date().isoformat(),
        "time_zone": "Pacific/Kiritimati",
        "deposit_bps": 3000,
        "balance_due_at": (now + timedelta(seconds=2)).isoformat(),
        "payment_method": "pm_card_visa",
        "cancellation_policy": {
            "tiers": [
                {"days_before_check_in": 30, "refund_bps": 10000},
                {"days_before_check_in": 7, "refund_bps": 5000},
            ],
            "no_show_fee_bps": 10000,
        },
    }
    created = await client.post("/api/v1/payment-plans", json=body, headers=AUTH)
    assert created.status_code == 201, created.text
    plan = created.json()
    assert [i["status"] for i in plan["installments"]] == ["PAID", "SCHEDULED"]
    url = f"/api/v1/payment-plans/{plan['id']}"
    deadline = time.monotonic() + 30
    while True:
        shown = (await client.get(url, headers=AUTH)).json()
        if shown["status"] == "PAID":
            break
        assert time.monotonic() < deadline, shown
        await asyncio.sleep(0.2)
    assert shown["amount_paid"] == 100_000
    # Nineteen or twenty days out in Kiritimati: the 7-day tier, half of the total back.
    cancelled = await client.post(f"{url}/cancel", json={"reason": "change"}, headers=AUTH)
    assert cancelled.status_code == 200, cancelled.text
    decision = cancelled.json()["cancellation"]
    assert decision["refund_bps"] == 5000
    assert decision["amount_refunded"] == 50_000
    payments = await client.get(f"/api/v1/payments/booking/{body['booking_id']}", headers=AUTH)
    refunded = sum(p["amount_refunded"] for p in payments.json()["items"])
    assert refunded == 50_000

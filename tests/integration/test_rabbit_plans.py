"""Payment plans end to end over real RabbitMQ, on SQLite and PostgreSQL: a booking.created
with payment_plan, consumed by the background work, makes the plan and charges its deposit; a
booking.cancelled applies the policy; payment_plan.* events reach the payments exchange with
the plan view as their data, in commit order."""

from __future__ import annotations

import asyncio
import json
from datetime import UTC, datetime, timedelta
from typing import Any
from uuid import uuid4

import pytest

from payment_adapters.background import BackgroundWork
from payment_adapters.settings import Settings
from payment_core.pagination import PageRequest

from .conftest import RabbitAdmin, envelope, eventually, make_runtime

pytestmark = pytest.mark.integration


@pytest.fixture(params=["sqlite", "postgres"])
def database_url(request: pytest.FixtureRequest) -> str:
    return str(request.getfixturevalue(f"{request.param}_url"))


async def test_a_booking_paid_by_a_plan_and_cancelled_by_its_policy(
    database_url: str, rabbit: RabbitAdmin
) -> None:
    settings = Settings(
        environment="test",
        database_url=database_url,
        rabbitmq_url=rabbit.url,
        payments_exchange=rabbit.exchange("payments"),
        bookings_exchange=rabbit.exchange("bookings"),
        bookings_queue=rabbit.queue("bookings"),
    )
    captured = await rabbit.capture(settings.payments_exchange, "payment_plan.#")
    runtime = make_runtime(database_url, settings)
    work = BackgroundWork(runtime, consume_bookings=True, interval=0.1)
    await work.start()
    try:
        await asyncio.wait_for(work.broker_connected.wait(), 15)
        await eventually(lambda: _consuming(rabbit, settings.bookings_queue), within=30)
        booking = uuid4()
        check_in = (datetime.now(UTC) + timedelta(days=60)).date().isoformat()
        data: dict[str, Any] = {
            "booking_id": str(booking),
            "guest_id": str(uuid4()),
            "amount": 100_000,
            "currency": "EUR",
            "payment_required": True,
            "payment_plan": {
                "check_in": check_in,
                "time_zone": "Europe/Lisbon",
                "deposit_bps": 3000,
                "balance_due_days_before_check_in": 14,
                "payment_method": "pm_card_visa",
                "cancellation_policy": {
                    "tiers": [{"days_before_check_in": 30, "refund_bps": 10000}],
                    "no_show_fee_bps": 10000,
                },
            },
        }
        created = envelope("booking.created", data, event_id=f"created-{booking}")
        for _ in range(2):  # delivered twice: handled once
            await rabbit.publish(settings.bookings_exchange, "booking.created", created)
        plans = runtime.services.plans

        async def plan_paid_deposit() -> bool:
            page = await plans.list_by_booking(booking, PageRequest())
            return bool(page.items) and page.items[0].amount_paid == 30_000

        await eventually(plan_paid_deposit, within=20)
        await rabbit.publish(
            settings.bookings_exchange,
            "booking.cancelled",
            envelope("booking.cancelled", {"booking_id": str(booking)}, event_id=f"x-{booking}"),
        )

        async def cancelled() -> bool:
            page = await plans.list_by_booking(booking, PageRequest())
            return page.items[0].status.value == "CANCELLED"

        await eventually(cancelled, within=20)
        [plan] = (await plans.list_by_booking(booking, PageRequest())).items
        assert plan.amount_refunded == 30_000  # sixty days out: all of the deposit back
        payments = (await runtime.services.payments.list_by_booking(booking, PageRequest())).items
        assert len(payments) == 1
        messages = await rabbit.take(captured, at_least=3, within=20)
    finally:
        await work.stop()
        await runtime.aclose()
    kinds = [m.routing_key for m in messages if m.subject == str(plan.id)]
    assert kinds == [
        "payment_plan.created",
        "payment_plan.installment_paid",
        "payment_plan.cancelled",
    ]
    last = json.loads(messages[-1].body)
    assert last["data"]["id"] == str(plan.id)
    assert last["data"]["cancellation"]["amount_refunded"] == 30_000
    assert "payment_method" not in last["data"]


async def _consuming(rabbit: RabbitAdmin, queue: str) -> bool:
    return await rabbit.exists(queue) and await rabbit.consumers(queue) == 2

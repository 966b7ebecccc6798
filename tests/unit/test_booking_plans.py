"""Booking events with payment plans: booking.created with payment_plan makes a plan (decoded
from the wire as the consumer does), booking.cancelled cancels it by its policy instead of the
whole-amount refund; both deduplicated; a cancellation first, or racing the creation, leaves
nothing charged."""

from __future__ import annotations

import asyncio
import json
from datetime import UTC, datetime, timedelta
from uuid import uuid4

import pytest

from payment_adapters.messaging.codec import EnvelopeError, decode_booking_event
from payment_core.model.plan import InstallmentStatus, PlanStatus
from payment_core.pagination import PageRequest
from payment_core.services import BookingCancelled, BookingCreated
from payment_core.testing import Harness, SettableClock, build_in_memory

START = datetime(2026, 12, 6, 8, tzinfo=UTC)


@pytest.fixture
def harness() -> Harness:
    return build_in_memory(clock=SettableClock(START))


def created_event(booking_id, plan: dict | None = None, event_id: str = "evt-1") -> bytes:
    data = {
        "booking_id": str(booking_id),
        "guest_id": str(uuid4()),
        "amount": 100_000,
        "currency": "EUR",
        "payment_required": True,
        "payment_plan": plan
        or {
            "check_in": "2027-03-10",
            "time_zone": "Europe/Lisbon",
            "deposit_bps": 3000,
            "balance_due_days_before_check_in": 14,
            "payment_method": "pm_card_visa",
            "cancellation_policy": {
                "tiers": [
                    {"days_before_check_in": 30, "refund_bps": 10000},
                    {"days_before_check_in": 7, "refund_bps": 5000},
                ],
                "no_show_fee_bps": 10000,
            },
        },
    }
    envelope = {
        "specversion": "1.0",
        "id": event_id,
        "source": "booking-service",
        "type": "booking.created",
        "data": data,
    }
    return json.dumps(envelope).encode()


def decoded(body: bytes) -> BookingCreated:
    _, data = decode_booking_event(body)
    assert isinstance(data, BookingCreated)
    return data


async def plans_of(harness: Harness, booking_id):
    page = await harness.services.plans.list_by_booking(booking_id, PageRequest())
    return page.items


async def test_booking_created_with_a_plan_makes_the_plan_not_a_payment(harness) -> None:
    booking = uuid4()
    handled = await harness.services.bookings.booking_created(
        "evt-1", decoded(created_event(booking))
    )
    [plan] = handled.plans
    assert handled.payments == ()
    assert (plan.booking_id, plan.total_amount.amount, plan.status) == (
        booking,
        100_000,
        PlanStatus.ACTIVE,
    )
    assert [i.status for i in plan.installments] == [
        InstallmentStatus.PAID,
        InstallmentStatus.SCHEDULED,
    ]
    # A redelivery is a duplicate: one plan, one deposit.
    again = await harness.services.bookings.booking_created(
        "evt-1", decoded(created_event(booking))
    )
    assert again.duplicate
    assert len(await plans_of(harness, booking)) == 1
    assert len(harness.store.payments) == 1


async def test_a_malformed_plan_is_refused_as_the_consumer_dead_letters_it() -> None:
    with pytest.raises(EnvelopeError):
        decoded(created_event(uuid4(), {"check_in": 20270310, "time_zone": "Europe/Lisbon"}))


async def test_booking_cancelled_applies_the_policy_not_the_whole_refund(harness) -> None:
    booking = uuid4()
    await harness.services.bookings.booking_created("evt-1", decoded(created_event(booking)))
    [plan] = await plans_of(harness, booking)
    plan = await harness.services.plans.pay_installment(plan.id, plan.installments[1].id)
    # Ten days before check-in: half of the total is retained, half refunded.
    harness.clock.set(datetime(2027, 2, 28, 12, tzinfo=UTC))
    handled = await harness.services.bookings.booking_cancelled(
        "evt-2", BookingCancelled(booking_id=booking, reason="guest cancelled")
    )
    [cancelled] = handled.plans
    assert cancelled.status is PlanStatus.CANCELLED
    assert cancelled.cancellation is not None
    assert (cancelled.cancellation.refund_bps, cancelled.cancellation.amount_refunded) == (
        5000,
        50_000,
    )
    assert sum(r.amount.amount for r in harness.store.refunds.values()) == 50_000
    again = await harness.services.bookings.booking_cancelled(
        "evt-2", BookingCancelled(booking_id=booking)
    )
    assert again.duplicate
    assert sum(r.amount.amount for r in harness.store.refunds.values()) == 50_000


async def test_a_cancellation_handled_first_means_no_plan(harness) -> None:
    booking = uuid4()
    await harness.services.bookings.booking_cancelled("evt-0", BookingCancelled(booking))
    handled = await harness.services.bookings.booking_created(
        "evt-1", decoded(created_event(booking))
    )
    assert handled.plans == ()
    assert await plans_of(harness, booking) == []
    assert harness.store.payments == {}


async def test_a_cancellation_racing_the_creation_charges_nothing_it_keeps(harness) -> None:
    """Whichever wins the booking's lock, the guest ends with nothing charged and kept: under
    a policy that refunds everything thirty days out, a deposit taken is refunded."""
    outcomes = set()
    for round_ in range(6):
        booking = uuid4()

        async def cancel(yields: int = round_, booking=booking) -> None:
            for _ in range(yields):  # let the creation get that far first
                await asyncio.sleep(0)
            await harness.services.bookings.booking_cancelled(
                f"x-{yields}", BookingCancelled(booking)
            )

        await asyncio.gather(
            cancel(),
            harness.services.bookings.booking_created(
                f"c-{round_}", decoded(created_event(booking, event_id=f"c-{round_}"))
            ),
        )
        plans = await plans_of(harness, booking)
        for plan in plans:
            assert plan.status is PlanStatus.CANCELLED
            assert all(i.status is not InstallmentStatus.SCHEDULED for i in plan.installments)
        taken = sum(
            p.amount.amount
            for p in harness.store.payments.values()
            if p.booking_id == booking and p.status.value == "COMPLETED"
        )
        refunded = sum(
            r.amount.amount for r in harness.store.refunds.values() if r.booking_id == booking
        )
        assert taken == refunded
        outcomes.add((len(plans), taken))
    # Cancelled first (no plan at all), and cancelled after the deposit (refunded).
    assert outcomes == {(0, 0), (1, 30_000)}
    # Nothing is left to charge, ever.
    harness.clock.set(START + timedelta(days=400))
    assert (await harness.services.plans.run_due()).attempted == 0

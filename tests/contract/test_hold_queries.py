"""The hold sweep's and reconciliation's queries on payments: the same answers on every
backend (the SQL plans are checked in tests/integration/test_sql_hold_plans.py)."""

from __future__ import annotations

from uuid import uuid4

from payment_core.model.payment import CaptureMethod, PaymentStatus
from payment_core.money import Money

DAY = 86_400


async def test_a_hold_reads_back_with_every_hold_field(storage, build):
    hold = build.hold(expires_at=build.at(3 * DAY))
    hold.expiry_warned_at = build.at(2 * DAY)
    hold.hold_moved_by_request = uuid4()
    hold.payment_method_id = uuid4()
    hold.off_session = True
    hold.setup_future_usage = "off_session"
    hold.start_capture(
        now=build.at(10), amount=Money(5_000, build.EUR), reconcile_after=build.at(60) - build.at(0)
    )
    await storage.add(hold)
    async with storage.uow() as uow:
        found = await uow.payments.get(hold.id)
    assert found is not None
    assert build.state(found) == build.state(hold)
    assert (found.capture_method, found.status) == (CaptureMethod.MANUAL, PaymentStatus.AUTHORIZED)
    assert found.amount_capture_pending == 5_000
    assert found.capture_in_flight


async def test_holds_to_warn_are_unwarned_holds_expiring_by_then_soonest_first(storage, build):
    soon, later, far = (build.hold(expires_at=build.at(n * DAY)) for n in (2, 3, 9))
    warned = build.hold(expires_at=build.at(2 * DAY))
    warned.expiry_warned_at = build.at(DAY)
    capturing = build.hold(expires_at=build.at(2 * DAY))
    capturing.start_capture(
        now=build.at(10), amount=capturing.amount, reconcile_after=build.at(60) - build.at(0)
    )
    completed = build.completed_payment()
    await storage.add(far, later, soon, warned, capturing, completed)
    async with storage.uow() as uow:
        due = await uow.payments.list_holds_to_warn(build.at(3 * DAY), 10)
        limited = await uow.payments.list_holds_to_warn(build.at(3 * DAY), 1)
        none_yet = await uow.payments.list_holds_to_warn(build.at(DAY), 10)
    assert [p.id for p in due] == [soon.id, later.id]
    assert [p.id for p in limited] == [soon.id]
    assert none_yet == []


async def test_expired_holds_are_those_past_their_expiry_warned_or_not(storage, build):
    past = build.hold(expires_at=build.at(DAY))
    warned_past = build.hold(expires_at=build.at(2 * DAY))
    warned_past.expiry_warned_at = build.at(DAY)
    exactly_now = build.hold(expires_at=build.at(3 * DAY))
    future = build.hold(expires_at=build.at(3 * DAY + 1))
    capturing = build.hold(expires_at=build.at(DAY))
    capturing.start_capture(
        now=build.at(10), amount=capturing.amount, reconcile_after=build.at(60) - build.at(0)
    )
    released = build.hold(expires_at=build.at(DAY))
    released.cancel(now=build.at(20), event_id=uuid4())
    released.events.clear()
    await storage.add(future, exactly_now, warned_past, past, capturing, released)
    async with storage.uow() as uow:
        expired = await uow.payments.list_holds_expired(build.at(3 * DAY), 10)
    assert [p.id for p in expired] == [past.id, warned_past.id, exactly_now.id]


async def test_captures_in_flight_are_due_for_reconciliation_with_confirms(storage, build):
    confirming = build.payment()
    confirming.start_processing(
        now=build.at(0), payment_method="pm_card_visa", reconcile_after=build.at(30) - build.at(0)
    )
    capturing = build.hold()
    capturing.start_capture(
        now=build.at(0), amount=capturing.amount, reconcile_after=build.at(20) - build.at(0)
    )
    not_yet = build.hold()
    not_yet.start_capture(
        now=build.at(0), amount=not_yet.amount, reconcile_after=build.at(90) - build.at(0)
    )
    plain_hold = build.hold()
    await storage.add(confirming, capturing, not_yet, plain_hold)
    async with storage.uow() as uow:
        due = await uow.payments.list_due_for_reconciliation(build.at(60), 10)
        first = await uow.payments.list_due_for_reconciliation(build.at(60), 1)
    assert [p.id for p in due] == [capturing.id, confirming.id]
    assert [p.id for p in first] == [capturing.id]

"""Handlers of the booking service's events."""

from __future__ import annotations

import asyncio
from uuid import uuid4

import pytest

from payment_core import PaymentStatus, RefundStatus, ServiceConfig
from payment_core.errors import ProviderError, ValidationError
from payment_core.pagination import PageRequest
from payment_core.services import BookingCancelled, BookingCreated, CreatePayment
from payment_core.services.bookings import BOOKINGS_CONSUMER, EVENT_ID_METADATA
from payment_core.testing import build_in_memory


def created(booking_id=None, *, required: bool = True, method: str | None = None, amount=20_000):
    return BookingCreated(
        booking_id=booking_id or uuid4(),
        guest_id=uuid4(),
        amount=amount,
        currency="EUR",
        payment_required=required,
        payment_method=method,
    )


async def payments_of(services, booking_id):
    return (await services.payments.list_by_booking(booking_id, PageRequest())).items


async def test_booking_created_with_payment_required_makes_a_pending_payment(services) -> None:
    data = created()
    handled = await services.bookings.booking_created("evt-1", data)
    [payment] = handled.payments
    assert handled.duplicate is False
    assert (payment.status, payment.booking_id, payment.guest_id, payment.amount.amount) == (
        PaymentStatus.PENDING,
        data.booking_id,
        data.guest_id,
        20_000,
    )
    assert [p.id for p in await payments_of(services, data.booking_id)] == [payment.id]


async def test_booking_created_with_a_payment_method_confirms_it(services) -> None:
    handled = await services.bookings.booking_created("evt-1", created(method="pm_card_visa"))
    assert handled.payments[0].status is PaymentStatus.COMPLETED


async def test_booking_created_with_a_declining_method_fails_the_payment(services) -> None:
    handled = await services.bookings.booking_created(
        "evt-1", created(method="pm_card_chargeDeclined")
    )
    assert handled.payments[0].status is PaymentStatus.FAILED


async def test_booking_created_without_payment_required_makes_nothing(services, harness) -> None:
    data = created(required=False)
    handled = await services.bookings.booking_created("evt-1", data)
    assert (handled.duplicate, handled.payments) == (False, ())
    assert harness.store.payments == {}


async def test_a_redelivered_booking_created_is_ignored(services, harness) -> None:
    data = created()
    await services.bookings.booking_created("evt-1", data)
    again = await services.bookings.booking_created("evt-1", data)
    assert (again.duplicate, again.payments) == (True, ())
    assert len(await payments_of(services, data.booking_id)) == 1


async def test_a_redelivered_booking_created_without_payment_is_ignored(services) -> None:
    data = created(required=False)
    await services.bookings.booking_created("evt-1", data)
    assert (await services.bookings.booking_created("evt-1", data)).duplicate is True


async def test_payment_required_must_be_a_real_boolean(services, harness) -> None:
    with pytest.raises(ValidationError) as caught:
        await services.bookings.booking_created("evt-1", created(required="yes"))  # type: ignore[arg-type]
    assert caught.value.field == "payment_required"
    assert harness.store.inbox == set()


async def test_a_bad_amount_records_nothing_so_the_message_can_be_dead_lettered(
    services, harness
) -> None:
    with pytest.raises(ValidationError):
        await services.bookings.booking_created("evt-1", created(amount=0))
    assert harness.store.inbox == set()


async def test_booking_cancelled_cancels_pending_payments(kit, services, harness) -> None:
    booking = uuid4()
    payment = await kit.create(booking_id=booking)
    handled = await services.bookings.booking_cancelled("evt-2", BookingCancelled(booking))
    assert [p.id for p in handled.payments] == [payment.id]
    assert (await services.payments.get(payment.id)).status is PaymentStatus.CANCELLED
    assert kit.calls("cancel_payment") == [f"payment-{payment.id}-cancel"]
    assert harness.published_types()[-1] == "payment.cancelled"


async def test_booking_cancelled_refunds_completed_payments_in_full(kit, services) -> None:
    booking = uuid4()
    payment = await kit.paid(booking_id=booking, amount=20_000)
    await services.refunds.create(payment.id, 5_000)
    handled = await services.bookings.booking_cancelled("evt-2", BookingCancelled(booking))
    [refund] = handled.refunds
    assert (refund.status, refund.amount.amount, refund.reason) == (
        RefundStatus.COMPLETED,
        15_000,
        "booking_cancelled",
    )
    assert (await services.payments.get(payment.id)).refundable == 0


async def test_booking_cancelled_leaves_other_payments_alone(kit, services) -> None:
    booking = uuid4()
    processing = await kit.paid("pm_card_timeout", booking_id=booking)
    failed = await kit.paid("pm_card_chargeDeclined", booking_id=booking)
    refunded = await kit.paid(booking_id=booking)
    await services.refunds.create(refunded.id)
    other = await kit.create()
    handled = await services.bookings.booking_cancelled("evt-2", BookingCancelled(booking))
    assert (handled.payments, handled.refunds) == ((), ())
    assert (await services.payments.get(processing.id)).status is PaymentStatus.PROCESSING
    assert (await services.payments.get(failed.id)).status is PaymentStatus.FAILED
    assert (await services.payments.get(other.id)).status is PaymentStatus.PENDING


async def refunds_of(services, payment_id):
    return (await services.refunds.list_by_payment(payment_id, PageRequest())).items


async def test_a_payment_in_flight_at_cancellation_is_refunded_in_full_once_it_completes(
    kit, services, harness, clock
) -> None:
    booking = uuid4()
    # The provider took the money but the answer was lost: PROCESSING until reconciliation.
    payment = await kit.paid("pm_card_timeout", booking_id=booking, amount=20_000)
    await services.bookings.booking_cancelled("evt-2", BookingCancelled(booking))
    assert (await services.payments.get(payment.id)).refund_on_completion is True

    clock.advance(minutes=5)
    await services.reconciliation.sweep()
    settled = await services.payments.get(payment.id)
    [refund] = await refunds_of(services, payment.id)
    assert (settled.status, settled.refundable, settled.amount_refund_pending) == (
        PaymentStatus.COMPLETED,
        0,
        20_000,
    )
    assert (refund.status, refund.amount.amount, refund.reason) == (
        RefundStatus.PENDING,
        20_000,
        "booking_cancelled",
    )
    # Opened in the completing transaction, due at once; the refund worker pays it back.
    assert await services.refunds.process_due() == 1
    assert (await services.refunds.get(refund.id)).status is RefundStatus.COMPLETED
    assert (await services.payments.get(payment.id)).amount_refunded == 20_000
    types = harness.published_types()
    assert types.index("payment.completed") < types.index("refund.initiated")
    assert types[-1] == "refund.completed"


async def test_a_3ds_payment_completed_by_webhook_after_cancellation_is_refunded(
    kit, services
) -> None:
    booking = uuid4()
    payment = await kit.paid("pm_card_authenticationRequired", booking_id=booking)
    assert payment.next_action is not None
    await services.bookings.booking_cancelled("evt-2", BookingCancelled(booking))
    # The guest finishes 3-D Secure anyway.
    await kit.deliver("payment_intent.succeeded", kit.intent(payment))
    [refund] = await refunds_of(services, payment.id)
    assert (refund.amount.amount, refund.reason) == (payment.amount.amount, "booking_cancelled")
    # A second copy of the success (or of the cancellation) opens nothing more.
    await kit.deliver("payment_intent.succeeded", kit.intent(payment))
    await services.bookings.booking_cancelled("evt-3", BookingCancelled(booking))
    assert len(await refunds_of(services, payment.id)) == 1


async def test_a_payment_in_flight_at_cancellation_that_fails_needs_no_refund(
    kit, services
) -> None:
    booking = uuid4()
    payment = await kit.paid("pm_card_authenticationRequired", booking_id=booking)
    await services.bookings.booking_cancelled("evt-2", BookingCancelled(booking))
    await kit.deliver(
        "payment_intent.payment_failed", kit.intent(payment, status="requires_payment_method")
    )
    assert (await services.payments.get(payment.id)).status is PaymentStatus.FAILED
    assert await refunds_of(services, payment.id) == []


async def test_without_auto_refund_a_payment_in_flight_is_not_marked(make_kit) -> None:
    harness = build_in_memory(config=ServiceConfig(auto_refund_on_cancel=False))
    kit = make_kit(harness)
    booking = uuid4()
    payment = await kit.paid("pm_card_authenticationRequired", booking_id=booking)
    await harness.services.bookings.booking_cancelled("e", BookingCancelled(booking))
    await kit.deliver("payment_intent.succeeded", kit.intent(payment))
    completed = await harness.services.payments.get(payment.id)
    assert (completed.status, completed.refund_on_completion) == (PaymentStatus.COMPLETED, False)
    assert await refunds_of(harness.services, payment.id) == []


async def test_booking_created_after_its_cancellation_creates_nothing(
    kit, services, harness
) -> None:
    data = created(method="pm_card_visa")
    await services.bookings.booking_cancelled("evt-cancel", BookingCancelled(data.booking_id))
    handled = await services.bookings.booking_created("evt-create", data)
    assert (handled.duplicate, handled.payments) == (False, ())
    assert await payments_of(services, data.booking_id) == []
    # The intent set up at the provider before the booking was found cancelled is released,
    # and nothing was confirmed.
    assert len(kit.calls("create_payment")) == 1
    assert len(kit.calls("cancel_payment")) == 1
    assert kit.calls("confirm_payment") == []
    assert (BOOKINGS_CONSUMER, "evt-create") in harness.store.inbox
    assert (await services.bookings.booking_created("evt-create", data)).duplicate is True


async def test_a_cancellation_waits_for_a_create_in_progress_and_then_cancels_it(
    kit, services, harness
) -> None:
    """Handled at once (two workers): whichever takes the booking first, nothing is charged."""
    data = created()
    handled_create, _ = await asyncio.gather(
        services.bookings.booking_created("evt-create", data),
        services.bookings.booking_cancelled("evt-cancel", BookingCancelled(data.booking_id)),
    )
    payments = await payments_of(services, data.booking_id)
    assert all(p.status is PaymentStatus.CANCELLED for p in payments)
    assert len(payments) == len(handled_create.payments) <= 1


async def test_a_redelivered_booking_created_releases_the_intent_it_set_up(kit, services) -> None:
    data = created()
    [payment] = (await services.bookings.booking_created("evt-1", data)).payments
    await services.bookings.booking_created("evt-1", data)
    assert len(kit.calls("create_payment")) == 2
    # The second intent is released; the stored payment's is untouched.
    assert len(kit.calls("cancel_payment")) == 1
    assert kit.calls("cancel_payment") != [f"payment-{payment.id}-cancel"]
    assert (await services.payments.get(payment.id)).status is PaymentStatus.PENDING


async def test_booking_cancelled_does_not_refund_when_auto_refund_is_off(make_kit) -> None:
    harness = build_in_memory(config=ServiceConfig(auto_refund_on_cancel=False))
    kit = make_kit(harness)
    booking = uuid4()
    payment = await kit.paid(booking_id=booking)
    pending = await kit.create(booking_id=booking)
    handled = await harness.services.bookings.booking_cancelled("e", BookingCancelled(booking))
    assert handled.refunds == ()
    assert [p.id for p in handled.payments] == [pending.id]
    assert (await harness.services.payments.get(payment.id)).refundable == payment.amount.amount


async def test_a_redelivered_booking_cancelled_is_ignored(kit, services) -> None:
    booking = uuid4()
    await kit.paid(booking_id=booking)
    await services.bookings.booking_cancelled("evt-2", BookingCancelled(booking))
    again = await services.bookings.booking_cancelled("evt-2", BookingCancelled(booking))
    assert (again.duplicate, again.refunds) == (True, ())
    assert len(kit.calls("refund")) == 1


async def test_a_refund_that_fails_on_cancel_is_left_to_the_retry_worker(kit, services) -> None:
    booking = uuid4()
    payment = await kit.paid("pm_card_refundFail", booking_id=booking)
    handled = await services.bookings.booking_cancelled("evt-2", BookingCancelled(booking))
    [refund] = handled.refunds
    assert (refund.status, refund.attempts, refund.payment_id) == (
        RefundStatus.PENDING,
        1,
        payment.id,
    )
    assert refund.next_retry_at is not None


async def test_booking_cancelled_pages_through_many_payments(kit, services) -> None:
    booking = uuid4()
    for _ in range(205):
        await kit.create(booking_id=booking)
    handled = await services.bookings.booking_cancelled("evt-2", BookingCancelled(booking))
    assert len(handled.payments) == 205


async def test_booking_cancelled_for_an_unknown_booking_is_recorded_and_harmless(services) -> None:
    handled = await services.bookings.booking_cancelled("evt-3", BookingCancelled(uuid4()))
    assert (handled.duplicate, handled.payments, handled.refunds) == (False, (), ())


async def test_a_refund_whose_processing_raises_on_cancel_is_kept_for_later(
    kit, services, harness
) -> None:
    booking = uuid4()
    await kit.paid(booking_id=booking)
    # Not one of the three errors a provider adapter may raise: it escapes processing.
    harness.provider.inject_failure("refund", ProviderError())
    handled = await services.bookings.booking_cancelled("evt-2", BookingCancelled(booking))
    [refund] = handled.refunds
    stored = await services.refunds.get(refund.id)
    assert stored.status is RefundStatus.PROCESSING  # the sweep asks the provider later


async def test_redelivery_confirms_a_payment_a_crash_left_pending(services, harness) -> None:
    """The create committed (with its inbox row) but the process died before the confirm."""
    data = created(method="pm_card_visa")
    # Exactly what the handler commits before it confirms.
    stalled = await services.payments.prepare(
        CreatePayment(
            booking_id=data.booking_id,
            guest_id=data.guest_id,
            amount=data.amount,
            currency=data.currency,
            payment_method=data.payment_method,
            metadata={EVENT_ID_METADATA: "evt-crash"},
        )
    )
    async with harness.uow() as uow:
        await uow.inbox.add(BOOKINGS_CONSUMER, "evt-crash")
        await uow.payments.add(stalled)
        await uow.commit()
    handled = await services.bookings.booking_created("evt-crash", data)
    assert handled.duplicate is True
    assert [p.id for p in handled.payments] == [stalled.id]
    [payment] = await payments_of(services, data.booking_id)
    assert payment.status is PaymentStatus.COMPLETED
    assert [c for c, _ in harness.provider.calls].count("confirm_payment") == 1


async def test_redelivery_after_a_complete_handling_confirms_nothing_again(
    services, harness
) -> None:
    data = created(method="pm_card_visa")
    await services.bookings.booking_created("evt-1", data)
    again = await services.bookings.booking_created("evt-1", data)
    assert (again.duplicate, again.payments) == (True, ())
    assert [c for c, _ in harness.provider.calls].count("confirm_payment") == 1

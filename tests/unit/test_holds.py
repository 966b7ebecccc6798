"""Card holds on the harness: authorize, capture (whole or part), release, increase; one
capture per hold whatever the concurrency; unknown outcomes kept and settled by asking."""

from __future__ import annotations

import asyncio
from datetime import timedelta

import pytest
from tests.unit.conftest import Kit, new_uuid

from payment_core import CreatePayment
from payment_core.errors import (
    CaptureExceedsAuthorizedError,
    CaptureInProgressError,
    CardDeclinedError,
    IdempotencyKeyReusedError,
    InvalidTransitionError,
    NotSupportedByProviderError,
    ProviderRejectedError,
    ProviderUnavailableError,
    ValidationError,
)
from payment_core.model.billing import BillingRecordType
from payment_core.model.payment import AMOUNT_MISMATCH, PaymentStatus
from payment_core.ports import CapturePaymentRequest, ProviderCapabilities, ProviderPayment
from payment_core.testing import FakeProvider, build_in_memory

P = PaymentStatus


class CountingObserver:
    """An observer that counts what it is told of (the metrics' stand-in)."""

    def __init__(self) -> None:
        self.mismatches = 0

    def __getattr__(self, name: str) -> object:
        return lambda *args, **kwargs: None

    def amount_mismatch(self, provider: str) -> None:
        self.mismatches += 1


async def test_a_manual_confirm_holds_the_money_and_moves_none(kit: Kit, harness) -> None:
    payment = await kit.hold()
    assert payment.status is P.AUTHORIZED
    assert (payment.amount_capturable, payment.amount_captured, payment.refundable) == (
        10_000,
        0,
        0,
    )
    assert payment.authorization_expires_at == harness.clock.now() + timedelta(days=7)
    assert payment.card is not None
    assert harness.published_types() == ["payment.initiated", "payment.authorized"]
    assert kit.all_records() == []


async def test_a_capture_takes_the_hold_once_with_one_charge_record(kit: Kit, harness) -> None:
    payment = await kit.hold()
    captured = await kit.services.payments.capture(payment.id)
    assert captured.status is P.COMPLETED
    assert (captured.amount_captured, captured.amount_capturable) == (10_000, 0)
    assert captured.authorization_expires_at is None
    [charge] = kit.records(payment.booking_id)
    assert (charge.type, charge.amount) == (BillingRecordType.CHARGE, 10_000)
    assert harness.published_types()[-1] == "payment.completed"
    assert kit.calls("capture_payment") == [f"payment-{payment.id}-capture-10000"]


async def test_a_partial_capture_releases_the_rest_and_refunds_stay_within_it(kit: Kit) -> None:
    payment = await kit.hold()
    captured = await kit.services.payments.capture(payment.id, 6_000)
    assert (captured.amount_captured, captured.refundable) == (6_000, 6_000)
    [charge] = kit.records(payment.booking_id)
    assert charge.amount == 6_000
    with pytest.raises(Exception, match="refundable"):
        await kit.services.refunds.create(payment.id, 6_001)
    refund = await kit.services.refunds.create(payment.id)
    assert refund.amount.amount == 6_000


async def test_capturing_more_than_held_changes_nothing_and_asks_nobody(kit: Kit, harness) -> None:
    payment = await kit.hold()
    with pytest.raises(CaptureExceedsAuthorizedError) as refused:
        await kit.services.payments.capture(payment.id, 10_001)
    assert (refused.value.requested, refused.value.capturable) == (10_001, 10_000)
    after = harness.store.payments[payment.id]
    assert (after.status, after.version, after.amount_capture_pending) == (
        P.AUTHORIZED,
        payment.version,
        0,
    )
    assert kit.calls("capture_payment") == []


@pytest.mark.parametrize("amount", [0, -5])
async def test_a_capture_of_nothing_is_refused(kit: Kit, amount: int) -> None:
    payment = await kit.hold()
    with pytest.raises(ValidationError):
        await kit.services.payments.capture(payment.id, amount)


async def test_capture_and_increase_in_another_state_are_invalid(kit: Kit, harness) -> None:
    pending = await kit.create()
    taken = await kit.paid()
    released = await kit.hold()
    await kit.services.payments.cancel(released.id)
    for payment in (pending, taken, released):
        before = harness.store.payments[payment.id].version
        with pytest.raises(InvalidTransitionError):
            await kit.services.payments.capture(payment.id)
        with pytest.raises(InvalidTransitionError):
            await kit.services.payments.increment_authorization(payment.id, 20_000)
        assert harness.store.payments[payment.id].version == before
    assert kit.calls("capture_payment") == []
    assert kit.calls("increment_authorization") == []


async def test_twenty_concurrent_captures_of_one_hold_capture_once(kit: Kit) -> None:
    payment = await kit.hold()
    results = await asyncio.gather(
        *(kit.services.payments.capture(payment.id, 5_000) for _ in range(20)),
        return_exceptions=True,
    )
    done = [r for r in results if not isinstance(r, BaseException)]
    refused = [r for r in results if isinstance(r, BaseException)]
    assert len(done) == 1
    assert all(isinstance(r, InvalidTransitionError) for r in refused)
    assert len(kit.calls("capture_payment")) == 1
    assert [r.amount for r in kit.records(payment.booking_id)] == [5_000]


async def test_a_capture_racing_a_release_has_one_winner(kit: Kit, harness) -> None:
    for _ in range(10):
        payment = await kit.hold()
        capture, release = await asyncio.gather(
            kit.services.payments.capture(payment.id),
            kit.services.payments.cancel(payment.id),
            return_exceptions=True,
        )
        outcomes = [not isinstance(r, BaseException) for r in (capture, release)]
        assert outcomes.count(True) == 1
        final = harness.store.payments[payment.id]
        assert final.status is (P.COMPLETED if outcomes[0] else P.CANCELLED)
        charges = kit.records(payment.booking_id)
        assert len(charges) == (1 if outcomes[0] else 0)


async def test_a_release_frees_the_hold_at_the_provider(kit: Kit, harness) -> None:
    payment = await kit.hold()
    released = await kit.services.payments.cancel(payment.id)
    assert (released.status, released.amount_capturable) == (P.CANCELLED, 0)
    assert kit.calls("cancel_payment") == [f"payment-{payment.id}-cancel"]
    assert harness.published_types()[-1] == "payment.cancelled"


async def test_an_unknown_capture_outcome_is_kept_and_settled_by_asking(kit: Kit, harness) -> None:
    payment = await kit.hold()
    harness.provider.inject_failure(
        "capture_payment", ProviderUnavailableError(message="timeout"), after_effect=True
    )
    kept = await kit.services.payments.capture(payment.id, 7_000)
    assert (kept.status, kept.amount_capture_pending) == (P.AUTHORIZED, 7_000)
    assert kit.records(payment.booking_id) == []
    # Nothing else may move the hold meanwhile.
    with pytest.raises(CaptureInProgressError):
        await kit.services.payments.capture(payment.id)
    with pytest.raises(CaptureInProgressError):
        await kit.services.payments.cancel(payment.id)
    harness.clock.advance(minutes=5)
    report = await kit.services.reconciliation.sweep()
    assert report.settled == 1
    settled = harness.store.payments[payment.id]
    assert (settled.status, settled.amount_captured) == (P.COMPLETED, 7_000)
    assert [r.amount for r in kit.records(payment.booking_id)] == [7_000]
    assert len(kit.calls("capture_payment")) == 1  # asked, not sent again


async def test_a_capture_that_never_arrived_is_sent_again_under_its_key(kit: Kit, harness) -> None:
    payment = await kit.hold()
    harness.provider.inject_failure("capture_payment", ProviderUnavailableError(message="down"))
    kept = await kit.services.payments.capture(payment.id)
    assert kept.capture_in_flight
    harness.clock.advance(minutes=5)
    await kit.services.reconciliation.sweep()
    assert harness.store.payments[payment.id].status is P.COMPLETED
    keys = kit.calls("capture_payment")
    assert keys == [keys[0], keys[0]]


async def test_a_refused_capture_leaves_the_hold_as_it_was(kit: Kit, harness) -> None:
    payment = await kit.hold()
    harness.provider.inject_failure(
        "capture_payment", ProviderRejectedError(reason_code="x", message="no")
    )
    with pytest.raises(ProviderRejectedError):
        await kit.services.payments.capture(payment.id)
    after = harness.store.payments[payment.id]
    assert (after.status, after.amount_capture_pending, after.reconcile_at) == (
        P.AUTHORIZED,
        0,
        None,
    )
    captured = await kit.services.payments.capture(payment.id)
    assert captured.status is P.COMPLETED


async def test_a_keyed_capture_the_provider_refused_may_be_asked_again(kit: Kit, harness) -> None:
    payment = await kit.hold()
    harness.provider.inject_failure(
        "capture_payment", ProviderRejectedError(reason_code="x", message="no")
    )
    with pytest.raises(ProviderRejectedError):
        await kit.services.payments.capture(payment.id, 3_000, idempotency_key="again")
    captured = await kit.services.payments.capture(payment.id, 3_000, idempotency_key="again")
    assert (captured.status, captured.amount_captured) == (P.COMPLETED, 3_000)


class MisreportingProvider(FakeProvider):
    """Captures the hold, then reports another amount taken."""

    async def capture_payment(self, request: CapturePaymentRequest) -> ProviderPayment:
        reply = await super().capture_payment(request)
        return ProviderPayment(
            provider_payment_id=reply.provider_payment_id,
            status=reply.status,
            amount=reply.amount,
            payment_id=reply.payment_id,
            amount_received=(reply.amount_received or 0) + 1,
        )


async def test_a_capture_reply_for_another_amount_settles_nothing(clock) -> None:
    observer = CountingObserver()
    harness = build_in_memory(
        clock=clock, provider=MisreportingProvider(clock=clock), observer=observer
    )
    kit = Kit(harness)
    payment = await kit.hold()
    kept = await kit.services.payments.capture(payment.id, 5_000)
    assert (kept.status, kept.amount_capture_pending, kept.failure_code) == (
        P.AUTHORIZED,
        5_000,
        AMOUNT_MISMATCH,
    )
    assert observer.mismatches == 1
    assert kit.records(payment.booking_id) == []
    assert "payment.completed" not in harness.published_types()


async def test_an_increase_grows_the_hold_and_a_decline_leaves_it(kit: Kit) -> None:
    payment = await kit.hold()
    raised = await kit.services.payments.increment_authorization(payment.id, 15_000)
    assert (raised.amount.amount, raised.amount_capturable) == (15_000, 15_000)
    assert kit.calls("increment_authorization") == [f"payment-{payment.id}-increment-15000"]
    stubborn = await kit.hold("pm_card_incrementDeclined")
    with pytest.raises(CardDeclinedError) as declined:
        await kit.services.payments.increment_authorization(stubborn.id, 15_000)
    assert declined.value.code == "card_declined"
    after = await kit.services.payments.get(stubborn.id)
    assert (after.amount.amount, after.amount_capturable, after.version) == (
        10_000,
        10_000,
        stubborn.version,
    )


async def test_an_increase_to_no_more_is_refused_before_asking(kit: Kit) -> None:
    payment = await kit.hold()
    for amount in (10_000, 9_000):
        with pytest.raises(ValidationError):
            await kit.services.payments.increment_authorization(payment.id, amount)
    assert kit.calls("increment_authorization") == []


async def test_a_keyed_capture_again_answers_as_it_did(kit: Kit) -> None:
    payment = await kit.hold()
    first = await kit.services.payments.capture(payment.id, 4_000, idempotency_key="k1")
    again = await kit.services.payments.capture(payment.id, 4_000, idempotency_key="k1")
    assert (first.status, again.status, again.amount_captured) == (P.COMPLETED,) * 2 + (4_000,)
    assert len(kit.calls("capture_payment")) == 1
    with pytest.raises(IdempotencyKeyReusedError):
        await kit.services.payments.capture(payment.id, 5_000, idempotency_key="k1")
    with pytest.raises(InvalidTransitionError):
        await kit.services.payments.capture(payment.id, 4_000, idempotency_key="k2")


async def test_a_keyed_increase_again_answers_as_it_did(kit: Kit) -> None:
    payment = await kit.hold()
    await kit.services.payments.increment_authorization(payment.id, 12_000, idempotency_key="i")
    again = await kit.services.payments.increment_authorization(
        payment.id, 12_000, idempotency_key="i"
    )
    assert again.amount.amount == 12_000
    assert len(kit.calls("increment_authorization")) == 1
    with pytest.raises(IdempotencyKeyReusedError):
        await kit.services.payments.increment_authorization(payment.id, 13_000, idempotency_key="i")


async def test_what_a_provider_cannot_do_is_refused_before_anything(clock) -> None:
    limited = FakeProvider(clock=clock, capabilities=ProviderCapabilities(manual_capture=True))
    harness = build_in_memory(clock=clock, provider=limited)
    kit = Kit(harness)
    payment = await kit.hold()
    with pytest.raises(NotSupportedByProviderError) as partial:
        await kit.services.payments.capture(payment.id, 1_000)
    assert partial.value.code == "not_supported_by_provider"
    with pytest.raises(NotSupportedByProviderError):
        await kit.services.payments.increment_authorization(payment.id, 20_000)
    assert kit.calls("capture_payment") == []
    assert kit.calls("increment_authorization") == []
    assert harness.store.payments[payment.id].status is P.AUTHORIZED
    nothing = build_in_memory(
        clock=clock, provider=FakeProvider(clock=clock, capabilities=ProviderCapabilities())
    )
    with pytest.raises(NotSupportedByProviderError):
        await Kit(nothing).hold()
    assert nothing.store.payments == {}
    assert nothing.provider.calls == []


async def test_a_hold_placed_after_3ds_is_authorized_by_its_webhook(kit: Kit, harness) -> None:
    payment = await kit.hold("pm_card_authenticationRequired")
    assert (payment.status, payment.next_action is not None) == (P.PROCESSING, True)
    result = await kit.deliver(
        "payment_intent.amount_capturable_updated", kit.intent(payment, status="requires_capture")
    )
    assert result.outcome == "settled"
    held = harness.store.payments[payment.id]
    assert (held.status, held.amount_capturable) == (P.AUTHORIZED, 10_000)


async def test_a_hold_the_provider_let_go_is_expired_by_its_webhook(kit: Kit, harness) -> None:
    payment = await kit.hold()
    await kit.deliver("payment_intent.canceled", kit.intent(payment, status="canceled"))
    assert harness.store.payments[payment.id].status is P.EXPIRED
    assert harness.published_types()[-1] == "payment.expired"


async def test_a_timed_out_manual_confirm_is_authorized_by_reconciliation(
    kit: Kit, harness
) -> None:
    payment = await kit.hold("pm_card_timeout")
    assert payment.status is P.PROCESSING
    harness.clock.advance(minutes=5)
    await kit.services.reconciliation.sweep()
    assert harness.store.payments[payment.id].status is P.AUTHORIZED


async def test_a_hold_on_a_new_payment_reads_the_command(kit: Kit) -> None:
    payment = await kit.services.payments.create(
        CreatePayment(
            booking_id=new_uuid(),
            guest_id=new_uuid(),
            amount=500,
            currency="EUR",
            capture_method="manual",
        )
    )
    assert (payment.status, payment.capture_method.value) == (P.PENDING, "manual")
    held = await kit.services.payments.confirm(payment.id, "pm_card_mastercard")
    assert held.status is P.AUTHORIZED


async def test_a_cancelled_booking_releases_its_hold(kit: Kit, harness) -> None:
    from payment_core.services import BookingCancelled  # noqa: PLC0415

    payment = await kit.hold()
    await kit.services.bookings.booking_cancelled(
        "evt-cancel-1", BookingCancelled(booking_id=payment.booking_id)
    )
    released = harness.store.payments[payment.id]
    assert (released.status, released.amount_capturable) == (P.CANCELLED, 0)
    assert kit.calls("cancel_payment") == [f"payment-{payment.id}-cancel"]
    assert kit.all_records() == []


async def test_a_hold_being_captured_when_its_booking_is_cancelled_is_refunded(
    kit: Kit, harness
) -> None:
    from payment_core.services import BookingCancelled  # noqa: PLC0415

    payment = await kit.hold()
    harness.provider.inject_failure(
        "capture_payment", ProviderUnavailableError(message="timeout"), after_effect=True
    )
    await kit.services.payments.capture(payment.id)
    await kit.services.bookings.booking_cancelled(
        "evt-cancel-2", BookingCancelled(booking_id=payment.booking_id)
    )
    assert harness.store.payments[payment.id].capture_in_flight  # not released under it
    harness.clock.advance(minutes=5)
    await kit.services.reconciliation.sweep()
    completed = harness.store.payments[payment.id]
    assert completed.status is P.COMPLETED
    [refund] = harness.store.refunds.values()
    assert (refund.amount.amount, refund.reason) == (10_000, "booking_cancelled")

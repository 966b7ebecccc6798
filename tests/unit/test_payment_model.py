"""The Payment aggregate: creation, refund bookkeeping and the fields a provider sets."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from uuid import UUID

import pytest

from payment_core import (
    Card,
    Currency,
    Money,
    NextAction,
    Payment,
    PaymentCompleted,
    PaymentInitiated,
    PaymentStatus,
)
from payment_core.errors import (
    CurrencyMismatchError,
    InvalidTransitionError,
    RefundExceedsRefundableError,
    ValidationError,
)
from payment_core.model.payment import AMOUNT_MISMATCH

NOW = datetime(2026, 5, 1, 8, 0, tzinfo=UTC)
LATER = NOW + timedelta(seconds=30)
EUR = Currency.of("EUR")
USD = Currency.of("USD")


def eur(amount: int) -> Money:
    return Money(amount, EUR)


def new_payment(amount: int = 10_000, **kwargs: object) -> Payment:
    return Payment.initiate(
        id=UUID(int=1),
        reference="pay_x",
        booking_id=UUID(int=2),
        guest_id=UUID(int=3),
        amount=eur(amount),
        provider="fake",
        now=NOW,
        event_id=UUID(int=4),
        **kwargs,  # type: ignore[arg-type]
    )


def completed(amount: int = 10_000) -> Payment:
    payment = new_payment(amount)
    payment.start_processing(
        now=NOW, payment_method="pm_card_visa", reconcile_after=timedelta(minutes=5)
    )
    payment.complete(now=NOW, event_id=UUID(int=5), card=Card("visa", "4242", 12, 2034))
    return payment


def test_initiate_makes_a_pending_payment_with_its_initiated_event() -> None:
    payment = new_payment(metadata={"k": "v"})
    assert payment.status is PaymentStatus.PENDING
    assert (payment.created_at, payment.updated_at) == (NOW, NOW)
    assert payment.metadata == {"k": "v"}
    [event] = payment.events
    assert isinstance(event, PaymentInitiated)
    assert (event.event_id, event.occurred_at, event.stream_id) == (UUID(int=4), NOW, payment.id)
    assert event.payment.status is PaymentStatus.PENDING


def test_the_event_snapshot_does_not_follow_later_changes() -> None:
    payment = new_payment()
    snapshot = payment.events[0].payment
    payment.start_processing(now=LATER, payment_method="pm", reconcile_after=timedelta(1))
    assert snapshot.status is PaymentStatus.PENDING
    assert snapshot.events == []


def test_a_zero_amount_payment_is_refused() -> None:
    with pytest.raises(ValidationError) as caught:
        new_payment(0)
    assert caught.value.field == "amount"


def test_start_processing_sets_the_method_and_the_first_reconciliation_time() -> None:
    payment = new_payment()
    payment.start_processing(
        now=LATER, payment_method="pm_card_visa", reconcile_after=timedelta(minutes=5)
    )
    assert payment.payment_method == "pm_card_visa"
    assert payment.reconcile_at == LATER + timedelta(minutes=5)
    assert payment.reconcile_attempts == 0


def test_complete_records_the_card_and_clears_failure_and_reconciliation() -> None:
    payment = new_payment()
    payment.start_processing(now=NOW, payment_method="pm", reconcile_after=timedelta(1))
    payment.flag_amount_mismatch(now=NOW, message="differs")
    payment.complete(now=LATER, event_id=UUID(int=9), card=Card("visa", "4242"))
    assert payment.card == Card("visa", "4242")
    assert (payment.failure_code, payment.failure_message, payment.reconcile_at) == (
        None,
        None,
        None,
    )
    assert isinstance(payment.events[-1], PaymentCompleted)


def test_complete_without_a_card_keeps_the_known_one() -> None:
    payment = new_payment()
    payment.start_processing(now=NOW, payment_method="pm", reconcile_after=timedelta(1))
    payment.attach_card(now=NOW, card=Card("visa", "3184"))
    payment.complete(now=LATER, event_id=UUID(int=9), card=None)
    assert payment.card == Card("visa", "3184")


def test_fail_records_code_message_and_card() -> None:
    payment = new_payment()
    payment.start_processing(now=NOW, payment_method="pm", reconcile_after=timedelta(1))
    payment.fail(
        now=LATER, event_id=UUID(int=9), code="card_declined", message="no", card=Card("v", "0002")
    )
    assert (payment.status, payment.failure_code, payment.failure_message) == (
        PaymentStatus.FAILED,
        "card_declined",
        "no",
    )
    assert payment.card == Card("v", "0002")
    assert payment.is_settled


@pytest.mark.parametrize(
    "action",
    [
        lambda p: p.require_action(now=LATER, next_action=NextAction("redirect", "https://x")),
        lambda p: p.flag_amount_mismatch(now=LATER, message="differs"),
        lambda p: p.schedule_reconciliation(now=LATER, after=timedelta(minutes=5)),
    ],
    ids=["require_action", "flag_amount_mismatch", "schedule_reconciliation"],
)
def test_processing_only_actions_refuse_a_pending_payment(action) -> None:
    payment = new_payment()
    with pytest.raises(InvalidTransitionError) as caught:
        action(payment)
    assert caught.value.current == "PENDING"
    assert caught.value.requested == "PROCESSING"


def test_amount_mismatch_keeps_processing_with_the_contracts_failure_code() -> None:
    payment = new_payment()
    payment.start_processing(now=NOW, payment_method="pm", reconcile_after=timedelta(1))
    payment.flag_amount_mismatch(now=LATER, message="differs")
    assert payment.status is PaymentStatus.PROCESSING
    assert payment.failure_code == AMOUNT_MISMATCH == "provider_amount_mismatch"


def test_schedule_reconciliation_counts_attempts() -> None:
    payment = new_payment()
    payment.start_processing(now=NOW, payment_method="pm", reconcile_after=timedelta(1))
    payment.schedule_reconciliation(now=LATER, after=timedelta(hours=1))
    assert payment.reconcile_attempts == 1
    assert payment.reconcile_at == LATER + timedelta(hours=1)


def test_card_last4_must_be_four_digits() -> None:
    with pytest.raises(ValidationError) as caught:
        Card("visa", "42")
    assert caught.value.field == "card.last4"


# ---------------------------------------------------------------------------- refund bookkeeping


def test_refundable_is_the_amount_before_any_refund() -> None:
    assert completed(10_000).refundable == 10_000


def test_reserve_holds_the_amount_and_lowers_refundable() -> None:
    payment = completed(10_000)
    payment.reserve_refund(now=LATER, amount=eur(3_000))
    assert (payment.amount_refund_pending, payment.refundable) == (3_000, 7_000)
    assert payment.updated_at == LATER


def test_settle_moves_the_held_amount_to_refunded() -> None:
    payment = completed(10_000)
    payment.reserve_refund(now=NOW, amount=eur(3_000))
    payment.settle_refund(now=LATER, amount=eur(3_000))
    assert (payment.amount_refunded, payment.amount_refund_pending) == (3_000, 0)
    assert payment.refundable == 7_000


def test_release_gives_the_held_amount_back() -> None:
    payment = completed(10_000)
    payment.reserve_refund(now=NOW, amount=eur(3_000))
    payment.release_refund(now=LATER, amount=eur(3_000))
    assert (payment.amount_refunded, payment.amount_refund_pending, payment.refundable) == (
        0,
        0,
        10_000,
    )


def test_reverse_gives_a_refunded_amount_back_to_the_remainder() -> None:
    payment = completed(10_000)
    payment.reserve_refund(now=NOW, amount=eur(4_000))
    payment.settle_refund(now=NOW, amount=eur(4_000))
    payment.reverse_refund(now=LATER, amount=eur(4_000))
    assert (payment.amount_refunded, payment.refundable) == (0, 10_000)


def test_reserving_more_than_refundable_raises_with_the_facts() -> None:
    payment = completed(10_000)
    payment.reserve_refund(now=NOW, amount=eur(6_000))
    with pytest.raises(RefundExceedsRefundableError) as caught:
        payment.reserve_refund(now=NOW, amount=eur(4_001))
    assert (caught.value.payment_id, caught.value.requested, caught.value.refundable) == (
        payment.id,
        4_001,
        4_000,
    )
    assert payment.amount_refund_pending == 6_000


def test_reserving_exactly_the_remainder_leaves_zero_refundable() -> None:
    payment = completed(10_000)
    payment.reserve_refund(now=NOW, amount=eur(10_000))
    assert payment.refundable == 0


@pytest.mark.parametrize("amount", [0, -1])
def test_reserving_a_non_positive_amount_is_refused(amount: int) -> None:
    with pytest.raises(ValidationError):
        completed().reserve_refund(now=NOW, amount=eur(amount))


def test_reserving_in_another_currency_is_refused() -> None:
    with pytest.raises(CurrencyMismatchError):
        completed().reserve_refund(now=NOW, amount=Money(100, USD))


@pytest.mark.parametrize("status", [s for s in PaymentStatus if s is not PaymentStatus.COMPLETED])
def test_only_a_completed_payment_can_hold_a_refund(status: PaymentStatus) -> None:
    payment = new_payment()
    payment.status = status
    with pytest.raises(InvalidTransitionError) as caught:
        payment.reserve_refund(now=NOW, amount=eur(100))
    assert (caught.value.current, caught.value.requested) == (status.value, "REFUNDED")


def test_settling_more_than_is_held_is_refused() -> None:
    payment = completed()
    payment.reserve_refund(now=NOW, amount=eur(100))
    with pytest.raises(ValidationError):
        payment.settle_refund(now=NOW, amount=eur(101))
    assert (payment.amount_refunded, payment.amount_refund_pending) == (0, 100)


def test_releasing_more_than_is_held_is_refused() -> None:
    with pytest.raises(ValidationError):
        completed().release_refund(now=NOW, amount=eur(1))


def test_reversing_more_than_was_refunded_is_refused() -> None:
    with pytest.raises(ValidationError):
        completed().reverse_refund(now=NOW, amount=eur(1))


def test_reversing_in_another_currency_is_refused() -> None:
    payment = completed()
    payment.reserve_refund(now=NOW, amount=eur(100))
    payment.settle_refund(now=NOW, amount=eur(100))
    with pytest.raises(CurrencyMismatchError):
        payment.reverse_refund(now=NOW, amount=Money(100, USD))


def test_refundable_never_goes_below_zero_even_with_inconsistent_counters() -> None:
    payment = completed(1_000)
    # State as a corrupted row could hold it: the property still never reports a negative.
    payment.amount_refunded = 900
    payment.amount_refund_pending = 500
    assert payment.refundable == 0

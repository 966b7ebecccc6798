"""The Refund aggregate: attempts, retry times and the provider idempotency key."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from uuid import UUID

import pytest

from payment_core import (
    Currency,
    Money,
    Refund,
    RefundCompleted,
    RefundFailed,
    RefundInitiated,
    RefundReversed,
    RefundStatus,
)
from payment_core.errors import ValidationError
from payment_core.model.refund import REFUND_REASONS

NOW = datetime(2026, 5, 1, 8, 0, tzinfo=UTC)
EUR = Currency.of("EUR")
REFUND_ID = UUID(int=7)


def new_refund(amount: int = 2_500, reason: str | None = "requested_by_customer") -> Refund:
    return Refund.create(
        id=REFUND_ID,
        reference="re_x",
        payment_id=UUID(int=1),
        booking_id=UUID(int=2),
        guest_id=UUID(int=3),
        amount=Money(amount, EUR),
        provider="fake",
        reason=reason,
        now=NOW,
        event_id=UUID(int=4),
    )


def test_create_makes_a_pending_refund_due_now_with_its_event() -> None:
    refund = new_refund()
    assert refund.status is RefundStatus.PENDING
    assert (refund.attempts, refund.next_retry_at, refund.key_generation) == (0, NOW, 0)
    [event] = refund.events
    assert isinstance(event, RefundInitiated)
    assert event.stream_id == refund.payment_id  # refunds share their payment's stream


def test_a_zero_refund_is_refused() -> None:
    with pytest.raises(ValidationError):
        new_refund(0)


def test_an_unknown_reason_is_refused() -> None:
    with pytest.raises(ValidationError) as caught:
        new_refund(reason="because")
    assert caught.value.field == "reason"


@pytest.mark.parametrize("reason", sorted(REFUND_REASONS))
def test_every_known_reason_is_accepted(reason: str) -> None:
    assert new_refund(reason=reason).reason == reason


def test_each_attempt_counts_and_clears_the_retry_time() -> None:
    refund = new_refund()
    refund.start_attempt(now=NOW)
    assert (refund.status, refund.attempts, refund.next_retry_at) == (
        RefundStatus.PROCESSING,
        1,
        None,
    )


def test_retry_later_sets_next_retry_at_and_the_last_error() -> None:
    refund = new_refund()
    refund.start_attempt(now=NOW)
    at = NOW + timedelta(seconds=2)
    refund.retry_later(now=NOW, at=at, error="card_declined", definite=True)
    assert (refund.status, refund.next_retry_at, refund.last_error) == (
        RefundStatus.PENDING,
        at,
        "card_declined",
    )


def test_the_provider_key_is_derived_from_the_refund_id() -> None:
    assert new_refund().provider_idempotency_key == f"refund-{REFUND_ID}-0"


def test_an_unknown_outcome_keeps_the_same_provider_key() -> None:
    refund = new_refund()
    key = refund.provider_idempotency_key
    refund.start_attempt(now=NOW)
    refund.retry_later(now=NOW, at=NOW, error="timeout", definite=False)
    assert refund.provider_idempotency_key == key
    assert refund.key_generation == 0


def test_a_definite_failure_moves_to_a_new_provider_key() -> None:
    refund = new_refund()
    key = refund.provider_idempotency_key
    refund.start_attempt(now=NOW)
    refund.retry_later(now=NOW, at=NOW, error="declined", definite=True)
    assert refund.provider_idempotency_key != key
    assert refund.provider_idempotency_key == f"refund-{REFUND_ID}-1"


def test_complete_keeps_the_provider_refund_id_and_clears_the_last_error() -> None:
    refund = new_refund()
    refund.start_attempt(now=NOW)
    refund.retry_later(now=NOW, at=NOW, error="timeout", definite=False)
    refund.start_attempt(now=NOW)
    refund.complete(now=NOW, event_id=UUID(int=9), provider_refund_id="re_fake_1")
    assert (refund.status, refund.provider_refund_id, refund.last_error) == (
        RefundStatus.COMPLETED,
        "re_fake_1",
        None,
    )
    assert isinstance(refund.events[-1], RefundCompleted)


def test_fail_records_the_reason_and_emits_refund_failed() -> None:
    refund = new_refund()
    refund.start_attempt(now=NOW)
    refund.fail(now=NOW, event_id=UUID(int=9), reason="retries_exhausted")
    assert (refund.status, refund.failure_reason, refund.next_retry_at) == (
        RefundStatus.FAILED,
        "retries_exhausted",
        None,
    )
    assert isinstance(refund.events[-1], RefundFailed)


def test_reverse_emits_refund_reversed_then_refund_failed() -> None:
    refund = new_refund()
    refund.start_attempt(now=NOW)
    refund.complete(now=NOW, event_id=UUID(int=9), provider_refund_id=None)
    refund.events.clear()
    refund.reverse(now=NOW, event_id=UUID(int=10), failed_event_id=UUID(int=11), reason="late")
    assert [type(e) for e in refund.events] == [RefundReversed, RefundFailed]
    assert [e.event_id for e in refund.events] == [UUID(int=10), UUID(int=11)]
    assert (refund.status, refund.failure_reason) == (RefundStatus.FAILED, "late")

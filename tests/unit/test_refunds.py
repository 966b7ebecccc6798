"""Refund use cases: amounts, the refundable limit, processing, retries and provider keys."""

from __future__ import annotations

import asyncio
from datetime import timedelta
from uuid import uuid4

import pytest

from payment_core import (
    BillingRecordType,
    PaymentStatus,
    RefundStatus,
    ServiceConfig,
)
from payment_core.errors import (
    InvalidTransitionError,
    NotFoundError,
    ProviderRejectedError,
    ProviderUnavailableError,
    RefundExceedsRefundableError,
    ValidationError,
)
from payment_core.money import Money
from payment_core.pagination import PageRequest
from payment_core.ports import ProviderRefund, ProviderRefundStatus, RefundRequest
from payment_core.services.retry import RetryPolicy
from payment_core.testing import FakeProvider, SettableClock, build_in_memory

# ---------------------------------------------------------------------------- amounts and limits


async def test_a_refund_defaults_to_the_whole_refundable_remainder(kit, services) -> None:
    payment = await kit.paid(amount=10_000)
    await services.refunds.create(payment.id, 3_000)
    refund = await services.refunds.create(payment.id)
    assert refund.amount == Money.of(7_000, "EUR")
    assert (await services.payments.get(payment.id)).refundable == 0


async def test_a_partial_refund_completes_and_is_recorded(kit, services) -> None:
    payment = await kit.paid(amount=10_000)
    refund = await services.refunds.create(payment.id, 2_500, "requested_by_customer")
    assert refund.status is RefundStatus.COMPLETED
    assert refund.provider_refund_id == f"re_fake_{refund.id.hex}"
    assert (refund.attempts, refund.reason) == (1, "requested_by_customer")
    stored = await services.payments.get(payment.id)
    assert (stored.amount_refunded, stored.refundable, stored.status) == (
        2_500,
        7_500,
        PaymentStatus.COMPLETED,
    )
    _, refunded = kit.records(payment.booking_id)
    assert (refunded.type, refunded.amount, refunded.refund_id) == (
        BillingRecordType.REFUND,
        2_500,
        refund.id,
    )


async def test_refund_events_follow_the_payments_in_order(kit, services, harness) -> None:
    payment = await kit.paid()
    await services.refunds.create(payment.id, 100)
    assert harness.published_types() == [
        "payment.initiated",
        "payment.completed",
        "refund.initiated",
        "refund.completed",
    ]


async def test_a_refund_above_the_remainder_raises_with_the_facts(kit, services, harness) -> None:
    payment = await kit.paid(amount=10_000)
    await services.refunds.create(payment.id, 6_000)
    with pytest.raises(RefundExceedsRefundableError) as caught:
        await services.refunds.create(payment.id, 4_001)
    assert (caught.value.requested, caught.value.refundable) == (4_001, 4_000)
    assert len(harness.store.refunds) == 1


async def test_a_fully_refunded_payment_refuses_another_default_refund(kit, services) -> None:
    payment = await kit.paid(amount=1_000)
    await services.refunds.create(payment.id)
    with pytest.raises(RefundExceedsRefundableError) as caught:
        await services.refunds.create(payment.id)
    assert (caught.value.requested, caught.value.refundable) == (0, 0)


@pytest.mark.parametrize("amount", [0, -100, 10.5, True, "100"])
async def test_a_bad_refund_amount_is_refused(kit, services, amount: object) -> None:
    payment = await kit.paid()
    with pytest.raises(ValidationError) as caught:
        await services.refunds.create(payment.id, amount)  # type: ignore[arg-type]
    assert caught.value.field == "amount"


async def test_an_unknown_reason_is_refused_and_holds_nothing(kit, services) -> None:
    payment = await kit.paid()
    with pytest.raises(ValidationError):
        await services.refunds.create(payment.id, 100, "because")
    assert (await services.payments.get(payment.id)).refundable == payment.amount.amount


@pytest.mark.parametrize(
    "token", [None, "pm_card_chargeDeclined", "pm_card_timeout", "pm_card_authenticationRequired"]
)
async def test_only_a_completed_payment_can_be_refunded(kit, services, token: str | None) -> None:
    payment = await (kit.create() if token is None else kit.paid(token))
    for amount in (None, 100):
        with pytest.raises(InvalidTransitionError) as caught:
            await services.refunds.create(payment.id, amount)
        assert (caught.value.entity, caught.value.current) == ("payment", payment.status.value)


async def test_a_cancelled_payment_cannot_be_refunded(kit, services) -> None:
    payment = await kit.create()
    await services.payments.cancel(payment.id)
    with pytest.raises(InvalidTransitionError):
        await services.refunds.create(payment.id)


async def test_refunding_an_unknown_payment_is_not_found(services) -> None:
    with pytest.raises(NotFoundError):
        await services.refunds.create(uuid4(), 100)


async def test_concurrent_refunds_never_exceed_the_payment(kit, services) -> None:
    payment = await kit.paid(amount=10_000)
    results = await asyncio.gather(
        *(services.refunds.create(payment.id, 3_000) for _ in range(10)), return_exceptions=True
    )
    made = [r for r in results if not isinstance(r, BaseException)]
    refused = [r for r in results if isinstance(r, RefundExceedsRefundableError)]
    assert (len(made), len(refused)) == (3, 7)
    stored = await services.payments.get(payment.id)
    assert (stored.amount_refunded, stored.refundable) == (9_000, 1_000)


# ---------------------------------------------------------------------------- processing


@pytest.fixture
def deferred() -> ServiceConfig:
    return ServiceConfig(process_refunds_immediately=False)


async def test_without_immediate_processing_a_new_refund_waits_pending(make_kit, deferred) -> None:
    harness = build_in_memory(config=deferred)
    services = harness.services
    payment = await make_kit(harness).paid()
    refund = await services.refunds.create(payment.id, 500)
    assert (refund.status, refund.attempts, refund.next_retry_at) == (
        RefundStatus.PENDING,
        0,
        harness.clock.now(),
    )
    assert (await services.payments.get(payment.id)).refundable == payment.amount.amount - 500
    processed = await services.refunds.process(refund.id)
    assert processed.status is RefundStatus.COMPLETED


async def test_processing_a_completed_refund_returns_it_as_it_is(kit, services) -> None:
    payment = await kit.paid()
    refund = await services.refunds.create(payment.id, 100)
    again = await services.refunds.process(refund.id)
    assert (again.status, again.attempts, again.version) == (
        RefundStatus.COMPLETED,
        refund.attempts,
        refund.version,
    )
    assert len(kit.calls("refund")) == 1


async def test_processing_a_failed_refund_is_an_invalid_transition(kit, services) -> None:
    payment = await kit.paid()
    refund = await services.refunds.create(payment.id, 100)
    await services.refunds.reverse(refund.id, "late failure")
    with pytest.raises(InvalidTransitionError) as caught:
        await services.refunds.process(refund.id)
    assert (caught.value.entity, caught.value.current, caught.value.requested) == (
        "refund",
        "FAILED",
        "PROCESSING",
    )


async def test_processing_an_unknown_refund_is_not_found(services) -> None:
    with pytest.raises(NotFoundError):
        await services.refunds.process(uuid4())


async def test_a_refund_is_found_by_id_reference_and_payment(kit, services) -> None:
    payment = await kit.paid()
    first = await services.refunds.create(payment.id, 100)
    second = await services.refunds.create(payment.id, 200)
    assert (await services.refunds.get(first.id)).amount.amount == 100
    assert (await services.refunds.get_by_reference(second.reference)).id == second.id
    page = await services.refunds.list_by_payment(payment.id, PageRequest())
    assert [r.id for r in page.items] == [first.id, second.id]


async def test_an_unknown_refund_reference_or_payment_is_not_found(services) -> None:
    with pytest.raises(NotFoundError):
        await services.refunds.get_by_reference("re_" + "0" * 26)
    with pytest.raises(NotFoundError):
        await services.refunds.list_by_payment(uuid4(), PageRequest())
    with pytest.raises(NotFoundError):
        await services.refunds.get(uuid4())


# ---------------------------------------------------------------------------- retries


async def test_a_declined_attempt_is_retried_after_the_backoff(kit, services, clock) -> None:
    payment = await kit.paid("pm_card_refundFail")
    refund = await services.refunds.create(payment.id, 1_000)
    # randbelow is pinned to 0: the wait is half the ceiling of 2 s after the first attempt.
    assert (refund.status, refund.attempts, refund.last_error) == (
        RefundStatus.PENDING,
        1,
        "refund_failed",
    )
    assert refund.next_retry_at == clock.now() + timedelta(seconds=1)


async def test_backoff_doubles_after_each_failed_attempt(kit, services, clock) -> None:
    payment = await kit.paid("pm_card_refundFail")
    refund = await services.refunds.create(payment.id, 1_000)
    waits = []
    for _ in range(4):
        assert refund.next_retry_at is not None
        waits.append(refund.next_retry_at - clock.now())
        clock.set(refund.next_retry_at)
        assert await services.refunds.process_due() == 1
        refund = await services.refunds.get(refund.id)
    assert waits == [timedelta(seconds=s) for s in (1, 2, 4, 8)]


async def test_a_refund_is_not_retried_before_it_is_due(kit, services, clock) -> None:
    payment = await kit.paid("pm_card_refundFail")
    refund = await services.refunds.create(payment.id, 1_000)
    clock.advance(milliseconds=999)
    assert await services.refunds.process_due() == 0
    assert (await services.refunds.get(refund.id)).attempts == 1


async def test_jitter_comes_from_the_injected_random_source(make_kit) -> None:
    clock = SettableClock()
    harness = build_in_memory(clock=clock, randbelow=lambda n: n - 1)
    payment = await make_kit(harness).paid("pm_card_refundFail")
    refund = await harness.services.refunds.create(payment.id, 100)
    # randbelow(n) = n - 1: the longest wait, the full 2 s ceiling.
    assert refund.next_retry_at == clock.now() + timedelta(seconds=2)


async def test_retries_stop_failed_after_max_attempts_and_release_the_amount(
    kit, services, clock, harness
) -> None:
    payment = await kit.paid("pm_card_refundFail", amount=10_000)
    refund = await services.refunds.create(payment.id, 4_000)
    while refund.status is RefundStatus.PENDING:
        assert refund.next_retry_at is not None
        clock.set(refund.next_retry_at)
        await services.refunds.process_due()
        refund = await services.refunds.get(refund.id)
    assert (refund.status, refund.attempts, refund.failure_reason) == (
        RefundStatus.FAILED,
        RetryPolicy().max_attempts,
        "refund_failed",
    )
    assert refund.next_retry_at is None
    stored = await services.payments.get(payment.id)
    assert (stored.refundable, stored.amount_refunded, stored.amount_refund_pending) == (
        10_000,
        0,
        0,
    )
    assert harness.published_types()[-2:] == ["refund.initiated", "refund.failed"]
    assert [r.type for r in kit.records(payment.booking_id)] == [BillingRecordType.CHARGE]


async def test_each_definite_failure_retries_with_a_new_provider_key(kit, services, clock) -> None:
    payment = await kit.paid("pm_card_refundFail")
    refund = await services.refunds.create(payment.id, 100)
    for _ in range(2):
        assert refund.next_retry_at is not None
        clock.set(refund.next_retry_at)
        await services.refunds.process_due()
        refund = await services.refunds.get(refund.id)
    assert kit.calls("refund") == [f"refund-{refund.id}-{n}" for n in range(3)]


async def test_an_unknown_outcome_retries_with_the_same_key_and_refunds_once(
    kit, services, clock, harness
) -> None:
    payment = await kit.paid()
    # The provider refunds, but its answer is lost on the way back (a timeout).
    harness.provider.inject_failure(
        "refund", ProviderUnavailableError(message="timeout"), after_effect=True
    )
    refund = await services.refunds.create(payment.id, 700)
    assert (refund.status, refund.last_error) == (RefundStatus.PENDING, "unavailable: timeout")
    assert refund.next_retry_at is not None
    clock.set(refund.next_retry_at)
    await services.refunds.process_due()
    refund = await services.refunds.get(refund.id)
    assert refund.status is RefundStatus.COMPLETED
    assert kit.calls("refund") == [f"refund-{refund.id}-0"] * 2
    [made] = harness.provider.refunds_made(refund.id)  # the provider refunded exactly once
    assert made.amount.amount == 700
    assert (await services.payments.get(payment.id)).amount_refunded == 700


async def test_a_rejected_refund_fails_at_once_without_retries(kit, services, harness) -> None:
    payment = await kit.paid()
    harness.provider.inject_failure(
        "refund", ProviderRejectedError(reason_code="charge_disputed", message="no")
    )
    refund = await services.refunds.create(payment.id, 100)
    assert (refund.status, refund.failure_reason, refund.attempts) == (
        RefundStatus.FAILED,
        "charge_disputed",
        1,
    )
    assert (await services.payments.get(payment.id)).refundable == payment.amount.amount


async def test_unknown_outcomes_to_the_last_attempt_leave_it_processing_for_reconciliation(
    kit, services, clock, harness
) -> None:
    payment = await kit.paid()
    harness.provider.inject_failure("refund", ProviderUnavailableError(message="down"), times=8)
    refund = await services.refunds.create(payment.id, 100)
    while refund.status is RefundStatus.PENDING:
        assert refund.next_retry_at is not None
        clock.set(refund.next_retry_at)
        await services.refunds.process_due()
        refund = await services.refunds.get(refund.id)
    # Never guessed to have failed: it stays in flight with the same key.
    assert (refund.status, refund.attempts, refund.failure_reason) == (
        RefundStatus.PROCESSING,
        8,
        None,
    )
    assert set(kit.calls("refund")) == {f"refund-{refund.id}-0"}
    assert (await services.refunds.process(refund.id)).status is RefundStatus.PROCESSING
    clock.advance(minutes=6)
    report = await services.reconciliation.sweep()
    assert (report.examined, report.settled) == (1, 1)
    assert (await services.refunds.get(refund.id)).status is RefundStatus.COMPLETED
    assert kit.calls("retrieve_refund") == [f"refund-{refund.id}-0"]


async def test_process_due_takes_at_most_the_limit(kit, services, clock) -> None:
    for _ in range(3):
        payment = await kit.paid("pm_card_refundFail")
        await services.refunds.create(payment.id, 100)
    clock.advance(seconds=1)
    assert await services.refunds.process_due(limit=2) == 2
    assert await services.refunds.process_due(limit=2) == 1


class PendingThenFakeProvider(FakeProvider):
    """A provider that accepts refunds as pending (its webhook says how they end)."""

    async def refund(self, request: RefundRequest) -> ProviderRefund:
        done = await super().refund(request)
        return ProviderRefund(done.provider_refund_id, ProviderRefundStatus.PENDING, done.amount)


async def test_a_pending_provider_refund_stays_processing_until_its_webhook(make_kit) -> None:
    harness = build_in_memory(provider=PendingThenFakeProvider())
    kit = make_kit(harness)
    payment = await kit.paid()
    refund = await harness.services.refunds.create(payment.id, 300)
    assert (refund.status, refund.provider_refund_id) == (
        RefundStatus.PROCESSING,
        f"re_fake_{refund.id.hex}",
    )
    assert (await harness.services.payments.get(payment.id)).amount_refunded == 0
    result = await kit.deliver(
        "refund.updated",
        {
            "id": refund.provider_refund_id,
            "object": "refund",
            "status": "succeeded",
            "amount": 300,
            "currency": "eur",
            "payment_intent": payment.provider_payment_id,
        },
    )
    assert result.outcome == "settled"
    assert (await harness.services.refunds.get(refund.id)).status is RefundStatus.COMPLETED
    assert (await harness.services.payments.get(payment.id)).amount_refunded == 300


class OtherAmountFakeProvider(FakeProvider):
    """A provider whose refund replies carry another amount than was asked."""

    async def refund(self, request: RefundRequest) -> ProviderRefund:
        done = await super().refund(request)
        return ProviderRefund(
            done.provider_refund_id,
            done.status,
            Money(done.amount.amount + 1, done.amount.currency),
        )


async def test_a_refund_reply_with_another_amount_never_completes_it(make_kit) -> None:
    harness = build_in_memory(provider=OtherAmountFakeProvider())
    payment = await make_kit(harness).paid()
    refund = await harness.services.refunds.create(payment.id, 300)
    assert (refund.status, refund.last_error) == (
        RefundStatus.PROCESSING,
        "provider_amount_mismatch",
    )
    assert (await harness.services.payments.get(payment.id)).amount_refunded == 0

"""Payment plans on the harness: the deposit at once, the balance at its local midnight, retries
and default, cancellations by tier with their refunds, no-shows, crashes taken over."""

from __future__ import annotations

import asyncio
from datetime import UTC, date, datetime, timedelta

import pytest
from tests.unit.conftest import new_uuid

from payment_core.errors import (
    IdempotencyKeyReusedError,
    InvalidTransitionError,
    ProviderUnavailableError,
)
from payment_core.model.payment import PaymentStatus
from payment_core.model.plan import InstallmentStatus as I
from payment_core.model.plan import PlanStatus
from payment_core.model.refund import RefundStatus
from payment_core.plan_errors import (
    CancellationTiersDuplicatedError,
    CancellationTiersUnorderedError,
    CheckInInPastError,
    InvalidBasisPointsError,
    PlanTotalOutOfRangeError,
    UnknownTimeZoneError,
)
from payment_core.services import CreatePaymentPlan, Policy, ServiceConfig, Tier
from payment_core.services._plan_charging import attempt_payment_id
from payment_core.testing import Harness, SettableClock, build_in_memory

START = datetime(2026, 12, 6, 8, 0, tzinfo=UTC)
CHECK_IN = date(2027, 3, 10)
#: 00:00 in Lisbon (UTC in winter) fourteen days before check-in.
BALANCE_DUE = datetime(2027, 2, 24, tzinfo=UTC)
TIERS = (Tier(30, 10_000), Tier(7, 5_000))


@pytest.fixture
def harness() -> Harness:
    return build_in_memory(clock=SettableClock(START), randbelow=lambda n: 0)


def command(**overrides: object) -> CreatePaymentPlan:
    values: dict[str, object] = {
        "booking_id": new_uuid(),
        "guest_id": new_uuid(),
        "currency": "EUR",
        "total_amount": 100_000,
        "check_in": CHECK_IN,
        "time_zone": "Europe/Lisbon",
        "deposit_bps": 3000,
        "balance_due_days_before_check_in": 14,
        "payment_method": "pm_card_visa",
        "cancellation_policy": Policy(TIERS, 10_000),
    }
    values.update(overrides)
    return CreatePaymentPlan(**values)  # type: ignore[arg-type]


async def test_deposit_charged_at_once_and_balance_at_fourteen_days(harness: Harness) -> None:
    plans = harness.services.plans
    plan = await plans.create(command())
    assert plan.status is PlanStatus.ACTIVE
    deposit, balance = plan.installments
    assert (deposit.status, deposit.amount.amount, deposit.attempts) == (I.PAID, 30_000, 1)
    assert (balance.status, balance.amount.amount, balance.due_at) == (
        I.SCHEDULED,
        70_000,
        BALANCE_DUE,
    )
    assert plan.payment_method_id is not None  # the deposit saved the card
    payment = harness.store.payments[deposit.payment_id]  # type: ignore[index]
    assert (payment.status, payment.amount.amount) == (PaymentStatus.COMPLETED, 30_000)
    # Nothing is due before the balance's moment.
    harness.clock.set(BALANCE_DUE - timedelta(microseconds=1))
    assert (await plans.run_due()).attempted == 0
    harness.clock.set(BALANCE_DUE)
    report = await plans.run_due()
    assert (report.attempted, report.paid) == (1, 1)
    paid = await plans.get(plan.id)
    assert paid.status is PlanStatus.PAID
    assert paid.amount_paid == 100_000
    balance_payment = harness.store.payments[paid.installments[1].payment_id]  # type: ignore[index]
    assert balance_payment.off_session
    assert balance_payment.payment_method_id == plan.payment_method_id
    assert [t for t in harness.published_types() if t.startswith("payment_plan.")] == [
        "payment_plan.created",
        "payment_plan.installment_paid",
        "payment_plan.installment_paid",
        "payment_plan.paid",
    ]


async def test_a_declined_deposit_defaults_the_plan_at_once(harness: Harness) -> None:
    plan = await harness.services.plans.create(command(payment_method="pm_card_chargeDeclined"))
    assert plan.status is PlanStatus.DEFAULTED
    assert plan.installments[0].status is I.FAILED
    assert plan.installments[0].failure_code == "card_declined"
    assert plan.installments[0].next_attempt_at is None
    assert "payment_plan.defaulted" in harness.published_types()
    # Paid by hand with another card: it is saved, and the balance is scheduled again.
    again = await harness.services.plans.pay_installment(
        plan.id, plan.installments[0].id, "pm_card_mastercard"
    )
    assert again.status is PlanStatus.ACTIVE
    assert again.payment_method_id is not None


async def test_a_balance_is_retried_on_the_schedule_then_defaults(harness: Harness) -> None:
    plans = harness.services.plans
    plan = await plans.create(command(payment_method="pm_card_offSessionDeclined"))
    assert plan.installments[0].status is I.PAID  # on-session deposit
    harness.clock.set(BALANCE_DUE)
    await plans.run_due()
    failed = (await plans.get(plan.id)).installments[1]
    assert (failed.status, failed.failure_code, failed.attempts) == (I.FAILED, "card_declined", 1)
    assert failed.next_attempt_at == BALANCE_DUE + timedelta(days=1)
    harness.clock.set(BALANCE_DUE + timedelta(days=1))
    await plans.run_due()
    failed = (await plans.get(plan.id)).installments[1]
    assert failed.next_attempt_at == BALANCE_DUE + timedelta(days=4)
    harness.clock.set(BALANCE_DUE + timedelta(days=4))
    await plans.run_due()
    defaulted = await plans.get(plan.id)
    assert defaulted.status is PlanStatus.DEFAULTED
    assert defaulted.installments[1].attempts == 3
    assert defaulted.installments[1].next_attempt_at is None
    assert harness.published_types().count("payment_plan.installment_failed") == 3
    assert harness.published_types().count("payment_plan.defaulted") == 1
    # Paid by hand, on-session with a new card: PAID again.
    paid = await plans.pay_installment(plan.id, defaulted.installments[1].id, "pm_card_visa")
    assert paid.status is PlanStatus.PAID


async def test_authentication_required_is_not_retried(harness: Harness) -> None:
    plans = harness.services.plans
    plan = await plans.create(command(payment_method="pm_card_offSessionAuthRequired"))
    harness.clock.set(BALANCE_DUE)
    await plans.run_due()
    after = await plans.get(plan.id)
    assert after.status is PlanStatus.DEFAULTED
    assert after.installments[1].failure_code == "authentication_required"
    assert after.installments[1].attempts == 1


@pytest.mark.parametrize(
    ("days_before", "paid_balance", "refund_bps", "refunded"),
    [
        (45, False, 10_000, 30_000),  # 30 days or more: all of the deposit back
        (10, True, 5_000, 50_000),  # 7 to 29 days, paid in full: half back
        (10, False, 5_000, 0),  # half is retained, and only 30 % was paid
        (3, True, 0, 0),  # under 7 days: nothing
    ],
)
async def test_cancellation_refunds_by_tier(
    harness: Harness, days_before: int, paid_balance: bool, refund_bps: int, refunded: int
) -> None:
    plans = harness.services.plans
    plan = await plans.create(command())
    if paid_balance:
        plan = await plans.pay_installment(plan.id, plan.installments[1].id)
    harness.clock.set(datetime(2027, 3, 10, 12, tzinfo=UTC) - timedelta(days=days_before))
    cancelled = await plans.cancel(plan.id, reason="guest is ill")
    assert cancelled.status is PlanStatus.CANCELLED
    decision = cancelled.cancellation
    assert decision is not None
    assert (decision.days_before_check_in, decision.refund_bps, decision.amount_refunded) == (
        days_before,
        refund_bps,
        refunded,
    )
    assert cancelled.amount_refunded == refunded
    refunds = list(harness.store.refunds.values())
    assert sum(r.amount.amount for r in refunds) == refunded
    assert all(r.status is RefundStatus.COMPLETED for r in refunds)
    if refunded == 50_000:
        # Latest first: all from the balance's payment.
        assert {r.payment_id for r in refunds} == {cancelled.installments[1].payment_id}
    assert all(i.status in (I.PAID, I.CANCELLED) for i in cancelled.installments)
    with pytest.raises(InvalidTransitionError):
        await plans.cancel(plan.id)
    # Nothing more is ever charged.
    harness.clock.set(BALANCE_DUE + timedelta(days=30))
    assert (await plans.run_due()).attempted == 0


async def test_a_refund_taken_from_two_payments_latest_first(harness: Harness) -> None:
    plans = harness.services.plans
    plan = await plans.create(command(cancellation_policy=None))  # no policy: everything back
    plan = await plans.pay_installment(plan.id, plan.installments[1].id)
    cancelled = await plans.cancel(plan.id)
    by_payment = {r.payment_id: r.amount.amount for r in harness.store.refunds.values()}
    assert by_payment == {
        cancelled.installments[1].payment_id: 70_000,
        cancelled.installments[0].payment_id: 30_000,
    }


async def test_no_show_charges_the_fee_off_session(harness: Harness) -> None:
    plans = harness.services.plans
    plan = await plans.create(command())
    after = await plans.no_show(plan.id)
    assert after.status is PlanStatus.NO_SHOW
    kinds = [(i.kind.value, i.status, i.amount.amount) for i in after.installments]
    assert kinds == [
        ("DEPOSIT", I.PAID, 30_000),
        ("BALANCE", I.CANCELLED, 70_000),
        ("NO_SHOW_FEE", I.PAID, 70_000),
    ]
    with pytest.raises(InvalidTransitionError):
        await plans.no_show(plan.id)
    with pytest.raises(InvalidTransitionError):
        await plans.cancel(plan.id)


async def test_idempotent_create_returns_the_same_plan(harness: Harness) -> None:
    plans = harness.services.plans
    first = command()
    made = await plans.create(first, idempotency_key="k-1")
    again = await plans.create(first, idempotency_key="k-1")
    assert again.id == made.id
    assert len(harness.store.payment_plans) == 1
    assert len(harness.store.payments) == 1  # the deposit charged once
    with pytest.raises(IdempotencyKeyReusedError):
        await plans.create(command(), idempotency_key="k-1")


@pytest.mark.parametrize(
    ("overrides", "error", "code"),
    [
        ({"time_zone": "Mars/Olympus"}, UnknownTimeZoneError, "unknown_time_zone"),
        ({"check_in": date(2026, 12, 5)}, CheckInInPastError, "check_in_in_past"),
        ({"deposit_bps": 10_001}, InvalidBasisPointsError, "invalid_basis_points"),
        (
            {"cancellation_policy": Policy(TIERS, -1)},
            InvalidBasisPointsError,
            "invalid_basis_points",
        ),
        (
            {"cancellation_policy": Policy((Tier(7, 5000), Tier(30, 10_000)))},
            CancellationTiersUnorderedError,
            None,
        ),
        (
            {"cancellation_policy": Policy((Tier(7, 5000), Tier(7, 4000)))},
            CancellationTiersDuplicatedError,
            None,
        ),
        ({"total_amount": 100_000_000_000}, PlanTotalOutOfRangeError, "amount_out_of_range"),
    ],
)
async def test_bad_inputs_change_nothing(
    harness: Harness, overrides: dict[str, object], error: type[Exception], code: str | None
) -> None:
    with pytest.raises(error) as caught:
        await harness.services.plans.create(command(**overrides))
    if code is not None:
        assert caught.value.code == code  # type: ignore[attr-defined]
    assert harness.store.payment_plans == {}
    assert harness.store.payments == {}
    assert harness.store.outbox == []


async def test_check_in_today_at_the_date_line(harness: Harness) -> None:
    # 12:00Z on 6 December is 02:00 on the 7th in Kiritimati (+14) and 01:00 on the 6th in
    # Pago Pago (-11): check-in on the 6th is today in one, yesterday in the other.
    harness.clock.set(datetime(2026, 12, 6, 12, tzinfo=UTC))
    plans = harness.services.plans
    await plans.create(command(check_in=date(2026, 12, 6), time_zone="Pacific/Pago_Pago"))
    with pytest.raises(CheckInInPastError):
        await plans.create(command(check_in=date(2026, 12, 6), time_zone="Pacific/Kiritimati"))


async def test_several_workers_charge_a_due_balance_once(harness: Harness) -> None:
    plans = harness.services.plans
    made = [await plans.create(command()) for _ in range(5)]
    harness.clock.set(BALANCE_DUE)
    await asyncio.gather(*(plans.run_due() for _ in range(6)))
    balances = [p for p in harness.store.payments.values() if p.off_session]
    assert len(balances) == 5
    statuses = [(await plans.get(p.id)).status for p in made]
    assert statuses == [PlanStatus.PAID] * 5


async def test_an_attempt_whose_worker_died_is_taken_over_and_charged_once(
    harness: Harness,
) -> None:
    plans = harness.services.plans
    plan = await plans.create(command())
    harness.clock.set(BALANCE_DUE)
    # The provider does not answer the balance's confirm: the installment stays PROCESSING.
    harness.provider.inject_failure(
        "confirm_payment", ProviderUnavailableError(message="timeout"), after_effect=True
    )
    await plans.run_due()
    stuck = (await plans.get(plan.id)).installments[1]
    assert stuck.status is I.PROCESSING
    assert stuck.payment_id == attempt_payment_id(stuck.id, 1)
    # Another run before the claim ends leaves it to its holder.
    assert (await plans.run_due()).attempted == 0
    harness.clock.advance(timedelta(seconds=301))
    await plans.run_due()
    after = await plans.get(plan.id)
    assert after.status is PlanStatus.PAID
    assert after.installments[1].attempts == 1
    charged = [p for p in harness.store.payments.values() if p.off_session]
    assert len(charged) == 1
    confirms = [key for op, key in harness.provider.calls if op == "confirm_payment"]
    assert len(set(confirms)) == 2  # the deposit's key and the balance's, asked twice


async def test_retry_schedule_is_configurable() -> None:
    config = ServiceConfig(plan_retry_schedule=(timedelta(hours=1),))
    harness = build_in_memory(clock=SettableClock(START), config=config)
    plans = harness.services.plans
    plan = await plans.create(command(payment_method="pm_card_offSessionDeclined"))
    harness.clock.set(BALANCE_DUE)
    await plans.run_due()
    assert (await plans.get(plan.id)).installments[1].next_attempt_at == BALANCE_DUE + timedelta(
        hours=1
    )
    harness.clock.set(BALANCE_DUE + timedelta(hours=1))
    await plans.run_due()
    assert (await plans.get(plan.id)).status is PlanStatus.DEFAULTED


async def test_a_deposit_in_flight_when_the_plan_is_cancelled_is_refunded_once_paid(
    harness: Harness,
) -> None:
    plans = harness.services.plans
    harness.provider.inject_failure(
        "confirm_payment", ProviderUnavailableError(message="timeout"), after_effect=True
    )
    plan = await plans.create(command())
    assert plan.installments[0].status is I.PROCESSING
    cancelled = await plans.cancel(plan.id)  # 94 days out: everything paid comes back
    assert cancelled.cancellation is not None
    assert cancelled.cancellation.amount_refunded == 0  # nothing was paid yet
    assert cancelled.installments[0].status is I.PROCESSING
    harness.clock.advance(timedelta(seconds=301))
    await plans.run_due()  # its claim ran out: taken over, found paid
    after = await plans.get(plan.id)
    assert after.status is PlanStatus.CANCELLED
    assert after.installments[0].status is I.PAID
    assert after.installments[1].status is I.CANCELLED
    assert after.amount_refunded == 30_000
    assert after.cancellation is not None
    assert after.cancellation.amount_refunded == 30_000
    assert [r.amount.amount for r in harness.store.refunds.values()] == [30_000]
    assert len(harness.store.payments) == 1


async def test_the_harness_moves_to_fourteen_days_before_check_in_in_microseconds() -> None:
    import time  # noqa: PLC0415

    harness = build_in_memory(clock=SettableClock(START))
    plan = await harness.services.plans.create(command())
    started = time.perf_counter_ns()
    after = await harness.days_before_check_in(plan.id, 14)
    elapsed_us = (time.perf_counter_ns() - started) / 1000
    assert harness.clock.now() == BALANCE_DUE  # 00:00 in Lisbon, 24 February
    assert after.status is PlanStatus.PAID
    assert after.installments[1].status is I.PAID
    # In-memory: the move, the loop and the charge take microseconds, not a sleep.
    assert elapsed_us < 50_000, elapsed_us
    # Never backwards: asking for an earlier day leaves the clock where it is.
    await harness.days_before_check_in(plan.id, 30)
    assert harness.clock.now() == BALANCE_DUE


async def test_an_action_run_again_under_its_key_finds_what_it_did(harness: Harness) -> None:
    """As after a crash between the commit and the stored response: the same request again
    answers with what it did, not 409, and does nothing twice."""
    plans = harness.services.plans
    plan = await plans.create(command())
    balance = plan.installments[1].id
    paid = await plans.pay_installment(plan.id, balance, idempotency_key="pay-1")
    again = await plans.pay_installment(plan.id, balance, idempotency_key="pay-1")
    assert again.installments[1] == paid.installments[1]
    assert again.installments[1].attempts == 1
    with pytest.raises(InvalidTransitionError):
        await plans.pay_installment(plan.id, balance, idempotency_key="pay-2")
    cancelled = await plans.cancel(plan.id, idempotency_key="cancel-1")
    assert (await plans.cancel(plan.id, idempotency_key="cancel-1")).cancellation == (
        cancelled.cancellation
    )
    assert len(harness.store.refunds) == 2  # refunded once, from both payments
    with pytest.raises(InvalidTransitionError):
        await plans.cancel(plan.id, idempotency_key="cancel-2")

    other = await plans.create(command())
    shown = await plans.no_show(other.id, idempotency_key="ns-1")
    assert (await plans.no_show(other.id, idempotency_key="ns-1")).installments == (
        shown.installments
    )
    fees = [p for p in harness.store.payments.values() if p.booking_id == other.booking_id]
    assert len(fees) == 2  # the deposit and one fee


async def test_a_charge_in_flight_that_fails_after_the_cancellation_is_cancelled(
    harness: Harness,
) -> None:
    plans = harness.services.plans
    harness.provider.inject_failure(
        "confirm_payment", ProviderUnavailableError(message="timeout"), after_effect=False
    )
    plan = await plans.create(command(payment_method="pm_card_chargeDeclined"))
    assert plan.installments[0].status is I.PROCESSING
    await plans.cancel(plan.id)
    harness.clock.advance(timedelta(seconds=301))
    await plans.run_due()  # taken over: the provider says it was declined
    after = await plans.get(plan.id)
    assert after.status is PlanStatus.CANCELLED
    assert [i.status for i in after.installments] == [I.CANCELLED, I.CANCELLED]
    assert after.installments[0].failure_code == "card_declined"
    assert after.wake_at is None


async def test_no_show_waits_for_a_charge_in_flight(harness: Harness) -> None:
    """The fee is what the policy asks beyond what was paid: not known while a charge is in
    flight, so the no-show is refused (409) rather than charged twice."""
    from payment_core.plan_errors import InstallmentInProgressError  # noqa: PLC0415

    plans = harness.services.plans
    plan = await plans.create(command())
    harness.clock.set(BALANCE_DUE)
    harness.provider.inject_failure(
        "confirm_payment", ProviderUnavailableError(message="timeout"), after_effect=True
    )
    await plans.run_due()
    with pytest.raises(InstallmentInProgressError) as caught:
        await plans.no_show(plan.id)
    assert caught.value.code == "installment_in_progress"
    assert (await plans.get(plan.id)).status is PlanStatus.ACTIVE
    harness.clock.advance(timedelta(seconds=301))
    await plans.run_due()  # the balance settles: paid
    shown = await plans.no_show(plan.id)
    assert shown.status is PlanStatus.NO_SHOW
    assert [i.kind.value for i in shown.installments] == ["DEPOSIT", "BALANCE"]  # no fee left

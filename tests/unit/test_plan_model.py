"""The plan's pure core: schedules from the property's time zone, half-even splits that add
up, cancellation decisions by tier, and the plan's state machine."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta
from uuid import uuid4

import pytest
from hypothesis import given
from hypothesis import strategies as st

from payment_core.errors import InvalidTransitionError, ValidationError
from payment_core.model._cancellation import (
    CancellationPolicy,
    CancellationTier,
    decide_cancellation,
    no_show_fee,
    split_refund,
)
from payment_core.model._plan_schedule import (
    days_until,
    plan_schedule,
    share_of,
    start_of_local_day,
    zone_of,
)
from payment_core.model.plan import (
    Installment,
    InstallmentKind,
    InstallmentStatus,
    PaymentPlan,
    PlanStatus,
)
from payment_core.money import MAX_AMOUNT, Money
from payment_core.plan_errors import (
    CancellationTiersDuplicatedError,
    CancellationTiersUnorderedError,
    DepositTooSmallError,
    InvalidBasisPointsError,
    PlanTotalOutOfRangeError,
    UnknownTimeZoneError,
)

NOW = datetime(2026, 12, 6, 8, 0, tzinfo=UTC)
LISBON = zone_of("Europe/Lisbon")
POLICY = CancellationPolicy(
    tiers=(CancellationTier(30, 10_000), CancellationTier(7, 5_000)), no_show_fee_bps=10_000
)


def schedule(**overrides: object) -> list[tuple[str, int, datetime]]:
    terms: dict[str, object] = {
        "total": 100_000,
        "check_in": date(2027, 3, 10),
        "zone": LISBON,
        "deposit_bps": 3000,
        "balance_due_days_before_check_in": 14,
        "balance_due_at": None,
        "now": NOW,
    }
    terms.update(overrides)
    return [tuple(p) for p in plan_schedule(**terms)]  # type: ignore[arg-type,misc]


# ---------------------------------------------------------------------- schedule
def test_deposit_now_and_balance_at_local_midnight_fourteen_days_before() -> None:
    assert schedule() == [
        ("DEPOSIT", 30_000, NOW),
        # Lisbon is on UTC in winter: 00:00 local on 24 February is 00:00Z.
        ("BALANCE", 70_000, datetime(2027, 2, 24, tzinfo=UTC)),
    ]


def test_balance_due_at_given_wins_over_days() -> None:
    at = datetime(2027, 1, 1, 12, tzinfo=UTC)
    assert schedule(balance_due_at=at)[1] == ("BALANCE", 70_000, at)


def test_balance_moment_passed_or_whole_deposit_is_one_deposit() -> None:
    assert schedule(check_in=date(2026, 12, 15)) == [("DEPOSIT", 100_000, NOW)]
    assert schedule(deposit_bps=10_000) == [("DEPOSIT", 100_000, NOW)]


def test_summer_time_moves_the_utc_instant() -> None:
    # 2027-07-01 is in Lisbon's summer time (UTC+1): local midnight is 23:00Z the day before.
    due = schedule(check_in=date(2027, 7, 15))[1][2]
    assert due == datetime(2027, 6, 30, 23, tzinfo=UTC)


def test_midnight_skipped_by_dst_is_the_first_instant_of_the_day() -> None:
    santiago = zone_of("America/Santiago")
    # On 2026-09-06 Santiago's clocks jump from 00:00 to 01:00 (-04 to -03).
    start = start_of_local_day(date(2026, 9, 6), santiago)
    assert start == datetime(2026, 9, 6, 4, tzinfo=UTC)
    assert start.astimezone(santiago).hour == 1
    assert (start - timedelta(microseconds=1)).astimezone(santiago).date() == date(2026, 9, 5)


def test_the_date_line_extremes() -> None:
    kiritimati, pago = zone_of("Pacific/Kiritimati"), zone_of("Pacific/Pago_Pago")
    instant = datetime(
        2027, 3, 1, 11, tzinfo=UTC
    )  # 01:00 on 2 March at +14, 00:00 on 1 March at -11
    assert days_until(date(2027, 3, 10), instant, kiritimati) == 8
    assert days_until(date(2027, 3, 10), instant, pago) == 9
    assert start_of_local_day(date(2027, 3, 10), kiritimati) == datetime(2027, 3, 9, 10, tzinfo=UTC)
    assert start_of_local_day(date(2027, 3, 10), pago) == datetime(2027, 3, 10, 11, tzinfo=UTC)


@pytest.mark.parametrize("name", ["Mars/Olympus", "", "../../etc/passwd", "/etc/localtime", 7])
def test_unknown_time_zones_are_refused(name: object) -> None:
    with pytest.raises(UnknownTimeZoneError) as caught:
        zone_of(name)
    assert caught.value.code == "unknown_time_zone"


@pytest.mark.parametrize("bps", [-1, 10_001, True, 30.0])
def test_deposit_bps_outside_the_range_is_refused(bps: object) -> None:
    with pytest.raises(InvalidBasisPointsError):
        schedule(deposit_bps=bps)


@pytest.mark.parametrize("total", [0, -5, MAX_AMOUNT + 1])
def test_totals_outside_the_money_limit_are_refused(total: int) -> None:
    with pytest.raises(PlanTotalOutOfRangeError) as caught:
        schedule(total=total)
    assert caught.value.code == "amount_out_of_range"


def test_a_deposit_of_nothing_with_a_balance_later_is_refused() -> None:
    with pytest.raises(DepositTooSmallError):
        schedule(deposit_bps=0)
    with pytest.raises(DepositTooSmallError):
        schedule(total=1, deposit_bps=4999)  # 0.4999 rounds to 0


@given(
    total=st.integers(1, MAX_AMOUNT),
    bps=st.integers(0, 10_000),
    days=st.integers(0, 400),
    zone=st.sampled_from(["Europe/Lisbon", "Pacific/Kiritimati", "Pacific/Pago_Pago", "UTC"]),
)
def test_installments_always_add_up_to_the_total(
    total: int, bps: int, days: int, zone: str
) -> None:
    try:
        planned = schedule(
            total=total, deposit_bps=bps, zone=zone_of(zone), balance_due_days_before_check_in=days
        )
    except DepositTooSmallError:
        return
    assert sum(amount for _, amount, _ in planned) == total
    assert all(amount > 0 for _, amount, _ in planned)
    if len(planned) == 2:
        assert planned[0][1] == share_of(total, bps)  # half-even; the balance is the rest
    else:
        assert planned[0][1] == total


# ---------------------------------------------------------------------- policy
def test_tiers_must_be_strictly_ordered_and_distinct() -> None:
    with pytest.raises(CancellationTiersUnorderedError):
        CancellationPolicy(tiers=(CancellationTier(7, 5000), CancellationTier(30, 10_000)))
    with pytest.raises(CancellationTiersDuplicatedError):
        CancellationPolicy(tiers=(CancellationTier(7, 5000), CancellationTier(7, 2000)))
    with pytest.raises(CancellationTiersUnorderedError):  # nearer check-in refunds more
        CancellationPolicy(tiers=(CancellationTier(30, 2000), CancellationTier(7, 5000)))
    with pytest.raises(InvalidBasisPointsError):
        CancellationPolicy(tiers=(CancellationTier(7, 10_001),))
    with pytest.raises(ValidationError):
        CancellationTier(-1, 0)


def decide(
    days_before: int, paid: int, policy: CancellationPolicy | None = POLICY
) -> tuple[int, int, int]:
    check_in = date(2027, 3, 10)
    at = start_of_local_day(check_in - timedelta(days=days_before), LISBON) + timedelta(hours=12)
    made = decide_cancellation(
        policy, total=100_000, amount_paid=paid, check_in=check_in, time_zone="Europe/Lisbon", at=at
    )
    assert made.days_before_check_in == days_before
    return made.refund_bps, made.amount_retained, made.amount_refunded


def test_worked_examples_per_tier() -> None:
    assert decide(45, 30_000) == (10_000, 0, 30_000)  # 30+ days: everything back
    assert decide(30, 30_000) == (10_000, 0, 30_000)  # exactly 30 days is the 30-day tier
    assert decide(10, 100_000) == (5_000, 50_000, 50_000)  # 7 to 29 days: half
    assert decide(10, 30_000) == (5_000, 50_000, 0)  # paid less than retained: nothing
    assert decide(3, 100_000) == (0, 100_000, 0)  # under 7 days: nothing
    assert decide(-2, 100_000) == (0, 100_000, 0)  # after check-in
    assert decide(3, 100_000, None) == (10_000, 0, 100_000)  # no policy: all back


def test_the_decision_records_its_reasoning() -> None:
    made = decide_cancellation(
        POLICY,
        total=100_000,
        amount_paid=100_000,
        check_in=date(2027, 3, 10),
        time_zone="Europe/Lisbon",
        at=datetime(2027, 2, 28, 12, tzinfo=UTC),
        reason="guest ill",
    )
    assert made.tier == CancellationTier(7, 5000)
    assert "tier of 7 days" in made.explanation
    assert "50000 refunded" in made.explanation
    assert made.reason == "guest ill"


tiers = st.lists(
    st.tuples(st.integers(0, 400), st.integers(0, 10_000)), max_size=6, unique_by=lambda t: t[0]
).map(
    lambda raw: CancellationPolicy(
        tiers=tuple(
            CancellationTier(d, b)
            for d, b in zip(
                sorted((d for d, _ in raw), reverse=True),
                sorted((b for _, b in raw), reverse=True),
                strict=True,
            )
        ),
        no_show_fee_bps=5000,
    )
)


@given(
    policy=st.one_of(st.none(), tiers),
    total=st.integers(1, MAX_AMOUNT),
    paid_share=st.integers(0, 10_000),
    first=st.integers(-30, 500),
    later_by=st.integers(0, 500),
)
def test_refund_properties(
    policy: CancellationPolicy | None, total: int, paid_share: int, first: int, later_by: int
) -> None:
    paid = total * paid_share // 10_000
    check_in = date(2027, 3, 10)

    def at(days_before: int) -> datetime:
        return start_of_local_day(check_in - timedelta(days=days_before), LISBON)

    early = decide_cancellation(
        policy,
        total=total,
        amount_paid=paid,
        check_in=check_in,
        time_zone="Europe/Lisbon",
        at=at(first),
    )
    late = decide_cancellation(
        policy,
        total=total,
        amount_paid=paid,
        check_in=check_in,
        time_zone="Europe/Lisbon",
        at=at(first) + timedelta(days=later_by, hours=later_by % 24),
    )
    for made in (early, late):
        assert 0 <= made.amount_refunded <= paid
        assert made.amount_refunded == max(0, paid - made.amount_retained)
    assert late.amount_refunded <= early.amount_refunded
    # The documented tier: the largest days_before_check_in not above days_before.
    if policy is not None:
        fitting = [t for t in policy.tiers if t.days_before_check_in <= early.days_before_check_in]
        best = max(fitting, key=lambda t: t.days_before_check_in, default=None)
        assert early.tier == best
        assert early.refund_bps == (0 if best is None else best.refund_bps)
    else:
        assert early.refund_bps == 10_000
        assert early.amount_refunded == paid


def test_no_show_fee_is_what_the_fee_exceeds_paid() -> None:
    assert no_show_fee(POLICY, total=100_000, amount_paid=30_000) == 70_000
    assert no_show_fee(POLICY, total=100_000, amount_paid=100_000) == 0
    assert no_show_fee(None, total=100_000, amount_paid=0) == 0


@given(st.integers(0, 10**6), st.lists(st.integers(0, 10**5), max_size=5))
def test_split_refund_takes_latest_first_and_never_too_much(
    amount: int, refundable: list[int]
) -> None:
    paid = [(uuid4(), r) for r in refundable]
    parts = split_refund(amount, paid)
    assert sum(p for _, p in parts) == min(amount, sum(refundable))
    limits = dict(paid)
    assert all(0 < p <= limits[i] for i, p in parts)
    order = [i for i, _ in paid]
    assert [order.index(i) for i, _ in parts] == sorted(
        (order.index(i) for i, _ in parts), reverse=True
    )


# ---------------------------------------------------------------------- state machine
def make_plan() -> PaymentPlan:
    eur = Money.of(1, "EUR").currency
    items = tuple(
        Installment(id=uuid4(), kind=InstallmentKind(kind), amount=Money(amount, eur), due_at=due)
        for kind, amount, due in schedule()
    )
    return PaymentPlan.create(
        id=uuid4(),
        booking_id=uuid4(),
        guest_id=uuid4(),
        total_amount=Money(100_000, eur),
        check_in=date(2027, 3, 10),
        time_zone="Europe/Lisbon",
        provider="fake",
        installments=items,
        deposit_bps=3000,
        balance_due_days_before_check_in=14,
        balance_due_at=None,
        cancellation_policy=POLICY,
        payment_method="pm_card_visa",
        now=NOW,
        event_id=uuid4(),
    )


def charge(plan: PaymentPlan, index: int, *, by_schedule: bool = True) -> Installment:
    return plan.begin_charge(
        plan.installments[index].id,
        now=NOW,
        claim_until=NOW + timedelta(minutes=5),
        payment_id_for=lambda attempt: uuid4(),
        by_schedule=by_schedule,
    )


def test_paid_in_two_installments() -> None:
    plan = make_plan()
    assert plan.wake_at == NOW
    deposit = charge(plan, 0)
    assert deposit.status is InstallmentStatus.PROCESSING
    assert deposit.attempts == 1
    assert plan.wake_at == NOW + timedelta(minutes=5)  # the claim's end
    plan.record_paid(deposit.id, now=NOW, new_id=uuid4)
    assert plan.amount_paid == 30_000
    assert plan.status is PlanStatus.ACTIVE
    assert plan.wake_at == datetime(2027, 2, 24, tzinfo=UTC)
    plan.record_paid(charge(plan, 1).id, now=NOW, new_id=uuid4)
    assert plan.status is PlanStatus.PAID
    assert plan.amount_paid == 100_000
    assert [e.type for e in plan.events] == [
        "payment_plan.created",
        "payment_plan.installment_paid",
        "payment_plan.installment_paid",
        "payment_plan.paid",
    ]


def test_retries_then_default_then_paid_by_hand() -> None:
    plan = make_plan()
    plan.record_paid(charge(plan, 0).id, now=NOW, new_id=uuid4)
    balance = charge(plan, 1)
    plan.record_failed(
        balance.id, "card_declined", now=NOW, retry_at=NOW + timedelta(days=1), new_id=uuid4
    )
    assert plan.status is PlanStatus.ACTIVE
    assert plan.wake_at == NOW + timedelta(days=1)
    plan.record_failed(charge(plan, 1).id, "card_declined", now=NOW, retry_at=None, new_id=uuid4)
    assert plan.status is PlanStatus.DEFAULTED
    assert plan.wake_at is None
    assert plan.installments[1].attempts == 2
    with pytest.raises(InvalidTransitionError):
        charge(plan, 1)  # the schedule leaves a defaulted plan alone
    plan.record_paid(charge(plan, 1, by_schedule=False).id, now=NOW, new_id=uuid4)
    assert plan.status is PlanStatus.PAID
    assert plan.events[-1].type == "payment_plan.paid"


def test_cancel_cancels_what_is_unpaid_and_is_final() -> None:
    plan = make_plan()
    plan.record_paid(charge(plan, 0).id, now=NOW, new_id=uuid4)
    made = decide_cancellation(
        POLICY,
        total=100_000,
        amount_paid=30_000,
        check_in=plan.check_in,
        time_zone=plan.time_zone,
        at=NOW,
    )
    plan.cancel(made, now=NOW, event_id=uuid4())
    assert plan.status is PlanStatus.CANCELLED
    assert plan.installments[1].status is InstallmentStatus.CANCELLED
    assert plan.refund_owed == 30_000
    assert plan.wake_at is None
    plan.note_refunded(30_000, now=NOW)
    assert plan.refund_owed == 0
    assert plan.cancellation is not None
    assert plan.cancellation.amount_refunded == 30_000
    with pytest.raises(InvalidTransitionError):
        plan.cancel(made, now=NOW, event_id=uuid4())
    with pytest.raises(InvalidTransitionError):
        plan.mark_no_show(fee=None, fee_id=uuid4(), now=NOW)


def test_no_show_adds_the_fee_due_at_once() -> None:
    plan = make_plan()
    plan.record_paid(charge(plan, 0).id, now=NOW, new_id=uuid4)
    fee = Money.of(70_000, "EUR")
    plan.mark_no_show(fee=fee, fee_id=uuid4(), now=NOW)
    assert plan.status is PlanStatus.NO_SHOW
    assert [i.status for i in plan.installments] == [
        InstallmentStatus.PAID,
        InstallmentStatus.CANCELLED,
        InstallmentStatus.SCHEDULED,
    ]
    assert plan.installments[2].kind is InstallmentKind.NO_SHOW_FEE
    assert plan.wake_at == NOW
    plan.record_paid(charge(plan, 2).id, now=NOW, new_id=uuid4)
    assert plan.amount_paid == 100_000
    assert plan.status is PlanStatus.NO_SHOW

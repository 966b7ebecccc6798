"""The reconciliation sweep: unknown outcomes are settled by asking the provider, on a
growing schedule, and never guessed."""

from __future__ import annotations

from datetime import timedelta

from payment_core import BillingRecordType, PaymentStatus
from payment_core.errors import ProviderUnavailableError
from payment_core.testing import FakeProvider, build_in_memory


async def test_a_timed_out_payment_is_settled_by_a_later_sweep(kit, services, clock) -> None:
    payment = await kit.paid("pm_card_timeout")
    clock.advance(minutes=5)
    report = await services.reconciliation.sweep()
    settled = await services.payments.get(payment.id)
    assert (report.examined, report.settled, report.still_unknown) == (1, 1, 0)
    assert settled.status is PaymentStatus.COMPLETED
    assert settled.card is not None
    assert settled.card.last4 == "0077"
    assert [r.type for r in kit.records(payment.booking_id)] == [BillingRecordType.CHARGE]


async def test_a_sweep_before_the_payment_is_due_asks_nothing(kit, services, clock) -> None:
    await kit.paid("pm_card_timeout")
    clock.advance(seconds=299)
    report = await services.reconciliation.sweep()
    assert report.examined == 0
    assert kit.calls("retrieve_payment") == []


async def test_settled_payments_are_never_swept(kit, services, clock) -> None:
    await kit.paid()
    await kit.paid("pm_card_chargeDeclined")
    await kit.create()
    clock.advance(days=3)
    assert (await services.reconciliation.sweep()).examined == 0


async def test_the_schedule_grows_five_minutes_an_hour_then_daily(kit, services, clock) -> None:
    payment = await kit.paid("pm_card_authenticationRequired")  # never settles by itself
    confirmed_at = clock.now()
    asks = []
    for _ in range(5):
        stored = await services.payments.get(payment.id)
        assert stored.reconcile_at is not None
        clock.set(stored.reconcile_at)
        report = await services.reconciliation.sweep()
        assert (report.examined, report.still_unknown) == (1, 1)
        asks.append(clock.now() - confirmed_at)
    # First ask after RECONCILE_AFTER (5 min), then 5 min, 1 h, and daily from there on.
    gaps = [b - a for a, b in zip([timedelta(0), *asks], asks, strict=False)]
    assert gaps == [
        timedelta(minutes=5),
        timedelta(minutes=5),
        timedelta(hours=1),
        timedelta(days=1),
        timedelta(days=1),
    ]
    stored = await services.payments.get(payment.id)
    assert (stored.status, stored.reconcile_attempts) == (PaymentStatus.PROCESSING, 5)


async def test_a_payment_unknown_after_the_whole_schedule_is_flagged(
    kit, services, clock, caplog
) -> None:
    payment = await kit.paid("pm_card_authenticationRequired")  # never settles by itself
    flagged, totals = [], []
    for _ in range(5):
        stored = await services.payments.get(payment.id)
        clock.set(stored.reconcile_at)
        report = await services.reconciliation.sweep(total=totals.append)
        flagged.append(report.flagged)
    # Asked after 5 min, 5 min, 1 h and 1 day: unknown after the last step, it is flagged.
    assert flagged == [0, 0, 0, 1, 1]
    assert totals == [1] * 5
    assert f"payment {payment.id} unsettled after 4 asks" in caplog.text


async def test_a_provider_outage_during_the_sweep_keeps_it_processing(
    kit, services, clock, harness
) -> None:
    payment = await kit.paid("pm_card_timeout")
    clock.advance(minutes=5)
    harness.provider.inject_failure("retrieve_payment", ProviderUnavailableError(message="down"))
    report = await services.reconciliation.sweep()
    stored = await services.payments.get(payment.id)
    assert (report.examined, report.still_unknown) == (1, 1)
    assert (stored.status, stored.reconcile_attempts) == (PaymentStatus.PROCESSING, 1)
    clock.advance(minutes=5)
    assert (await services.reconciliation.sweep()).settled == 1


async def test_the_sweep_counts_amount_mismatches(kit, services, clock) -> None:
    payment = await kit.paid("pm_card_amountMismatch")
    clock.advance(minutes=5)
    report = await services.reconciliation.sweep()
    assert (report.examined, report.mismatches, report.settled) == (1, 1, 0)
    assert (await services.payments.get(payment.id)).status is PaymentStatus.PROCESSING


async def test_the_report_counts_each_outcome(kit, services, clock) -> None:
    await kit.paid("pm_card_timeout")
    await kit.paid("pm_card_timeout")
    await kit.paid("pm_card_authenticationRequired")
    await kit.paid("pm_card_amountMismatch")
    clock.advance(minutes=5)
    progress: list[int] = []
    report = await services.reconciliation.sweep(progress=progress.append)
    assert (report.examined, report.settled, report.still_unknown, report.mismatches) == (
        4,
        2,
        1,
        1,
    )
    assert progress == [1, 1, 1, 1]


async def test_the_sweep_takes_at_most_its_limit(kit, services, clock) -> None:
    for _ in range(3):
        await kit.paid("pm_card_timeout")
    clock.advance(minutes=5)
    assert (await services.reconciliation.sweep(limit=2)).examined == 2
    assert (await services.reconciliation.sweep(limit=2)).examined == 1


async def test_a_fresh_provider_process_answers_from_the_token(make_kit, clock) -> None:
    # Another worker (a restarted process) has never seen the intent: the fake answers
    # from the payment-method token, as the process that confirmed it would.
    first = build_in_memory(clock=clock)
    payment = await make_kit(first).paid("pm_card_timeout")
    restarted = FakeProvider()
    first.services.deps.providers.register(restarted)
    clock.advance(minutes=5)
    report = await first.services.reconciliation.sweep()
    assert report.settled == 1
    assert (await first.services.payments.get(payment.id)).status is PaymentStatus.COMPLETED


async def test_a_payment_settled_by_a_webhook_meanwhile_is_left_alone(kit, services, clock) -> None:
    payment = await kit.paid("pm_card_authenticationRequired")
    clock.advance(minutes=5)
    stale = await services.payments.get(payment.id)
    await kit.deliver("payment_intent.succeeded", kit.intent(payment))
    _, outcome = await services.payments.reconcile(stale)
    assert outcome == "unchanged"
    assert (await services.payments.get(payment.id)).status is PaymentStatus.COMPLETED


async def test_a_settled_payment_is_left_alone_when_the_provider_is_down(
    kit, services, clock, harness
) -> None:
    payment = await kit.paid("pm_card_authenticationRequired")
    stale = await services.payments.get(payment.id)
    await kit.deliver("payment_intent.succeeded", kit.intent(payment))
    completed = await services.payments.get(payment.id)
    harness.provider.inject_failure("retrieve_payment", ProviderUnavailableError(message="down"))
    _, outcome = await services.payments.reconcile(stale)
    assert outcome == "unchanged"
    assert (await services.payments.get(payment.id)).version == completed.version

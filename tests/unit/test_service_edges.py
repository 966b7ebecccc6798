"""Edges of the use cases: races with webhooks, replies applied late, conflicts, wiring."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from datetime import UTC, datetime, timedelta
from uuid import UUID, uuid4

import pytest

from payment_core import (
    Card,
    Currency,
    Invoice,
    InvoiceStatus,
    LineItem,
    Money,
    NextAction,
    PaymentStatus,
    RefundStatus,
)
from payment_core.errors import (
    ConcurrencyError,
    ProviderDeclinedError,
    ProviderRejectedError,
    ProviderUnavailableError,
    UnknownProviderError,
    ValidationError,
)
from payment_core.ports import (
    ConfirmPaymentRequest,
    ProviderPayment,
    ProviderPaymentStatus,
    ProviderRefund,
    ProviderRefundStatus,
    RefundRequest,
    RetrieveRefundRequest,
)
from payment_core.services import ProviderRegistry, ReconcileSchedule
from payment_core.services.payments import validate_metadata
from payment_core.testing import FakeProvider, build_in_memory

# ---------------------------------------------------------------------------- races


class WebhookDuringConfirm(FakeProvider):
    """Runs ``during_confirm`` while the confirm call is in flight (a webhook racing it)."""

    during_confirm: Callable[[], Awaitable[object]] | None = None

    async def confirm_payment(self, request: ConfirmPaymentRequest) -> ProviderPayment:
        if self.during_confirm is not None:
            await self.during_confirm()
        return await super().confirm_payment(request)


async def test_a_decline_arriving_after_a_webhook_completed_the_payment_changes_nothing(
    make_kit,
) -> None:
    provider = WebhookDuringConfirm()
    harness = build_in_memory(provider=provider)
    kit = make_kit(harness)
    payment = await kit.create()
    provider.during_confirm = lambda: kit.deliver("payment_intent.succeeded", kit.intent(payment))
    provider.inject_failure(
        "confirm_payment", ProviderDeclinedError(decline_code="card_declined", message="late")
    )
    confirmed = await harness.services.payments.confirm(payment.id)
    assert confirmed.status is PaymentStatus.COMPLETED
    assert harness.published_types() == ["payment.initiated", "payment.completed"]


async def test_a_reply_arriving_after_a_webhook_settled_the_payment_changes_nothing(
    make_kit,
) -> None:
    provider = WebhookDuringConfirm()
    harness = build_in_memory(provider=provider)
    kit = make_kit(harness)
    payment = await kit.create()
    provider.during_confirm = lambda: kit.deliver("payment_intent.succeeded", kit.intent(payment))
    confirmed = await harness.services.payments.confirm(payment.id)
    assert confirmed.status is PaymentStatus.COMPLETED
    assert len(kit.records(payment.booking_id)) == 1  # one charge, not two


# ---------------------------------------------------------------------------- provider replies


async def test_a_requires_action_reply_with_a_new_card_records_it(kit, services) -> None:
    payment = await kit.paid("pm_card_authenticationRequired")
    card = Card("amex", "0005", 1, 2031)
    reply = ProviderPayment(
        provider_payment_id=payment.provider_payment_id or "",
        status=ProviderPaymentStatus.REQUIRES_ACTION,
        amount=payment.amount,
        card=card,
    )
    updated, outcome = await services.payments.settle(payment.id, reply)
    assert (outcome, updated.card, updated.next_action) == ("unknown", card, payment.next_action)


async def test_a_requires_action_reply_with_a_new_redirect_records_it(kit, services) -> None:
    payment = await kit.paid("pm_card_authenticationRequired")
    action = NextAction("redirect", "https://bank.test/acs")
    reply = ProviderPayment(
        provider_payment_id=payment.provider_payment_id or "",
        status=ProviderPaymentStatus.REQUIRES_ACTION,
        amount=payment.amount,
        next_action=action,
    )
    updated, outcome = await services.payments.settle(payment.id, reply)
    assert (outcome, updated.next_action) == ("unknown", action)


async def test_a_mismatched_reply_for_a_pending_payment_changes_nothing(kit, services) -> None:
    payment = await kit.create()
    result = await kit.deliver(
        "payment_intent.succeeded", {**kit.intent(payment), "amount": payment.amount.amount + 5}
    )
    assert result.outcome == "unchanged"
    stored = await services.payments.get(payment.id)
    assert (stored.status, stored.failure_code) == (PaymentStatus.PENDING, None)


async def test_a_late_refund_reply_for_a_settled_refund_changes_nothing(kit, services) -> None:
    payment = await kit.paid()
    refund = await services.refunds.create(payment.id, 100)
    for status in (ProviderRefundStatus.SUCCEEDED, ProviderRefundStatus.FAILED):
        late = await services.refunds.apply_reply(
            refund.id, ProviderRefund("re_late", status, refund.amount)
        )
        assert (late.status, late.version) == (RefundStatus.COMPLETED, refund.version)
    assert (await services.payments.get(payment.id)).amount_refunded == 100


class SlowRefunds(FakeProvider):
    """Accepts refunds but keeps them pending, when asked again too."""

    async def refund(self, request: RefundRequest) -> ProviderRefund:
        done = await super().refund(request)
        return ProviderRefund(done.provider_refund_id, ProviderRefundStatus.PENDING, done.amount)

    async def retrieve_refund(self, request: RetrieveRefundRequest) -> ProviderRefund:
        done = await super().retrieve_refund(request)
        return ProviderRefund(done.provider_refund_id, ProviderRefundStatus.PENDING, done.amount)


async def test_a_refund_still_pending_at_the_provider_stays_unknown_in_the_sweep(make_kit) -> None:
    harness = build_in_memory(provider=SlowRefunds())
    payment = await make_kit(harness).paid()
    refund = await harness.services.refunds.create(payment.id, 100)
    harness.clock.advance(minutes=6)
    ticks: list[int] = []
    report = await harness.services.reconciliation.sweep(progress=ticks.append)
    assert (report.examined, report.still_unknown, ticks) == (1, 1, [1])
    assert (await harness.services.refunds.get(refund.id)).status is RefundStatus.PROCESSING


async def test_a_stuck_refund_stays_in_flight_while_the_provider_is_down(make_kit) -> None:
    harness = build_in_memory(provider=SlowRefunds())
    payment = await make_kit(harness).paid()
    refund = await harness.services.refunds.create(payment.id, 100)
    harness.clock.advance(minutes=6)
    harness.provider.inject_failure("retrieve_refund", ProviderUnavailableError(message="down"))
    report = await harness.services.reconciliation.sweep()
    assert (report.examined, report.still_unknown) == (1, 1)
    assert (await harness.services.refunds.get(refund.id)).status is RefundStatus.PROCESSING


# ---------------------------------------------------------------------------- model odds and ends


def test_marking_an_invoice_paid_by_hand_takes_nothing_from_its_payment() -> None:
    now = datetime(2026, 5, 1, tzinfo=UTC)
    invoice = Invoice.draft(
        id=UUID(int=1),
        booking_id=UUID(int=2),
        guest_id=UUID(int=3),
        currency=Currency.of("EUR"),
        now=now,
        line_items=[LineItem("Room", 1, 100)],
        payment_id=UUID(int=9),
    )
    invoice.issue(now=now, number="INV-2026-000001", event_id=UUID(int=4))
    assert invoice.take_from_payment(available=30, now=now, event_id=UUID(int=5)) == 30
    invoice.mark_paid(now=now, event_id=UUID(int=6))
    assert (invoice.status, invoice.amount_paid, invoice.amount_applied) == (
        InvoiceStatus.PAID,
        100,
        30,
    )
    assert invoice.take_from_payment(available=70, now=now, event_id=UUID(int=7)) == 0


# ---------------------------------------------------------------------------- wiring


def test_the_registry_finds_providers_by_name() -> None:
    fake, other = FakeProvider(), FakeProvider(name="other")
    registry = ProviderRegistry([fake, other])
    assert registry.get("fake") is fake
    assert "other" in registry
    assert "stripe" not in registry
    assert registry.names == ("fake", "other")
    assert dict(registry.as_mapping()) == {"fake": fake, "other": other}
    with pytest.raises(UnknownProviderError):
        registry.get("stripe")


async def test_an_operation_is_rerun_after_a_conflict(harness) -> None:
    runs: list[int] = []

    async def flaky() -> str:
        runs.append(1)
        if len(runs) < 3:
            raise ConcurrencyError(entity="payment", entity_id=uuid4())
        return "done"

    assert await harness.services.deps.retrying(flaky) == "done"
    assert len(runs) == 3


async def test_conflicts_beyond_the_retry_budget_surface(harness) -> None:
    runs: list[int] = []

    async def always() -> None:
        runs.append(1)
        raise ConcurrencyError(entity="payment", entity_id=uuid4())

    with pytest.raises(ConcurrencyError):
        await harness.services.deps.retrying(always)
    assert len(runs) == harness.services.deps.config.conflict_retries


def test_comparing_money_with_another_type_is_a_type_error() -> None:
    with pytest.raises(TypeError):
        assert Money.of(1, "EUR") <= 1  # type: ignore[operator]
    with pytest.raises(TypeError):
        assert Money.of(1, "EUR") > 1  # type: ignore[operator]


# ---------------------------------------------------------------------------- two refund workers


class AnotherWorkerDuringRefund(FakeProvider):
    """Lets ``meanwhile`` run once, during the first refund call (a second worker)."""

    meanwhile: Callable[[], Awaitable[object]] | None = None

    async def refund(self, request: RefundRequest) -> ProviderRefund:
        hook, self.meanwhile = self.meanwhile, None
        if hook is not None:
            await hook()
        return await super().refund(request)


async def due_refund_pair(make_kit):
    provider = AnotherWorkerDuringRefund()
    harness = build_in_memory(provider=provider, randbelow=lambda n: 0)
    kit = make_kit(harness)
    first = await harness.services.refunds.create((await kit.paid("pm_card_refundFail")).id, 100)
    second = await harness.services.refunds.create((await kit.paid("pm_card_refundFail")).id, 100)
    harness.clock.advance(seconds=1)  # both due for their second attempt
    return harness, provider, first, second


async def test_a_refund_another_worker_just_retried_keeps_its_backoff(make_kit) -> None:
    harness, provider, _, second = await due_refund_pair(make_kit)
    provider.meanwhile = lambda: harness.services.refunds.process(second.id)
    assert await harness.services.refunds.process_due() == 1
    assert (await harness.services.refunds.get(second.id)).attempts == 2  # not 3


async def test_a_refund_another_worker_failed_for_good_is_skipped(make_kit) -> None:
    harness, provider, _, second = await due_refund_pair(make_kit)

    async def reject_second() -> None:
        provider.inject_failure(
            "refund", ProviderRejectedError(reason_code="charge_disputed", message="no")
        )
        await harness.services.refunds.process(second.id)

    provider.meanwhile = reject_second
    assert await harness.services.refunds.process_due() == 1
    assert (await harness.services.refunds.get(second.id)).status is RefundStatus.FAILED


def test_metadata_validation_on_its_own() -> None:
    assert validate_metadata(None) == {}
    with pytest.raises(ValidationError):
        validate_metadata([("k", "v")])  # type: ignore[arg-type]


async def test_a_stuck_refund_is_asked_about_on_a_growing_schedule(make_kit) -> None:
    """Every 5 minutes for the first hour, then hourly: not at every sweep."""
    harness = build_in_memory(provider=SlowRefunds())
    payment = await make_kit(harness).paid()
    refund = await harness.services.refunds.create(payment.id, 100)

    async def asks_over(minutes: int) -> int:
        before = [c for c, _ in harness.provider.calls].count("retrieve_refund")
        for _ in range(minutes):
            harness.clock.advance(minutes=1)
            await harness.services.reconciliation.sweep()
        return [c for c, _ in harness.provider.calls].count("retrieve_refund") - before

    assert await asks_over(6) == 1  # stuck since creation: first asked after 5 minutes
    assert await asks_over(54) == 10  # then every 5 minutes while under an hour
    assert await asks_over(180) == 3  # then hourly
    current = await harness.services.refunds.get(refund.id)
    assert current.status is RefundStatus.PROCESSING
    assert current.next_retry_at is not None
    assert current.next_retry_at > harness.clock.now()


def test_the_wait_grows_with_how_long_something_has_been_stuck() -> None:
    schedule = ReconcileSchedule()
    assert [
        schedule.after_stuck(timedelta(minutes=m)) for m in (1, 5, 59, 60, 23 * 60, 24 * 60, 9999)
    ] == [timedelta(minutes=5)] * 3 + [timedelta(hours=1)] * 2 + [timedelta(days=1)] * 2


async def test_a_refund_unsettled_for_a_day_is_flagged_and_asked_daily(make_kit, caplog) -> None:
    harness = build_in_memory(provider=SlowRefunds())
    payment = await make_kit(harness).paid()
    refund = await harness.services.refunds.create(payment.id, 100)
    created = harness.clock.now()
    for _ in range(26):
        harness.clock.advance(hours=1)
        await harness.services.reconciliation.sweep()
    current = await harness.services.refunds.get(refund.id)
    # Asked hourly until it had been stuck a day (hour 24); the next ask is a day later.
    assert current.next_retry_at == created + timedelta(days=2)
    assert any("unsettled for" in r.getMessage() for r in caplog.records)


async def test_the_sweep_report_counts_a_refund_stuck_a_day_as_flagged(make_kit) -> None:
    harness = build_in_memory(provider=SlowRefunds())
    payment = await make_kit(harness).paid()
    await harness.services.refunds.create(payment.id, 100)
    flagged = []
    for _ in range(25):
        harness.clock.advance(hours=1)
        report = await harness.services.reconciliation.sweep()
        if report.examined:
            flagged.append(report.flagged)
    # Hourly asks for the first day, unflagged; the ask once it has been stuck a day is.
    assert flagged == [0] * 23 + [1]

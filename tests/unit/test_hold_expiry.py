"""A hold's expiry on the harness: warned once, captured then when so configured, expired at
its deadline (released at the provider), never both captured and expired."""

from __future__ import annotations

import asyncio
from datetime import timedelta

import pytest
from tests.unit.conftest import Kit

from payment_core import ServiceConfig
from payment_core.errors import InvalidTransitionError, ProviderUnavailableError
from payment_core.model.payment import PaymentStatus
from payment_core.ports import ConfirmPaymentRequest, ProviderPayment
from payment_core.services import ExpiryAction
from payment_core.testing import FakeProvider, build_in_memory

P = PaymentStatus
WEEK = timedelta(days=7)
DAY = timedelta(days=1)


async def test_the_warning_is_told_once_a_day_before_the_expiry(kit: Kit, harness) -> None:
    payment = await kit.hold()
    harness.clock.advance(WEEK - DAY - timedelta(seconds=1))
    assert (await kit.services.holds.sweep()).warned == 0
    harness.clock.advance(seconds=1)
    assert (await kit.services.holds.sweep()).warned == 1
    assert (await kit.services.holds.sweep()).warned == 0
    assert harness.published_types().count("payment.authorization_expiring") == 1
    warned = harness.store.payments[payment.id]
    assert (warned.status, warned.expiry_warned_at) == (P.AUTHORIZED, harness.clock.now())


async def test_a_hold_past_its_expiry_expires_and_is_released(kit: Kit, harness) -> None:
    payment = await kit.hold()
    harness.clock.advance(WEEK)
    report = await kit.services.holds.sweep()
    assert (report.warned, report.expired) == (1, 1)
    expired = harness.store.payments[payment.id]
    assert (expired.status, expired.amount_capturable, expired.authorization_expires_at) == (
        P.EXPIRED,
        0,
        None,
    )
    assert harness.published_types()[-2:] == [
        "payment.authorization_expiring",
        "payment.expired",
    ]
    assert kit.calls("cancel_payment") == [f"payment-{payment.id}-cancel"]
    assert kit.all_records() == []
    assert (await kit.services.holds.sweep()).expired == 0


async def test_a_capture_after_the_deadline_expires_the_hold_instead(kit: Kit, harness) -> None:
    payment = await kit.hold()
    harness.clock.advance(WEEK)
    with pytest.raises(InvalidTransitionError) as refused:
        await kit.services.payments.capture(payment.id)
    assert refused.value.current == "EXPIRED"
    assert harness.store.payments[payment.id].status is P.EXPIRED
    assert kit.calls("capture_payment") == []


@pytest.mark.parametrize("before_deadline", [True, False])
async def test_expiry_racing_capture_never_both(kit: Kit, harness, before_deadline) -> None:
    holds = [await kit.hold() for _ in range(5)]
    harness.clock.advance(WEEK - (timedelta(seconds=1) if before_deadline else timedelta(0)))
    outcomes = await asyncio.gather(
        kit.services.holds.sweep(),
        *(kit.services.payments.capture(p.id) for p in holds),
        return_exceptions=True,
    )
    for payment in holds:
        final = harness.store.payments[payment.id]
        types = [e.type for e in harness.publisher.events if e.stream_id == payment.id]
        assert not ("payment.completed" in types and "payment.expired" in types)
        if before_deadline:
            assert final.status is P.COMPLETED
        else:
            assert final.status is P.EXPIRED
            assert "payment.completed" not in types
    captured = [o for o in outcomes[1:] if not isinstance(o, BaseException)]
    assert len(captured) == (5 if before_deadline else 0)
    assert len(kit.calls("capture_payment")) == len(captured)


async def test_with_capture_as_the_action_the_warning_captures_the_hold(clock) -> None:
    config = ServiceConfig(authorization_expiry_action=ExpiryAction.CAPTURE)
    harness = build_in_memory(clock=clock, config=config)
    kit = Kit(harness)
    payment = await kit.hold()
    await kit.services.payments.increment_authorization(payment.id, 12_000)
    harness.clock.advance(WEEK - DAY)
    report = await kit.services.holds.sweep()
    assert (report.warned, report.captured) == (1, 1)
    captured = harness.store.payments[payment.id]
    assert (captured.status, captured.amount_captured) == (P.COMPLETED, 12_000)
    assert harness.published_types()[-2:] == [
        "payment.authorization_expiring",
        "payment.completed",
    ]
    harness.clock.advance(DAY)
    assert (await kit.services.holds.sweep()).expired == 0


@pytest.mark.parametrize(
    ("asked_after", "settled"),
    [(timedelta(minutes=5), P.COMPLETED), (DAY, P.EXPIRED)],
)
async def test_an_auto_capture_lost_in_flight_is_settled_by_asking(
    clock, asked_after, settled
) -> None:
    """Sent again while the provider still holds it; past the deadline the provider has let
    it go, so nothing was taken: expired, never guessed captured."""
    config = ServiceConfig(authorization_expiry_action=ExpiryAction.CAPTURE)
    harness = build_in_memory(clock=clock, config=config)
    kit = Kit(harness)
    payment = await kit.hold()
    harness.clock.advance(WEEK - DAY)
    harness.provider.inject_failure("capture_payment", ProviderUnavailableError(message="x"))
    await kit.services.holds.sweep()
    assert harness.store.payments[payment.id].capture_in_flight
    harness.clock.advance(asked_after)
    assert (await kit.services.holds.sweep()).expired == 0  # a capture in flight is not expired
    await kit.services.reconciliation.sweep()
    final = harness.store.payments[payment.id]
    assert (final.status, final.capture_in_flight) == (settled, False)
    charged = [r.amount for r in kit.records(payment.booking_id)]
    assert charged == ([10_000] if settled is P.COMPLETED else [])


class SilentProvider(FakeProvider):
    """Holds without saying until when."""

    async def confirm_payment(self, request: ConfirmPaymentRequest) -> ProviderPayment:
        reply = await super().confirm_payment(request)
        return ProviderPayment(
            provider_payment_id=reply.provider_payment_id,
            status=reply.status,
            amount=reply.amount,
            payment_id=reply.payment_id,
            amount_capturable=reply.amount_capturable,
        )


async def test_without_the_providers_expiry_the_configured_ttl_applies(clock) -> None:
    config = ServiceConfig(authorization_ttl=timedelta(days=3))
    harness = build_in_memory(clock=clock, config=config, provider=SilentProvider(clock=clock))
    payment = await Kit(harness).hold()
    assert payment.authorization_expires_at == clock.now() + timedelta(days=3)


async def test_the_fake_providers_hold_lasts_its_own_ttl(clock) -> None:
    provider = FakeProvider(clock=clock, authorization_ttl=timedelta(hours=2))
    harness = build_in_memory(clock=clock, provider=provider)
    payment = await Kit(harness).hold()
    assert payment.authorization_expires_at == clock.now() + timedelta(hours=2)
    clock.advance(hours=2)
    with pytest.raises(InvalidTransitionError):
        await harness.services.payments.capture(payment.id)

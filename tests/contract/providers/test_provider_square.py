"""Square specifics: the wire format, refunds that complete later, and a restarted process."""

from __future__ import annotations

from collections.abc import Callable
from datetime import timedelta
from uuid import uuid4

import pytest
from provider_standins._server import Faults
from provider_standins.kits import SQUARE_NOTIFICATION_URL, Kit, SquareKit

from payment_adapters.providers.ratelimit import TokenBucket
from payment_adapters.providers.square import SquareProvider, placeholder_id
from payment_core.model.payment import Payment, PaymentStatus
from payment_core.model.refund import RefundStatus
from payment_core.money import Money
from payment_core.ports import RefundRequest
from payment_core.services import CreatePayment, ServiceConfig
from payment_core.testing import Harness, build_in_memory


@pytest.fixture
def kit(kit_factory: Callable[..., Kit]) -> SquareKit:
    kit = kit_factory("square")
    assert isinstance(kit, SquareKit)
    return kit


@pytest.fixture
def harness(kit: SquareKit) -> Harness:
    return build_in_memory(
        provider=kit.provider,  # type: ignore[arg-type]
        config=ServiceConfig(default_provider="square", reconcile_after=timedelta(minutes=5)),
    )


async def paid(harness: Harness, amount: int = 12500) -> Payment:
    payment = await harness.services.payments.create(
        CreatePayment(booking_id=uuid4(), guest_id=uuid4(), amount=amount, currency="EUR")
    )
    return await harness.services.payments.confirm(payment.id, "pm_card_visa")


async def test_payments_are_created_authorised_then_completed(
    kit: SquareKit, harness: Harness
) -> None:
    payment = await paid(harness)

    # Created under a placeholder id; Square's own id is kept once the confirm names it.
    [square_id] = kit.square.payments
    assert payment.provider_payment_id == square_id
    assert payment.provider_payment_id != placeholder_id(payment.id, payment.amount)
    create, complete = kit.square.find("POST")
    for request in (create, complete):
        assert request.header("authorization") == f"Bearer {kit.square.access_token}"
        assert request.header("square-version")
    assert create.path == "/v2/payments"
    assert create.params["source_id"] == "pm_card_visa"
    assert create.params["amount_money"] == {"amount": 12500, "currency": "EUR"}
    assert create.params["autocomplete"] is False
    assert create.params["reference_id"] == str(payment.id)
    assert len(create.params["idempotency_key"]) <= 45
    assert complete.path.endswith("/complete")


async def test_a_pending_refund_completes_through_reconciliation(
    kit: SquareKit, harness: Harness
) -> None:
    payment = await paid(harness)
    kit.square.refunds_pending = True

    refund = await harness.services.refunds.create(payment.id, 2500)

    assert refund.status is RefundStatus.PROCESSING
    assert refund.provider_refund_id is not None
    kit.square.settle_refunds()
    harness.clock.advance(minutes=6)
    await harness.services.reconciliation.sweep()
    assert (await harness.services.refunds.get(refund.id)).status is RefundStatus.COMPLETED
    assert (await harness.services.payments.get(payment.id)).amount_refunded == 2500


async def test_a_pending_refund_completes_on_its_webhook(kit: SquareKit, harness: Harness) -> None:
    payment = await paid(harness)
    kit.square.refunds_pending = True
    refund = await harness.services.refunds.create(payment.id, 2500)

    (settled,) = kit.square.settle_refunds()
    body, headers = kit.square_event("refund.updated", "refund", settled, harness.clock.now())
    result = await harness.services.webhooks.receive("square", body, headers)

    assert result.outcome == "settled"
    assert (await harness.services.refunds.get(refund.id)).status is RefundStatus.COMPLETED


async def test_a_refund_failing_after_it_completed_is_reversed(
    kit: SquareKit, harness: Harness
) -> None:
    payment = await paid(harness)
    refund = await harness.services.refunds.create(payment.id, 2500)
    assert refund.status is RefundStatus.COMPLETED
    failed = dict(kit.square.refunds[refund.provider_refund_id or ""], status="FAILED")

    body, headers = kit.square_event("refund.updated", "refund", failed, harness.clock.now())
    result = await harness.services.webhooks.receive("square", body, headers)

    assert result.outcome == "reversed"
    assert (await harness.services.payments.get(payment.id)).refundable == 12500


async def test_a_restarted_process_finds_the_square_payment_by_listing(
    kit: SquareKit, harness: Harness
) -> None:
    payment = await paid(harness)
    fresh = SquareProvider(
        kit.square.access_token,
        api_base=kit.square.base_url,
        backoff=kit.backoff,
        rate_limiter=TokenBucket(1000),
        notification_url=SQUARE_NOTIFICATION_URL,
    )
    try:
        reply = await fresh.refund(
            RefundRequest(
                refund_id=uuid4(),
                payment_id=payment.id,
                # Only the placeholder is known when a process died before storing Square's id.
                provider_payment_id=placeholder_id(payment.id, payment.amount),
                amount=Money.of(1000, "EUR"),
                idempotency_key="refund-after-restart",
                payment_method="pm_card_visa",
            )
        )
    finally:
        await fresh.aclose()

    assert reply.amount == Money.of(1000, "EUR")
    listed = [r for r in kit.square.find("GET", "/v2/payments") if r.path == "/v2/payments"]
    assert listed
    assert dict(listed[0].query)["total"] == "12500"
    assert kit.refunded(payment) == 1000


async def test_reconciliation_makes_a_payment_square_never_saw_under_the_same_key(
    kit: SquareKit, harness: Harness
) -> None:
    payment = await harness.services.payments.create(
        CreatePayment(booking_id=uuid4(), guest_id=uuid4(), amount=800, currency="EUR")
    )
    kit.square.faults = Faults(server_error=1.0, applies=lambda m, path: path == "/v2/payments")
    assert (await harness.services.payments.confirm(payment.id, "pm_card_visa")).status is (
        PaymentStatus.PROCESSING
    )
    kit.square.faults = None

    harness.clock.advance(minutes=6)
    await harness.services.reconciliation.sweep()

    settled = await harness.services.payments.get(payment.id)
    assert settled.status is PaymentStatus.COMPLETED
    assert kit.charges(settled) == 1
    keys = {
        r.params["idempotency_key"] for r in kit.square.find("POST") if r.path == "/v2/payments"
    }
    assert len(keys) == 1

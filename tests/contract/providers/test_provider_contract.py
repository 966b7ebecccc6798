"""The PaymentProvider contract: the same behaviour, end to end through the use cases, for the
fake provider and for Stripe, PayPal and Square against their loopback stand-ins.

A new provider passes when it passes this file (add a kit in ``provider_standins/kits.py``).
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import timedelta
from uuid import uuid4

import attrs
import pytest
from provider_standins.kits import Kit

from payment_core.errors import RefundExceedsRefundableError, WebhookSignatureError
from payment_core.model.payment import Card, Payment, PaymentStatus
from payment_core.model.refund import RefundStatus
from payment_core.services import CreatePayment, ServiceConfig
from payment_core.testing import Harness, build_in_memory


async def pay(harness: Harness, method: str, amount: int = 12500, currency: str = "EUR") -> Payment:
    payment = await harness.services.payments.create(
        CreatePayment(
            booking_id=uuid4(),
            guest_id=uuid4(),
            amount=amount,
            currency=currency,
            description="Room 12, 2 nights",
            metadata={"channel": "web"},
        )
    )
    assert payment.status is PaymentStatus.PENDING
    assert payment.provider_payment_id
    return await harness.services.payments.confirm(payment.id, method)


async def deliver(harness: Harness, kit: Kit, delivery: tuple[bytes, dict[str, str]]):
    body, headers = delivery
    return await harness.services.webhooks.receive(kit.name, body, headers)


# ---------------------------------------------------------------------------- payments


async def test_a_good_card_completes_the_payment_and_reports_the_card(
    kit: Kit, harness: Harness
) -> None:
    payment = await pay(harness, "pm_card_visa")

    assert payment.status is PaymentStatus.COMPLETED
    assert payment.card == Card("visa", "4242", 12, 2034)
    assert payment.failure_code is None
    assert kit.charges(payment) == 1
    assert harness.published_types() == ["payment.initiated", "payment.completed"]


async def test_another_brand_is_reported_as_that_brand(kit: Kit, harness: Harness) -> None:
    payment = await pay(harness, "pm_card_mastercard", amount=4200, currency="USD")

    assert payment.status is PaymentStatus.COMPLETED
    assert payment.card is not None
    assert (payment.card.brand, payment.card.last4) == ("mastercard", "4444")


@pytest.mark.parametrize(
    ("method", "code"),
    [
        ("pm_card_chargeDeclined", "card_declined"),
        ("pm_card_chargeDeclinedInsufficientFunds", "insufficient_funds"),
    ],
)
async def test_a_declined_card_fails_the_payment_with_the_decline_code(
    kit: Kit, harness: Harness, method: str, code: str
) -> None:
    payment = await pay(harness, method)

    assert payment.status is PaymentStatus.FAILED
    assert payment.failure_code == code
    assert kit.charges(payment) == 0
    assert harness.published_types()[-1] == "payment.failed"


async def test_3ds_leaves_it_processing_with_a_redirect_until_a_webhook_completes_it(
    kit: Kit, harness: Harness
) -> None:
    payment = await pay(harness, "pm_card_authenticationRequired")

    assert payment.status is PaymentStatus.PROCESSING
    assert payment.next_action is not None
    assert payment.next_action.type == "redirect"
    assert payment.next_action.url.startswith(("http://", "https://"))
    assert payment.failure_code is None

    kit.customer_authenticates(payment)
    result = await deliver(harness, kit, kit.event(payment, "succeeded", harness.clock.now()))

    assert not result.duplicate
    done = await harness.services.payments.get(payment.id)
    assert done.status is PaymentStatus.COMPLETED
    assert done.next_action is None
    assert kit.charges(done) == 1


async def test_a_timeout_leaves_it_processing_and_reconciliation_finds_it_succeeded(
    kit: Kit, harness: Harness
) -> None:
    payment = await pay(harness, "pm_card_timeout")

    assert payment.status is PaymentStatus.PROCESSING
    assert payment.failure_code is None
    assert "payment.failed" not in harness.published_types()
    assert kit.charges(payment) <= 1

    harness.clock.advance(minutes=6)
    report = await harness.services.reconciliation.sweep()

    assert report.settled == 1
    settled = await harness.services.payments.get(payment.id)
    assert settled.status is PaymentStatus.COMPLETED
    assert kit.charges(settled) == 1


async def test_a_reply_with_another_amount_never_completes_the_payment(
    kit: Kit, harness: Harness
) -> None:
    payment = await pay(harness, "pm_card_amountMismatch")

    assert payment.status is PaymentStatus.PROCESSING
    assert payment.failure_code == "provider_amount_mismatch"
    assert "payment.completed" not in harness.published_types()


async def test_cancel_releases_a_pending_payment(kit: Kit, harness: Harness) -> None:
    payment = await harness.services.payments.create(
        CreatePayment(booking_id=uuid4(), guest_id=uuid4(), amount=900, currency="EUR")
    )

    cancelled = await harness.services.payments.cancel(payment.id)

    assert cancelled.status is PaymentStatus.CANCELLED
    assert kit.charges(cancelled) == 0


# ---------------------------------------------------------------------------- refunds


async def test_a_partial_then_a_full_refund_pay_back_exactly_the_amount(
    kit: Kit, harness: Harness
) -> None:
    payment = await pay(harness, "pm_card_visa")

    first = await harness.services.refunds.create(payment.id, 2500, "requested_by_customer")
    rest = await harness.services.refunds.create(payment.id)

    assert first.status is RefundStatus.COMPLETED
    assert rest.status is RefundStatus.COMPLETED
    assert rest.amount.amount == 10000
    after = await harness.services.payments.get(payment.id)
    assert after.amount_refunded == 12500
    assert kit.refunded(after) == 12500
    with pytest.raises(RefundExceedsRefundableError):
        await harness.services.refunds.create(payment.id, 1)


async def test_a_refund_the_provider_keeps_refusing_fails_after_its_retries(
    kit: Kit, harness: Harness
) -> None:
    payment = await pay(harness, "pm_card_refundFail")
    assert payment.status is PaymentStatus.COMPLETED

    refund = await harness.services.refunds.create(payment.id, 1000)
    for _ in range(5):
        if refund.status is not RefundStatus.PENDING:
            break
        assert refund.next_retry_at is not None
        harness.clock.set(refund.next_retry_at + timedelta(seconds=1))
        await harness.services.refunds.process_due()
        refund = await harness.services.refunds.get(refund.id)

    assert refund.status is RefundStatus.FAILED
    assert refund.attempts == 3
    assert refund.failure_reason
    after = await harness.services.payments.get(payment.id)
    assert after.refundable == 12500
    assert after.amount_refunded == 0
    assert kit.refunded(after) == 0


# ---------------------------------------------------------------------------- webhooks


async def test_a_duplicate_webhook_changes_nothing_the_second_time(
    kit: Kit, harness: Harness
) -> None:
    payment = await pay(harness, "pm_card_authenticationRequired")
    kit.customer_authenticates(payment)
    delivery = kit.event(payment, "succeeded", harness.clock.now())

    first = await deliver(harness, kit, delivery)
    second = await deliver(harness, kit, delivery)

    assert not first.duplicate
    assert second.duplicate
    assert harness.published_types().count("payment.completed") == 1


async def test_webhooks_out_of_order_never_move_a_payment_backwards(
    kit: Kit, harness: Harness
) -> None:
    payment = await pay(harness, "pm_card_authenticationRequired")
    kit.customer_authenticates(payment)
    now = harness.clock.now()
    # The final event arrives first, the earlier ones after it.
    await deliver(harness, kit, kit.event(payment, "succeeded", now))
    await deliver(harness, kit, kit.event(payment, "processing", now - timedelta(seconds=30)))
    await deliver(harness, kit, kit.event(payment, "failed", now - timedelta(seconds=60)))

    after = await harness.services.payments.get(payment.id)
    assert after.status is PaymentStatus.COMPLETED
    assert "payment.failed" not in harness.published_types()


async def test_a_late_failure_event_does_not_undo_a_completed_payment(
    kit: Kit, harness: Harness
) -> None:
    payment = await pay(harness, "pm_card_visa")

    await deliver(harness, kit, kit.event(payment, "failed", harness.clock.now()))

    after = await harness.services.payments.get(payment.id)
    assert after.status is PaymentStatus.COMPLETED


async def test_a_webhook_changed_by_one_byte_is_refused_and_changes_nothing(
    kit: Kit, harness: Harness
) -> None:
    payment = await pay(harness, "pm_card_authenticationRequired")
    kit.customer_authenticates(payment)
    body, headers = kit.event(payment, "succeeded", harness.clock.now())
    tampered = body.replace(b'"', b"'", 1) if body.count(b'"') else body + b" "

    with pytest.raises(WebhookSignatureError):
        await harness.services.webhooks.receive(kit.name, tampered, headers)

    assert (await harness.services.payments.get(payment.id)).status is PaymentStatus.PROCESSING


async def test_a_stored_webhook_replays_through_translate(kit: Kit, harness: Harness) -> None:
    payment = await pay(harness, "pm_card_authenticationRequired")
    kit.customer_authenticates(payment)
    first = await deliver(harness, kit, kit.event(payment, "succeeded", harness.clock.now()))

    replayed = await harness.services.webhooks.replay(first.webhook_id)

    assert replayed.event_id == first.event_id
    assert replayed.outcome == "unchanged"
    assert (await harness.services.payments.get(payment.id)).status is PaymentStatus.COMPLETED


async def test_a_webhook_completes_a_payment_whose_confirm_timed_out(
    kit: Kit, harness: Harness
) -> None:
    payment = await pay(harness, "pm_card_timeout")
    assert payment.status is PaymentStatus.PROCESSING

    await deliver(harness, kit, kit.event(payment, "succeeded", harness.clock.now()))

    assert (await harness.services.payments.get(payment.id)).status is PaymentStatus.COMPLETED


@pytest.mark.parametrize("name", ["stripe", "paypal", "square"])
async def test_every_request_waits_for_the_client_side_rate_limit(
    name: str, kit_factory: Callable[..., Kit], config: ServiceConfig
) -> None:
    """At 5 requests a second (burst 5), each request past the burst waits 1/5 s: every call
    the adapter sends, retries and token fetches included, takes a token first."""
    kit = kit_factory(name, rate=5.0)
    harness = build_in_memory(
        provider=kit.provider,  # type: ignore[arg-type]
        config=attrs.evolve(config, default_provider=kit.name),
        randbelow=lambda n: 0,
    )
    for _ in range(3):
        await pay(harness, "pm_card_visa")  # created and confirmed
    assert kit.standin is not None
    sent = len(kit.standin.requests)
    assert sent > 5
    assert kit.pace.waited == pytest.approx((sent - 5) / 5)

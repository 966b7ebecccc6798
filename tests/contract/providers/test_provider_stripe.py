"""Stripe specifics: the wire format, Retry-After, and refunds whose answer was lost."""

from __future__ import annotations

from collections.abc import Callable
from datetime import timedelta
from uuid import uuid4

import attrs
import pytest
from provider_standins._server import Faults
from provider_standins.kits import RETURN_URL, Kit, StripeKit

from payment_adapters.providers.ratelimit import TokenBucket
from payment_adapters.providers.stripe import StripeProvider
from payment_core.model.payment import PaymentStatus
from payment_core.model.refund import RefundStatus
from payment_core.services import CreatePayment, RetryPolicy, ServiceConfig
from payment_core.testing import Harness, build_in_memory


def harness_for(kit: Kit, **config: object) -> Harness:
    base = ServiceConfig(default_provider=kit.name, reconcile_after=timedelta(minutes=5))
    return build_in_memory(
        provider=kit.provider,  # type: ignore[arg-type]
        config=attrs.evolve(base, **config),
        randbelow=lambda n: 0,
    )


async def paid(harness: Harness, method: str = "pm_card_visa", amount: int = 12500):
    payment = await harness.services.payments.create(
        CreatePayment(booking_id=uuid4(), guest_id=uuid4(), amount=amount, currency="EUR")
    )
    return await harness.services.payments.confirm(payment.id, method)


@pytest.fixture
def kit(kit_factory: Callable[..., Kit]) -> StripeKit:
    kit = kit_factory("stripe")
    assert isinstance(kit, StripeKit)
    return kit


async def test_every_call_is_form_encoded_with_our_idempotency_key(kit: StripeKit) -> None:
    harness = harness_for(kit)
    payment = await paid(harness)
    refund = await harness.services.refunds.create(payment.id, 500, "requested_by_customer")

    create, confirm, refund_post = kit.stripe.find("POST")
    for request in (create, confirm, refund_post):
        assert request.header("authorization") == f"Bearer {kit.stripe.api_key}"
        assert request.header("content-type") == "application/x-www-form-urlencoded"
        assert request.header("stripe-version")
    assert create.path == "/v1/payment_intents"
    assert create.header("idempotency-key") == f"payment-{payment.id}-create"
    assert create.params["amount"] == "12500"
    assert create.params["currency"] == "eur"
    assert create.params["metadata"]["payment_id"] == str(payment.id)
    assert create.params["confirm"] == "false"
    assert create.params["allowed_payment_method_types"] == ["card"]
    assert confirm.path == f"/v1/payment_intents/{payment.provider_payment_id}/confirm"
    assert confirm.header("idempotency-key") == f"payment-{payment.id}-confirm"
    assert confirm.params["payment_method"] == "pm_card_visa"
    assert confirm.params["return_url"] == RETURN_URL
    assert refund_post.path == "/v1/refunds"
    assert refund_post.header("idempotency-key") == f"refund-{refund.id}-0"
    assert refund_post.params["payment_intent"] == payment.provider_payment_id
    assert refund_post.params["amount"] == "500"
    assert refund_post.params["reason"] == "requested_by_customer"
    assert refund_post.params["metadata"]["refund_id"] == str(refund.id)


async def test_a_429_is_retried_after_retry_after_with_the_same_key(kit: StripeKit) -> None:
    harness = harness_for(kit)
    payment = await harness.services.payments.create(
        CreatePayment(booking_id=uuid4(), guest_id=uuid4(), amount=700, currency="EUR")
    )
    once = iter([True])
    kit.stripe.faults = Faults(
        rate_limited=1.0,
        retry_after=2,
        applies=lambda method, path: path.endswith("/confirm") and next(once, False),
    )

    confirmed = await harness.services.payments.confirm(payment.id, "pm_card_visa")

    assert confirmed.status is PaymentStatus.COMPLETED
    attempts = kit.stripe.find("POST", f"/v1/payment_intents/{payment.provider_payment_id}/confirm")
    assert [a.status for a in attempts] == [429, 200]
    assert {a.header("idempotency-key") for a in attempts} == {f"payment-{payment.id}-confirm"}
    assert kit.sleep.waits == [2.0]


async def test_a_long_retry_after_reports_the_outcome_unknown_at_once(kit: StripeKit) -> None:
    harness = harness_for(kit)
    payment = await harness.services.payments.create(
        CreatePayment(booking_id=uuid4(), guest_id=uuid4(), amount=700, currency="EUR")
    )
    kit.stripe.faults = Faults(
        rate_limited=1.0, retry_after=60, applies=lambda method, path: path.endswith("/confirm")
    )

    confirmed = await harness.services.payments.confirm(payment.id, "pm_card_visa")

    assert confirmed.status is PaymentStatus.PROCESSING
    assert len(kit.stripe.find("POST", "/v1/payment_intents/pi_")) == 1
    assert kit.sleep.waits == []


async def test_reconciliation_confirms_an_intent_our_confirm_never_reached(kit: StripeKit) -> None:
    harness = harness_for(kit)
    payment = await harness.services.payments.create(
        CreatePayment(booking_id=uuid4(), guest_id=uuid4(), amount=700, currency="EUR")
    )
    kit.stripe.faults = Faults(server_error=1.0, applies=lambda m, path: path.endswith("/confirm"))
    assert (await harness.services.payments.confirm(payment.id, "pm_card_visa")).status is (
        PaymentStatus.PROCESSING
    )
    kit.stripe.faults = None

    harness.clock.advance(minutes=6)
    await harness.services.reconciliation.sweep()

    settled = await harness.services.payments.get(payment.id)
    assert settled.status is PaymentStatus.COMPLETED
    assert kit.charges(settled) == 1


async def test_a_lost_refund_answer_is_found_by_its_key_and_not_made_again(kit: StripeKit) -> None:
    harness = harness_for(kit, refund_retry=RetryPolicy(max_attempts=1))
    payment = await paid(harness)
    # Every refund POST is carried out, and its answer lost.
    kit.stripe.faults = Faults(
        timeout=1.0, applies=lambda method, path: method == "POST" and path == "/v1/refunds"
    )

    refund = await harness.services.refunds.create(payment.id, 2000)

    assert refund.status is RefundStatus.PROCESSING  # unknown, out of attempts: never guessed
    posts = len(kit.stripe.find("POST", "/v1/refunds"))
    harness.clock.advance(minutes=6)
    await harness.services.reconciliation.sweep()

    settled = await harness.services.refunds.get(refund.id)
    assert settled.status is RefundStatus.COMPLETED
    assert len(kit.stripe.find("POST", "/v1/refunds")) == posts  # found, not asked again
    assert kit.refunded(payment) == 2000


async def test_a_refund_that_never_happened_is_made_by_reconciliation_under_its_key(
    kit: StripeKit,
) -> None:
    harness = harness_for(kit, refund_retry=RetryPolicy(max_attempts=1))
    payment = await paid(harness)
    kit.stripe.faults = Faults(server_error=1.0, applies=lambda m, path: path == "/v1/refunds")
    refund = await harness.services.refunds.create(payment.id, 2000)
    assert refund.status is RefundStatus.PROCESSING
    kit.stripe.faults = None

    harness.clock.advance(minutes=6)
    await harness.services.reconciliation.sweep()

    assert (await harness.services.refunds.get(refund.id)).status is RefundStatus.COMPLETED
    keys = {r.header("idempotency-key") for r in kit.stripe.find("POST", "/v1/refunds")}
    assert keys == {f"refund-{refund.id}-0"}
    assert kit.refunded(payment) == 2000


async def test_a_refund_failing_after_it_succeeded_is_reversed_by_its_webhook(
    kit: StripeKit,
) -> None:
    harness = harness_for(kit)
    payment = await paid(harness)
    refund = await harness.services.refunds.create(payment.id, 2000)
    assert refund.provider_refund_id is not None

    failed = kit.stripe.fail_refund(refund.provider_refund_id)
    body, headers = kit.stripe_event("charge.refund.updated", failed, harness.clock.now())
    result = await harness.services.webhooks.receive("stripe", body, headers)

    assert result.outcome == "reversed"
    assert (await harness.services.refunds.get(refund.id)).status is RefundStatus.FAILED
    assert (await harness.services.payments.get(payment.id)).refundable == 12500


async def test_without_a_return_url_3ds_is_left_to_stripe_js(kit: StripeKit) -> None:
    provider = StripeProvider(
        kit.stripe.api_key,
        api_base=kit.stripe.base_url,
        backoff=kit.backoff,
        rate_limiter=TokenBucket(1000),
    )
    try:
        harness = build_in_memory(
            provider=provider,  # type: ignore[arg-type]
            config=ServiceConfig(default_provider="stripe"),
        )
        payment = await paid(harness, "pm_card_authenticationRequired")
    finally:
        await provider.aclose()

    assert payment.status is PaymentStatus.PROCESSING
    assert payment.next_action is not None
    assert payment.next_action.type == "use_stripe_sdk"
    assert payment.client_secret

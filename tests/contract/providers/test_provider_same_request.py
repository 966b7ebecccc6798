"""Every request sent again under one idempotency key is the very same request.

Stripe refuses a key reused with other parameters (``idempotency_error``); PayPal answers a
request id used before with that first request's answer, or refuses it for another request.
(The contract suite checks every test for such a reuse at teardown; these are the paths that
once made one.)
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import timedelta
from uuid import uuid4

import attrs
import pytest
from provider_standins._server import Faults
from provider_standins.kits import Kit, PayPalKit, StripeKit

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


@pytest.fixture
def stripe(kit_factory: Callable[..., Kit]) -> StripeKit:
    kit = kit_factory("stripe")
    assert isinstance(kit, StripeKit)
    return kit


@pytest.fixture
def paypal(kit_factory: Callable[..., Kit]) -> PayPalKit:
    kit = kit_factory("paypal")
    assert isinstance(kit, PayPalKit)
    return kit


async def test_a_stripe_refund_made_again_after_a_lost_answer_is_the_same_request(
    stripe: StripeKit,
) -> None:
    """Stripe keeps a 500 for its key once the endpoint began: reconciliation, finding no
    refund, asks again under that key, with the reason and metadata of the first request."""
    harness = harness_for(stripe, refund_retry=RetryPolicy(max_attempts=1))
    payment = await harness.services.payments.create(
        CreatePayment(booking_id=uuid4(), guest_id=uuid4(), amount=12500, currency="EUR")
    )
    payment = await harness.services.payments.confirm(payment.id, "pm_card_visa")
    stripe.stripe.faults = Faults(
        stored_server_error=1.0, applies=lambda method, path: path == "/v1/refunds"
    )
    refund = await harness.services.refunds.create(payment.id, 2000, "requested_by_customer")
    assert refund.status is RefundStatus.PROCESSING  # unknown: never guessed
    first = len(stripe.stripe.find("POST", "/v1/refunds"))

    harness.clock.advance(minutes=6)
    await harness.services.reconciliation.sweep()

    posts = stripe.stripe.find("POST", "/v1/refunds")
    assert len(posts) > first  # asked again, having found nothing
    assert {p.body for p in posts} == {posts[0].body}
    assert {p.header("idempotency-key") for p in posts} == {f"refund-{refund.id}-0"}
    assert stripe.stripe.conflicts == []
    assert (await harness.services.refunds.get(refund.id)).status is RefundStatus.PROCESSING

    # Stripe forgets the key after 24 hours; the same request then makes the refund.
    stripe.stripe.faults = None
    with stripe.stripe.lock:
        stripe.stripe._idempotency.clear()
    harness.clock.advance(hours=2)
    await harness.services.reconciliation.sweep()

    assert (await harness.services.refunds.get(refund.id)).status is RefundStatus.COMPLETED
    (made,) = stripe.stripe.refunds.values()
    assert made.reason == "requested_by_customer"
    assert made.metadata["payment_id"] == str(payment.id)
    assert stripe.refunded(payment) == 2000


async def test_paypal_captures_an_approved_order_under_a_key_of_its_own(
    paypal: PayPalKit,
) -> None:
    """Reconciliation first captured with the vaulted card (3-D Secure stopped it); once the
    buyer approved, capturing what was approved is another request, under another key."""
    harness = harness_for(paypal)
    payment = await harness.services.payments.create(
        CreatePayment(booking_id=uuid4(), guest_id=uuid4(), amount=4000, currency="EUR")
    )
    paypal.paypal.faults = Faults(
        server_error=1.0, applies=lambda method, path: path.endswith("/capture")
    )
    confirmed = await harness.services.payments.confirm(
        payment.id, "pm_card_authenticationRequired"
    )
    assert confirmed.status is PaymentStatus.PROCESSING  # every capture lost before PayPal
    paypal.paypal.faults = None

    harness.clock.advance(minutes=6)
    await harness.services.reconciliation.sweep()
    waiting = await harness.services.payments.get(payment.id)
    assert waiting.next_action is not None  # PayPal wants the buyer
    paypal.paypal.approve(payment.provider_payment_id or "", capture=False)
    harness.clock.advance(hours=2)
    await harness.services.reconciliation.sweep()

    settled = await harness.services.payments.get(payment.id)
    assert settled.status is PaymentStatus.COMPLETED
    assert paypal.charges(settled) == 1
    captures = paypal.paypal.find("POST", f"/v2/checkout/orders/{payment.provider_payment_id}")
    keys = [c.header("paypal-request-id") for c in captures if c.status is not None]
    assert keys[-2:] == [
        f"payment-{payment.id}-reconcile",
        f"payment-{payment.id}-reconcile-approved",
    ]

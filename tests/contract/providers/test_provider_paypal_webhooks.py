"""PayPal webhooks: the signing certificate is fetched without stopping the event loop, and a
redelivery that keeps its first transmission time is accepted (once).

PayPal retries a delivery "up to 25 times over 3 days" (developer.paypal.com/api/rest/webhooks/
rest) and does not say that a retry is signed with a new transmission time; the official Java
SDK's verifier checks the certificate and the signature, never the age.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator, Callable
from datetime import datetime, timedelta
from uuid import uuid4

import pytest
from provider_standins.kits import PAYPAL_WEBHOOK_ID, Delivery, Kit, PayPalKit
from provider_standins.paypal import CERT_PATH

from payment_adapters.providers.paypal import PayPalProvider
from payment_adapters.providers.ratelimit import TokenBucket
from payment_core.errors import WebhookSignatureError
from payment_core.model.payment import Payment, PaymentStatus
from payment_core.services import CreatePayment, ServiceConfig
from payment_core.testing import Harness, build_in_memory


@pytest.fixture
def kit(kit_factory: Callable[..., Kit]) -> PayPalKit:
    kit = kit_factory("paypal")
    assert isinstance(kit, PayPalKit)
    return kit


def harness_for(provider: object) -> Harness:
    return build_in_memory(
        provider=provider,  # type: ignore[arg-type]
        config=ServiceConfig(default_provider="paypal", reconcile_after=timedelta(minutes=5)),
    )


async def captured_at_paypal(kit: PayPalKit, harness: Harness) -> Payment:
    """A payment whose capture PayPal made after 3-D Secure: its webhook will settle it."""
    payment = await harness.services.payments.create(
        CreatePayment(booking_id=uuid4(), guest_id=uuid4(), amount=4000, currency="EUR")
    )
    waiting = await harness.services.payments.confirm(payment.id, "pm_card_authenticationRequired")
    assert waiting.status is PaymentStatus.PROCESSING
    kit.customer_authenticates(waiting)
    return waiting


class Ticker:
    """Counts while the event loop is free to run it."""

    def __init__(self) -> None:
        self.ticks = 0
        self._stop = asyncio.Event()

    async def run(self) -> None:
        while not self._stop.is_set():
            self.ticks += 1
            await asyncio.sleep(0.01)

    def stop(self) -> None:
        self._stop.set()


@pytest.fixture
async def ticker() -> AsyncIterator[Ticker]:
    ticker = Ticker()
    task = asyncio.create_task(ticker.run())
    yield ticker
    ticker.stop()
    await task


def cert_fetches(kit: PayPalKit) -> int:
    return len(kit.paypal.find("GET", CERT_PATH))


async def test_a_slow_certificate_does_not_stop_the_event_loop(
    kit: PayPalKit, ticker: Ticker
) -> None:
    harness = harness_for(kit.provider)
    payment = await captured_at_paypal(kit, harness)
    kit.paypal.cert_delay = 0.5
    body, headers = kit.event(payment, "succeeded", harness.clock.now())

    before = ticker.ticks
    result = await harness.services.webhooks.receive("paypal", body, headers)

    assert result.outcome == "settled"
    assert (await harness.services.payments.get(payment.id)).status is PaymentStatus.COMPLETED
    assert ticker.ticks - before >= 20  # the loop ran all through the half-second fetch
    assert cert_fetches(kit) == 1


async def test_a_certificate_that_does_not_come_in_time_refuses_the_delivery(
    kit: PayPalKit, ticker: Ticker
) -> None:
    provider = PayPalProvider(
        kit.paypal.client_id,
        kit.paypal.client_secret,
        webhook_id=PAYPAL_WEBHOOK_ID,
        api_base=kit.paypal.base_url,
        rate_limiter=TokenBucket(1000),
        cert_origins=(kit.paypal.base_url,),
        cert_timeout=0.2,
    )
    try:
        harness = harness_for(provider)
        payment = await captured_at_paypal(kit, harness)
        kit.paypal.cert_delay = 1.5
        body, headers = kit.event(payment, "succeeded", harness.clock.now())
        started, before = time.monotonic(), ticker.ticks

        with pytest.raises(WebhookSignatureError):
            await harness.services.webhooks.receive("paypal", body, headers)

        assert time.monotonic() - started < 1.0
        assert ticker.ticks > before
        assert (await harness.services.payments.get(payment.id)).status is (
            PaymentStatus.PROCESSING
        )
    finally:
        await provider.aclose()


async def test_deliveries_arriving_together_wait_for_one_certificate_fetch(
    kit: PayPalKit,
) -> None:
    harness = harness_for(kit.provider)
    payment = await captured_at_paypal(kit, harness)
    kit.paypal.cert_delay = 0.3
    now = harness.clock.now()
    deliveries = [kit.event(payment, "succeeded", now, event_id=f"WH-{n}") for n in range(3)]

    results = await asyncio.gather(
        *(harness.services.webhooks.receive("paypal", b, h) for b, h in deliveries)
    )

    assert [r.outcome for r in results].count("settled") == 1  # every one verified
    assert cert_fetches(kit) == 1


def redelivery(kit: PayPalKit, payment: Payment, sent_ago: timedelta, now: datetime) -> Delivery:
    """The delivery PayPal first sent ``sent_ago``, as it arrives again now."""
    return kit.event(payment, "succeeded", now - sent_ago, event_id="WH-REDELIVERED")


async def test_a_redelivery_with_its_first_transmission_time_is_accepted_once(
    kit: PayPalKit,
) -> None:
    harness = harness_for(kit.provider)
    payment = await captured_at_paypal(kit, harness)
    body, headers = redelivery(kit, payment, timedelta(days=2, hours=20), harness.clock.now())

    first = await harness.services.webhooks.receive("paypal", body, headers)
    again = await harness.services.webhooks.receive("paypal", body, headers)

    assert first.outcome == "settled"
    assert (await harness.services.payments.get(payment.id)).status is PaymentStatus.COMPLETED
    assert again.duplicate


async def test_a_delivery_older_than_paypal_s_redeliveries_is_refused(kit: PayPalKit) -> None:
    harness = harness_for(kit.provider)
    payment = await captured_at_paypal(kit, harness)
    body, headers = redelivery(kit, payment, timedelta(days=4, minutes=1), harness.clock.now())

    with pytest.raises(WebhookSignatureError):
        await harness.services.webhooks.receive("paypal", body, headers)
    assert (await harness.services.payments.get(payment.id)).status is PaymentStatus.PROCESSING

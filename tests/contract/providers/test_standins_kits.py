"""The kits' new moves, through today's adapters: a payment with ``pm_card_createDispute`` is
disputed at the stand-in, and the dispute webhooks the stand-in sends pass the adapter's own
signature check (so the dispute work starts from deliveries the real verifiers accept).
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime
from uuid import uuid4

import attrs
import pytest
from provider_standins.kits import Kit

from payment_core.errors import WebhookSignatureError
from payment_core.model.payment import Payment, PaymentStatus
from payment_core.services import CreatePayment, ServiceConfig
from payment_core.testing import Harness, build_in_memory

KitFactory = Callable[..., Kit]


@pytest.fixture(params=("stripe", "paypal", "square"))
def kit(request: pytest.FixtureRequest, kit_factory: KitFactory) -> Kit:
    return kit_factory(request.param)


@pytest.fixture
def harness(kit: Kit, config: ServiceConfig) -> Harness:
    return build_in_memory(
        provider=kit.provider,  # type: ignore[arg-type]
        config=attrs.evolve(config, default_provider=kit.name),
        randbelow=lambda n: 0,
    )


async def pay(harness: Harness, method: str) -> Payment:
    payment = await harness.services.payments.create(
        CreatePayment(booking_id=uuid4(), guest_id=uuid4(), amount=9900, currency="EUR")
    )
    return await harness.services.payments.confirm(payment.id, method)


async def test_a_dispute_card_is_disputed_and_its_webhooks_pass_the_adapters_check(
    kit: Kit, harness: Harness
) -> None:
    payment = await pay(harness, "pm_card_createDispute")
    assert payment.status is PaymentStatus.COMPLETED
    assert kit.charges(payment) == 1
    deliveries = kit.sent("dispute") + kit.sent("charge.dispute") + kit.sent("CUSTOMER.DISPUTE")
    assert deliveries, "the stand-in sent no dispute webhook"
    now = datetime.now(UTC)
    for body, headers in deliveries:
        await kit.provider.prepare_webhook(headers, now=now)
        event = kit.provider.parse_webhook(body, headers, now=now)
        assert event.id
        with pytest.raises(WebhookSignatureError):
            kit.provider.parse_webhook(body.replace(b"dispute", b"Dispute", 1), headers, now=now)


async def test_a_test_can_open_an_inquiry_on_any_completed_payment(
    kit: Kit, harness: Harness
) -> None:
    payment = await pay(harness, "pm_card_visa")
    assert kit.sent() == []
    kit.open_dispute(payment, inquiry=True)
    [(body, headers)] = kit.sent()
    await kit.provider.prepare_webhook(headers, now=datetime.now(UTC))
    assert kit.provider.parse_webhook(body, headers, now=datetime.now(UTC)).id

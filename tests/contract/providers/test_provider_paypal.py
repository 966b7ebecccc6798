"""PayPal specifics: OAuth2 token caching and refresh, the wire format, the approval flow."""

from __future__ import annotations

import base64
from collections.abc import AsyncIterator, Callable
from datetime import timedelta
from uuid import uuid4

import pytest
from provider_standins.kits import Kit, PayPalKit

from payment_adapters.providers.paypal import PayPalProvider
from payment_adapters.providers.ratelimit import TokenBucket
from payment_core.errors import ProviderRejectedError
from payment_core.model.payment import PaymentStatus
from payment_core.money import Money
from payment_core.ports import CreatePaymentRequest
from payment_core.services import CreatePayment, ServiceConfig
from payment_core.testing import Harness, build_in_memory


class Monotonic:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


@pytest.fixture
def kit(kit_factory: Callable[..., Kit]) -> PayPalKit:
    kit = kit_factory("paypal")
    assert isinstance(kit, PayPalKit)
    return kit


@pytest.fixture
async def clocked(kit: PayPalKit) -> AsyncIterator[tuple[PayPalProvider, Monotonic]]:
    clock = Monotonic()
    provider = PayPalProvider(
        kit.paypal.client_id,
        kit.paypal.client_secret,
        api_base=kit.paypal.base_url,
        backoff=kit.backoff,
        rate_limiter=TokenBucket(1000),
        clock=clock,
    )
    yield provider, clock
    await provider.aclose()


def harness_for(provider: object) -> Harness:
    return build_in_memory(
        provider=provider,  # type: ignore[arg-type]
        config=ServiceConfig(default_provider="paypal", reconcile_after=timedelta(minutes=5)),
    )


async def create_order(provider: PayPalProvider, amount: int = 1000) -> str:
    reply = await provider.create_payment(
        CreatePaymentRequest(
            payment_id=uuid4(), amount=Money.of(amount, "EUR"), idempotency_key=str(uuid4())
        )
    )
    return reply.provider_payment_id


async def test_orders_are_created_with_intent_capture_and_our_request_id(kit: PayPalKit) -> None:
    harness = harness_for(kit.provider)
    payment = await harness.services.payments.create(
        CreatePayment(booking_id=uuid4(), guest_id=uuid4(), amount=12550, currency="EUR")
    )
    payment = await harness.services.payments.confirm(payment.id, "pm_card_visa")
    refund = await harness.services.refunds.create(payment.id, 550)

    token, create, capture, refund_post = kit.paypal.find("POST")
    expected_basic = base64.b64encode(
        f"{kit.paypal.client_id}:{kit.paypal.client_secret}".encode()
    ).decode()
    assert token.path == "/v1/oauth2/token"
    assert token.header("authorization") == f"Basic {expected_basic}"
    assert token.params == {"grant_type": "client_credentials"}
    assert create.header("paypal-request-id") == f"payment-{payment.id}-create"
    assert create.params["intent"] == "CAPTURE"
    unit = create.params["purchase_units"][0]
    assert unit["amount"] == {"currency_code": "EUR", "value": "125.50"}
    assert unit["custom_id"] == str(payment.id)
    assert capture.path == f"/v2/checkout/orders/{payment.provider_payment_id}/capture"
    assert capture.header("paypal-request-id") == f"payment-{payment.id}-confirm"
    assert capture.params == {"payment_source": {"card": {"vault_id": "pm_card_visa"}}}
    assert refund_post.header("paypal-request-id") == f"refund-{refund.id}-0"
    assert refund_post.params["amount"] == {"currency_code": "EUR", "value": "5.50"}
    for request in (create, capture, refund_post):
        assert (
            request.header(
                "authorization",
            )
            == f"Bearer {next(iter(kit.paypal.tokens))}"
        )
        assert request.header("content-type") == "application/json"


async def test_the_access_token_is_fetched_once_and_reused(
    kit: PayPalKit, clocked: tuple[PayPalProvider, Monotonic]
) -> None:
    provider, _ = clocked
    for _ in range(4):
        await create_order(provider)

    assert kit.paypal.tokens_issued == 1


async def test_the_access_token_is_refreshed_before_it_expires(
    kit: PayPalKit, clocked: tuple[PayPalProvider, Monotonic]
) -> None:
    provider, clock = clocked
    kit.paypal.token_lifetime = 900  # refreshed 300 s ahead of its expiry
    await create_order(provider)

    clock.now += 599
    await create_order(provider)
    assert kit.paypal.tokens_issued == 1

    clock.now += 2
    await create_order(provider)
    assert kit.paypal.tokens_issued == 2


async def test_a_revoked_token_is_replaced_once_and_the_call_goes_through(
    kit: PayPalKit, clocked: tuple[PayPalProvider, Monotonic]
) -> None:
    provider, _ = clocked
    await create_order(provider)
    kit.paypal.revoke_tokens()

    order_id = await create_order(provider)

    assert order_id in kit.paypal.orders
    assert kit.paypal.tokens_issued == 2
    statuses = [r.status for r in kit.paypal.find("POST", "/v2/checkout/orders")]
    assert statuses == [201, 401, 201]


async def test_wrong_client_credentials_are_a_rejection(kit: PayPalKit) -> None:
    provider = PayPalProvider(
        "not-the-client", "not-the-secret", api_base=kit.paypal.base_url, backoff=kit.backoff
    )
    try:
        with pytest.raises(ProviderRejectedError) as caught:
            await create_order(provider)
    finally:
        await provider.aclose()
    assert caught.value.reason_code == "authentication_failed"


async def test_the_approval_flow_waits_for_the_buyer_then_reconciliation_captures(
    kit: PayPalKit,
) -> None:
    harness = harness_for(kit.provider)
    payment = await harness.services.payments.create(
        CreatePayment(booking_id=uuid4(), guest_id=uuid4(), amount=4000, currency="EUR")
    )

    waiting = await harness.services.payments.confirm(payment.id, "paypal")

    assert waiting.status is PaymentStatus.PROCESSING
    assert waiting.next_action is not None
    assert "checkoutnow?token=" in waiting.next_action.url
    kit.paypal.approve(payment.provider_payment_id or "", capture=False)  # the buyer approves
    harness.clock.advance(minutes=6)
    await harness.services.reconciliation.sweep()

    settled = await harness.services.payments.get(payment.id)
    assert settled.status is PaymentStatus.COMPLETED
    assert kit.charges(settled) == 1


async def test_whole_unit_currencies_are_sent_without_decimals(kit: PayPalKit) -> None:
    provider = kit.provider
    assert isinstance(provider, PayPalProvider)
    order_id = await create_order_in(provider, Money.of(123400, "HUF"))

    sent = kit.paypal.find("POST", "/v2/checkout/orders")[-1].params
    assert sent["purchase_units"][0]["amount"] == {"currency_code": "HUF", "value": "1234"}
    assert kit.paypal.orders[order_id].amount == 123400
    with pytest.raises(ProviderRejectedError):
        await create_order_in(provider, Money.of(123450, "HUF"))


async def create_order_in(provider: PayPalProvider, amount: Money) -> str:
    reply = await provider.create_payment(
        CreatePaymentRequest(payment_id=uuid4(), amount=amount, idempotency_key=str(uuid4()))
    )
    assert reply.amount == amount
    return reply.provider_payment_id

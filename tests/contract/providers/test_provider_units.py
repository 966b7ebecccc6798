"""Amounts in each provider's own unit: ours stay ISO 4217 minor units, the wire takes theirs.

Stripe writes ISK and UGX with two decimals that are always ``00`` (an ISK ``amount`` of 100 is
one króna), MGA without decimals, KWD and the other three-decimal currencies with a last digit
0; PayPal takes HUF, JPY and TWD without decimals; Square takes ISO's smallest unit.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from datetime import timedelta
from uuid import uuid4

import pytest
from hypothesis import given
from hypothesis import strategies as st
from provider_standins.kits import Kit, PayPalKit, SquareKit, StripeKit

from payment_adapters.providers._units import ProviderUnits
from payment_adapters.providers.paypal import PayPalProvider
from payment_adapters.providers.paypal._transformers import PAYPAL_UNITS
from payment_adapters.providers.square._transformers import SQUARE_UNITS
from payment_adapters.providers.stripe import StripeProvider
from payment_adapters.providers.stripe._transformers import STRIPE_UNITS
from payment_core.errors import ProviderRejectedError
from payment_core.model.payment import PaymentStatus
from payment_core.model.refund import RefundStatus
from payment_core.money import MAX_AMOUNT, Currency, Money
from payment_core.ports import CreatePaymentRequest, WebhookKind
from payment_core.services import CreatePayment, ServiceConfig
from payment_core.testing import Harness, build_in_memory


def harness_for(kit: Kit) -> Harness:
    return build_in_memory(
        provider=kit.provider,  # type: ignore[arg-type]
        config=ServiceConfig(default_provider=kit.name, reconcile_after=timedelta(minutes=5)),
    )


@pytest.fixture
def stripe(kit_factory: Callable[..., Kit]) -> StripeKit:
    kit = kit_factory("stripe")
    assert isinstance(kit, StripeKit)
    return kit


async def test_an_isk_payment_and_refund_go_to_stripe_in_its_two_decimal_unit(
    stripe: StripeKit,
) -> None:
    harness = harness_for(stripe)
    payment = await harness.services.payments.create(
        CreatePayment(booking_id=uuid4(), guest_id=uuid4(), amount=500, currency="ISK")
    )

    paid = await harness.services.payments.confirm(payment.id, "pm_card_visa")
    refund = await harness.services.refunds.create(payment.id, 120)

    # 500 krónur are 50000 at Stripe; the reply's 50000 is read back as our 500.
    assert stripe.stripe.find("POST", "/v1/payment_intents")[0].params["amount"] == "50000"
    assert paid.status is PaymentStatus.COMPLETED
    assert paid.amount == Money.of(500, "ISK")
    assert stripe.stripe.find("POST", "/v1/refunds")[0].params["amount"] == "12000"
    assert refund.status is RefundStatus.COMPLETED


async def test_an_mga_amount_goes_to_stripe_without_decimals(stripe: StripeKit) -> None:
    harness = harness_for(stripe)
    payment = await harness.services.payments.create(
        CreatePayment(booking_id=uuid4(), guest_id=uuid4(), amount=1_234_500, currency="MGA")
    )

    paid = await harness.services.payments.confirm(payment.id, "pm_card_visa")

    assert stripe.stripe.find("POST", "/v1/payment_intents")[0].params["amount"] == "12345"
    assert paid.status is PaymentStatus.COMPLETED


@pytest.mark.parametrize(
    ("amount", "currency"),
    [(1235, "KWD"), (1_234_550, "MGA")],
    ids=["KWD 1.235 (Stripe's last digit must be 0)", "MGA 12345.50 (whole ariary at Stripe)"],
)
async def test_an_amount_stripe_cannot_take_is_refused_before_any_request(
    stripe: StripeKit, amount: int, currency: str
) -> None:
    harness = harness_for(stripe)
    with pytest.raises(ProviderRejectedError) as refused:
        await harness.services.payments.create(
            CreatePayment(booking_id=uuid4(), guest_id=uuid4(), amount=amount, currency=currency)
        )

    assert refused.value.reason_code == "amount_not_representable"
    assert currency in refused.value.message
    assert stripe.stripe.find("POST") == []


async def test_a_three_decimal_amount_with_a_last_zero_goes_as_it_is(stripe: StripeKit) -> None:
    harness = harness_for(stripe)
    payment = await harness.services.payments.create(
        CreatePayment(booking_id=uuid4(), guest_id=uuid4(), amount=1230, currency="KWD")
    )

    paid = await harness.services.payments.confirm(payment.id, "pm_card_visa")

    assert stripe.stripe.find("POST", "/v1/payment_intents")[0].params["amount"] == "1230"
    assert paid.status is PaymentStatus.COMPLETED


def _stripe_event(obj: dict[str, object]) -> bytes:
    return json.dumps(
        {
            "id": "evt_units",
            "object": "event",
            "type": "payment_intent.succeeded",
            "created": 1_767_268_800,
            "data": {"object": obj},
        }
    ).encode()


@pytest.mark.parametrize(
    ("stripe_amount", "currency", "ours"),
    [(50000, "isk", Money.of(500, "ISK")), (12345, "mga", Money.of(1_234_500, "MGA"))],
)
def test_a_stripe_webhook_amount_is_read_in_stripe_s_unit(
    stripe_amount: int, currency: str, ours: Money
) -> None:
    provider = StripeProvider("sk_test_units")
    event = provider.translate_webhook(
        _stripe_event(
            {
                "id": "pi_1",
                "object": "payment_intent",
                "amount": stripe_amount,
                "currency": currency,
            }
        )
    )

    assert event.kind is WebhookKind.PAYMENT_SUCCEEDED
    assert event.amount == ours


def test_a_stripe_isk_amount_that_is_no_whole_krona_is_no_amount_of_ours() -> None:
    provider = StripeProvider("sk_test_units")
    event = provider.translate_webhook(
        _stripe_event({"id": "pi_1", "object": "payment_intent", "amount": 150, "currency": "isk"})
    )
    assert event.amount is None  # never read as 150 krónur, nor rounded


@pytest.fixture
def paypal(kit_factory: Callable[..., Kit]) -> PayPalKit:
    kit = kit_factory("paypal")
    assert isinstance(kit, PayPalKit)
    return kit


async def test_paypal_takes_twd_in_whole_dollars_and_refuses_cents(paypal: PayPalKit) -> None:
    provider = paypal.provider
    assert isinstance(provider, PayPalProvider)

    reply = await provider.create_payment(
        CreatePaymentRequest(
            payment_id=uuid4(), amount=Money.of(123_400, "TWD"), idempotency_key=str(uuid4())
        )
    )
    with pytest.raises(ProviderRejectedError) as refused:
        await provider.create_payment(
            CreatePaymentRequest(
                payment_id=uuid4(), amount=Money.of(123_450, "TWD"), idempotency_key=str(uuid4())
            )
        )

    sent = paypal.paypal.find("POST", "/v2/checkout/orders")
    assert [r.params["purchase_units"][0]["amount"]["value"] for r in sent] == ["1234"]
    assert reply.amount == Money.of(123_400, "TWD")  # PayPal's "1234" read back
    assert refused.value.reason_code == "amount_not_representable"


async def test_square_takes_iso_s_smallest_unit(kit_factory: Callable[..., Kit]) -> None:
    square = kit_factory("square")
    assert isinstance(square, SquareKit)
    harness = harness_for(square)
    payment = await harness.services.payments.create(
        CreatePayment(booking_id=uuid4(), guest_id=uuid4(), amount=5000, currency="JPY")
    )

    paid = await harness.services.payments.confirm(payment.id, "pm_card_visa")

    sent = next(r for r in square.square.find("POST") if r.path == "/v2/payments")
    assert sent.params["amount_money"] == {"amount": 5000, "currency": "JPY"}
    assert paid.status is PaymentStatus.COMPLETED


@given(
    currency=st.sampled_from(Currency.all()),
    amount=st.integers(min_value=1, max_value=MAX_AMOUNT),
    units=st.sampled_from([STRIPE_UNITS, PAYPAL_UNITS, SQUARE_UNITS]),
)
def test_an_amount_goes_out_and_comes_back_the_same_or_is_refused(
    currency: Currency, amount: int, units: ProviderUnits
) -> None:
    """Never rounded: an amount is sent exactly, or refused when it is no multiple of what
    the provider can take."""
    money = Money(amount, currency)
    if amount % units.quantum(currency):
        with pytest.raises(ProviderRejectedError):
            units.to_provider(money)
        return
    assert units.from_provider(units.to_provider(money), currency) == money
    if units.exponent(currency) <= currency.exponent:
        # Decimal text (PayPal's) is the same amount, whoever reads it.
        assert Money.parse(units.to_decimal_text(money), currency) == money

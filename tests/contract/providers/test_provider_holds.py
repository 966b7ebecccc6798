"""Holds and saved cards through every provider: the fake one and Square make them (Square's own
tests: test_provider_square_holds.py); Stripe and PayPal refuse them (422
``not_supported_by_provider``) until their adapters make them, before anything is saved or sent,
so that nothing is half done silently."""

from __future__ import annotations

from uuid import uuid4

import pytest
from provider_standins.kits import Kit

from payment_core.errors import NotSupportedByProviderError
from payment_core.model.payment import CaptureMethod, PaymentStatus
from payment_core.money import Currency, Money
from payment_core.ports import (
    CapturePaymentRequest,
    ConfirmPaymentRequest,
    CreatePaymentRequest,
    DetachPaymentMethodRequest,
    IncrementAuthorizationRequest,
    ProviderCapabilities,
)
from payment_core.services import CreatePayment
from payment_core.testing import Harness

EUR = Currency.of("EUR")


def _command(**fields: object) -> CreatePayment:
    return CreatePayment(
        booking_id=uuid4(),
        guest_id=uuid4(),
        amount=5_000,
        currency="EUR",
        payment_method="pm_card_visa",
        confirm=True,
        **fields,  # type: ignore[arg-type]
    )


@pytest.mark.parametrize(
    "fields",
    [
        {"capture_method": "manual"},
        {"setup_future_usage": "off_session"},
    ],
    ids=["hold", "save"],
)
async def test_a_hold_or_a_saved_card_is_made_or_refused_before_anything(
    kit: Kit, harness: Harness, fields: dict[str, object]
) -> None:
    if kit.name in ("fake", "square"):
        payment = await harness.services.payments.create(_command(**fields))
        assert payment.status in (PaymentStatus.AUTHORIZED, PaymentStatus.COMPLETED)
        return
    assert kit.provider.capabilities == ProviderCapabilities()
    with pytest.raises(NotSupportedByProviderError) as refused:
        await harness.services.payments.create(_command(**fields))
    assert refused.value.code == "not_supported_by_provider"
    assert harness.store.payments == {}
    if kit.standin is not None:
        assert kit.standin.requests == []


@pytest.mark.parametrize("name", ["stripe", "paypal"])
async def test_the_adapters_refuse_what_they_do_not_make(kit_factory, name: str) -> None:
    kit = kit_factory(name)
    provider = kit.provider
    money, payment_id = Money(5_000, EUR), uuid4()
    for call in (
        provider.create_payment(
            CreatePaymentRequest(payment_id, money, "k1", capture_method=CaptureMethod.MANUAL)
        ),
        provider.confirm_payment(
            ConfirmPaymentRequest(payment_id, "x", money, "pm_card_visa", "k2", off_session=True)
        ),
        provider.create_payment(
            CreatePaymentRequest(payment_id, money, "k3", setup_future_usage="off_session")
        ),
        provider.capture_payment(CapturePaymentRequest(payment_id, "x", money, money, "k4")),
        provider.increment_authorization(
            IncrementAuthorizationRequest(payment_id, "x", money, money, "k5")
        ),
        provider.detach_payment_method(DetachPaymentMethodRequest(uuid4(), "tok", None, "k6")),
    ):
        with pytest.raises(NotSupportedByProviderError):
            await call
    assert kit.standin is not None
    assert kit.standin.requests == []  # refused here, never sent

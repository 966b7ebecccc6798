"""Holds and saved cards through every provider: the fake one, Stripe, PayPal and Square make
them (``test_provider_stripe_holds.py``, ``test_provider_paypal_holds.py`` and
``test_provider_square_holds.py`` have each in detail). An adapter that does not make them yet
(``_unsupported.WithoutHolds``) refuses them (422 ``not_supported_by_provider``) before
anything is sent, so that nothing is half done silently."""

from __future__ import annotations

from uuid import uuid4

import pytest
from provider_standins.kits import Kit

from payment_adapters.providers._unsupported import WithoutHolds, refuse_unsupported
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
async def test_every_provider_makes_a_hold_and_saves_a_card(
    kit: Kit, harness: Harness, fields: dict[str, object]
) -> None:
    payment = await harness.services.payments.create(_command(**fields))
    assert payment.status is (
        PaymentStatus.AUTHORIZED if "capture_method" in fields else PaymentStatus.COMPLETED
    )
    saved = fields.get("setup_future_usage") is not None
    assert (payment.payment_method_id is not None) is saved


class _NoHolds(WithoutHolds):
    """An adapter that takes money at once and nothing else (yet)."""

    @property
    def name(self) -> str:
        return "minimal"


async def test_an_adapter_without_holds_refuses_them_before_anything() -> None:
    provider = _NoHolds()
    money, payment_id = Money(5_000, EUR), uuid4()
    assert provider.capabilities == ProviderCapabilities()
    for request in (
        CreatePaymentRequest(payment_id, money, "k1", capture_method=CaptureMethod.MANUAL),
        ConfirmPaymentRequest(payment_id, "x", money, "pm_card_visa", "k2", off_session=True),
        CreatePaymentRequest(payment_id, money, "k3", setup_future_usage="off_session"),
    ):
        with pytest.raises(NotSupportedByProviderError):
            refuse_unsupported(provider.name, request)
    for call in (
        provider.capture_payment(CapturePaymentRequest(payment_id, "x", money, money, "k4")),
        provider.increment_authorization(
            IncrementAuthorizationRequest(payment_id, "x", money, money, "k5")
        ),
        provider.detach_payment_method(DetachPaymentMethodRequest(uuid4(), "tok", None, "k6")),
    ):
        with pytest.raises(NotSupportedByProviderError) as refused:
            await call
        assert refused.value.code == "not_supported_by_provider"

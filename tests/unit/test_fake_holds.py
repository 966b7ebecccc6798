"""The fake provider's holds and saved cards, as a provider: what it answers, whatever process
asks (its answers are a function of the token), and what it refuses."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from uuid import uuid4

import pytest

from payment_core.errors import ProviderDeclinedError, ProviderRejectedError
from payment_core.model.payment import CaptureMethod
from payment_core.money import Currency, Money
from payment_core.ports import (
    CapturePaymentRequest,
    ConfirmPaymentRequest,
    CreatePaymentRequest,
    DetachPaymentMethodRequest,
    IncrementAuthorizationRequest,
    ProviderPaymentStatus,
    RetrievePaymentRequest,
)
from payment_core.testing import FakeProvider, SettableClock
from payment_core.testing._fake_tokens import saved_token, token_of_saved

EUR = Currency.of("EUR")
S = ProviderPaymentStatus


async def held(provider: FakeProvider, token: str = "pm_card_visa", **fields: object):
    payment_id, amount = uuid4(), Money(10_000, EUR)
    created = await provider.create_payment(
        CreatePaymentRequest(payment_id, amount, f"payment-{payment_id}-create", **fields)
    )
    reply = await provider.confirm_payment(
        ConfirmPaymentRequest(
            payment_id,
            created.provider_payment_id,
            amount,
            token,
            f"payment-{payment_id}-confirm",
            capture_method=CaptureMethod.MANUAL,
            **fields,
        )
    )
    return payment_id, reply


async def test_a_manual_confirm_holds_until_the_ttl_on_its_clock() -> None:
    clock = SettableClock(datetime(2026, 5, 1, tzinfo=UTC))
    provider = FakeProvider(clock=clock, authorization_ttl=timedelta(days=3))
    _, reply = await held(provider)
    assert (reply.status, reply.amount_capturable, reply.amount_received) == (
        S.REQUIRES_CAPTURE,
        10_000,
        0,
    )
    assert reply.authorization_expires_at == clock.now() + timedelta(days=3)


async def test_a_capture_answers_again_under_its_key_and_never_twice() -> None:
    provider = FakeProvider()
    payment_id, reply = await held(provider)
    request = CapturePaymentRequest(
        payment_id, reply.provider_payment_id, reply.amount, Money(6_000, EUR), "cap-1"
    )
    first = await provider.capture_payment(request)
    again = await provider.capture_payment(request)
    assert first == again
    assert (first.status, first.amount_received, first.amount_capturable) == (
        S.SUCCEEDED,
        6_000,
        0,
    )
    with pytest.raises(ProviderRejectedError) as refused:
        await provider.capture_payment(
            CapturePaymentRequest(
                payment_id, reply.provider_payment_id, reply.amount, Money(6_000, EUR), "cap-2"
            )
        )
    assert refused.value.reason_code == "payment_intent_unexpected_state"


async def test_a_capture_of_more_than_held_or_after_expiry_is_refused() -> None:
    clock = SettableClock(datetime(2026, 5, 1, tzinfo=UTC))
    provider = FakeProvider(clock=clock)
    payment_id, reply = await held(provider)
    with pytest.raises(ProviderRejectedError, match="amount_too_large"):
        await provider.capture_payment(
            CapturePaymentRequest(
                payment_id, reply.provider_payment_id, reply.amount, Money(10_001, EUR), "c1"
            )
        )
    clock.advance(days=7)
    retrieved = await provider.retrieve_payment(
        RetrievePaymentRequest(payment_id, reply.provider_payment_id, reply.amount, "r")
    )
    assert retrieved.status is S.CANCELED


async def test_a_process_that_never_saw_a_hold_answers_as_the_one_that_made_it() -> None:
    payment_id, reply = await held(FakeProvider())
    fresh = FakeProvider()
    answer = await fresh.retrieve_payment(
        RetrievePaymentRequest(
            payment_id,
            reply.provider_payment_id,
            reply.amount,
            "r",
            payment_method="pm_card_visa",
            capture_method=CaptureMethod.MANUAL,
        )
    )
    assert (answer.status, answer.amount_capturable) == (S.REQUIRES_CAPTURE, 10_000)


async def test_increases_are_approved_unless_the_token_says_no() -> None:
    provider = FakeProvider()
    payment_id, reply = await held(provider)
    raised = await provider.increment_authorization(
        IncrementAuthorizationRequest(
            payment_id, reply.provider_payment_id, reply.amount, Money(12_000, EUR), "i1"
        )
    )
    assert (raised.amount.amount, raised.amount_capturable) == (12_000, 12_000)
    stubborn_id, stubborn = await held(provider, "pm_card_incrementDeclined")
    with pytest.raises(ProviderDeclinedError) as declined:
        await provider.increment_authorization(
            IncrementAuthorizationRequest(
                stubborn_id, stubborn.provider_payment_id, stubborn.amount, Money(12_000, EUR), "i2"
            )
        )
    assert declined.value.decline_code == "card_declined"


async def test_a_saved_card_names_its_token_and_a_detached_one_is_refused() -> None:
    provider = FakeProvider()
    _, reply = await held(provider, "pm_card_offSessionDeclined", setup_future_usage="off_session")
    saved = reply.saved_method
    assert saved is not None
    assert token_of_saved(saved.token) == "pm_card_offSessionDeclined"
    assert saved.customer_id is not None
    assert saved.customer_id.startswith("cus_fake_")
    assert token_of_saved(saved_token(uuid4(), "pm_card_unknown")) is None
    payment_id = uuid4()
    with pytest.raises(ProviderDeclinedError) as declined:
        await provider.confirm_payment(
            ConfirmPaymentRequest(
                payment_id, None, Money(500, EUR), saved.token, "k", off_session=True
            )
        )
    assert declined.value.decline_code == "card_declined"
    on_session = await provider.confirm_payment(
        ConfirmPaymentRequest(uuid4(), None, Money(500, EUR), saved.token, "k2")
    )
    assert on_session.status is S.SUCCEEDED
    request = DetachPaymentMethodRequest(uuid4(), saved.token, saved.customer_id, "d")
    await provider.detach_payment_method(request)
    await provider.detach_payment_method(request)  # detaching twice is no error
    with pytest.raises(ProviderRejectedError) as refused:
        await provider.confirm_payment(
            ConfirmPaymentRequest(uuid4(), None, Money(500, EUR), saved.token, "k3")
        )
    assert refused.value.reason_code == "payment_method_unexpected_state"

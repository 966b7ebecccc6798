"""Saved cards and off-session charges on the harness: a card saved in the transaction that
records the payment's success, charged later without the guest, detached for good."""

from __future__ import annotations

import pytest
from tests.unit.conftest import Kit, new_uuid

from payment_core import CreatePayment
from payment_core.errors import (
    NotSupportedByProviderError,
    PaymentMethodDetachedError,
    PaymentMethodGuestMismatchError,
    PaymentMethodRequiredError,
    ProviderUnavailableError,
    ValidationError,
)
from payment_core.model.payment import PaymentStatus
from payment_core.model.payment_method import PaymentMethodStatus
from payment_core.ports import ProviderCapabilities
from payment_core.testing import FakeProvider, build_in_memory

P = PaymentStatus


async def test_a_successful_payment_saves_its_card_with_the_success(kit: Kit, harness) -> None:
    commits = harness.store.commits
    payment = await kit.saved("pm_card_mastercard")
    assert payment.status is P.COMPLETED
    method = harness.store.payment_methods[payment.payment_method_id]
    assert (method.guest_id, method.provider, method.status, method.payment_id) == (
        payment.guest_id,
        "fake",
        PaymentMethodStatus.ACTIVE,
        payment.id,
    )
    assert method.card is not None
    assert method.card.last4 == "4444"
    intent = harness.provider._intents[payment.provider_payment_id]
    assert intent.saved is not None
    assert (method.provider_token, method.provider_customer_id) == (
        intent.saved.token,
        intent.saved.customer_id,
    )
    # Create, processing, outcome: the card was saved in the outcome's transaction.
    assert harness.store.commits == commits + 3


async def test_a_declined_payment_saves_nothing(kit: Kit, harness) -> None:
    payment = await kit.saved("pm_card_chargeDeclined")
    assert (payment.status, payment.payment_method_id) == (P.FAILED, None)
    assert harness.store.payment_methods == {}


async def test_a_card_saved_after_3ds_is_saved_by_the_webhook(kit: Kit, harness) -> None:
    payment = await kit.saved("pm_card_authenticationRequired")
    assert payment.status is P.PROCESSING
    await kit.deliver("payment_intent.succeeded", kit.intent(payment))
    completed = harness.store.payments[payment.id]
    assert completed.status is P.COMPLETED
    assert completed.payment_method_id in harness.store.payment_methods


async def test_a_guests_new_cards_join_their_customer(kit: Kit, harness) -> None:
    first = await kit.saved()
    second = await kit.saved("pm_card_mastercard", guest_id=first.guest_id)
    methods = harness.store.payment_methods
    assert first.payment_method_id != second.payment_method_id
    customers = {methods[p.payment_method_id].provider_customer_id for p in (first, second)}
    assert len(customers) == 1


async def test_an_off_session_charge_is_merchant_initiated_with_the_saved_card(
    kit: Kit, harness
) -> None:
    saved = await kit.saved()
    charge = await kit.off_session(saved, 2_500)
    assert (charge.status, charge.payment_method_id, charge.off_session) == (
        P.COMPLETED,
        saved.payment_method_id,
        True,
    )
    assert charge.payment_method is None  # the provider's token is kept encrypted, only there
    intent = harness.provider._intents[charge.provider_payment_id]
    method = harness.store.payment_methods[saved.payment_method_id]
    assert (intent.off_session, intent.payment_method, intent.customer_id) == (
        True,
        method.provider_token,
        method.provider_customer_id,
    )


async def test_a_held_off_session_charge_captures_later(kit: Kit) -> None:
    saved = await kit.saved()
    held = await kit.off_session(saved, capture_method="manual")
    assert held.status is P.AUTHORIZED
    captured = await kit.services.payments.capture(held.id)
    assert captured.status is P.COMPLETED


@pytest.mark.parametrize(
    ("token", "code"),
    [
        ("pm_card_offSessionAuthRequired", "authentication_required"),
        ("pm_card_offSessionDeclined", "card_declined"),
        ("pm_card_authenticationRequired", "authentication_required"),
    ],
)
async def test_an_issuer_that_refuses_off_session_fails_the_charge(
    kit: Kit, harness, token: str, code: str
) -> None:
    saved = await kit.saved(token)
    if saved.status is P.PROCESSING:
        await kit.deliver("payment_intent.succeeded", kit.intent(saved))
        saved = harness.store.payments[saved.id]
    charge = await kit.off_session(saved)
    assert (charge.status, charge.failure_code) == (P.FAILED, code)
    assert "payment.failed" in harness.published_types()


async def test_another_guests_card_is_refused_before_anything(kit: Kit, harness) -> None:
    saved = await kit.saved()
    payments, calls = len(harness.store.payments), len(harness.provider.calls)
    with pytest.raises(PaymentMethodGuestMismatchError) as refused:
        await kit.off_session(saved, guest_id=new_uuid())
    assert (refused.value.code, refused.value.field) == (
        "payment_method_guest_mismatch",
        "payment_method_id",
    )
    assert (len(harness.store.payments), len(harness.provider.calls)) == (payments, calls)


async def test_a_detached_card_is_refused_for_good(kit: Kit, harness) -> None:
    saved = await kit.saved()
    detached = await kit.services.payment_methods.detach(saved.payment_method_id)
    again = await kit.services.payment_methods.detach(saved.payment_method_id)
    assert detached.status is again.status is PaymentMethodStatus.DETACHED
    assert again.version == detached.version
    assert len(kit.calls("detach_payment_method")) == 2
    payments = len(harness.store.payments)
    with pytest.raises(PaymentMethodDetachedError):
        await kit.off_session(saved)
    assert len(harness.store.payments) == payments


async def test_a_detach_the_provider_could_not_hear_changes_nothing(kit: Kit, harness) -> None:
    saved = await kit.saved()
    harness.provider.inject_failure(
        "detach_payment_method", ProviderUnavailableError(message="down")
    )
    with pytest.raises(ProviderUnavailableError):
        await kit.services.payment_methods.detach(saved.payment_method_id)
    method = harness.store.payment_methods[saved.payment_method_id]
    assert method.status is PaymentMethodStatus.ACTIVE


async def test_what_an_off_session_charge_needs_is_checked_first(kit: Kit, harness) -> None:
    saved = await kit.saved()
    base = {"booking_id": new_uuid(), "guest_id": saved.guest_id, "amount": 100, "currency": "EUR"}
    calls = len(harness.provider.calls)
    with pytest.raises(PaymentMethodRequiredError):
        await kit.services.payments.create(CreatePayment(**base, off_session=True, confirm=True))
    with pytest.raises(ValidationError, match="confirm"):
        await kit.services.payments.create(
            CreatePayment(**base, payment_method_id=saved.payment_method_id, off_session=True)
        )
    with pytest.raises(ValidationError, match="not both"):
        await kit.services.payments.create(
            CreatePayment(
                **base,
                payment_method_id=saved.payment_method_id,
                payment_method="pm_card_visa",
            )
        )
    with pytest.raises(ValidationError, match="no such payment method"):
        await kit.services.payments.create(
            CreatePayment(**base, payment_method_id=new_uuid(), off_session=True, confirm=True)
        )
    with pytest.raises(ValidationError):
        await kit.services.payments.create(CreatePayment(**base, setup_future_usage="later"))
    assert len(harness.provider.calls) == calls


async def test_a_provider_that_cannot_save_cards_is_refused(clock) -> None:
    provider = FakeProvider(clock=clock, capabilities=ProviderCapabilities(manual_capture=True))
    harness = build_in_memory(clock=clock, provider=provider)
    with pytest.raises(NotSupportedByProviderError):
        await Kit(harness).saved()
    assert harness.store.payments == {}


async def test_a_guests_methods_are_listed(kit: Kit) -> None:
    first = await kit.saved()
    await kit.saved(guest_id=first.guest_id)
    from payment_core.pagination import PageRequest  # noqa: PLC0415

    page = await kit.services.payment_methods.list_by_guest(first.guest_id, PageRequest(limit=10))
    assert len(page.items) == 2
    assert page.items[0].id == first.payment_method_id

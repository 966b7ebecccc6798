"""Stripe's holds and saved cards, end to end through the services against the stand-in: a
manual PaymentIntent captured whole or in part, released, raised; a card saved to a Customer,
charged again without the guest, refused by its issuer, detached. Every POST carries its key,
and a capture reply for another amount settles nothing."""

from __future__ import annotations

import asyncio
import contextlib
import json
from datetime import UTC, datetime
from typing import Any
from uuid import uuid4

import attrs
import pytest
from provider_standins._server import Faults
from provider_standins.kits import Kit, StripeKit

from payment_core.errors import (
    CardDeclinedError,
    InvalidTransitionError,
    NotSupportedByProviderError,
    PaymentMethodDetachedError,
    ProviderError,
)
from payment_core.model.payment import AMOUNT_MISMATCH, CaptureMethod, Payment, PaymentStatus
from payment_core.model.payment_method import PaymentMethod, PaymentMethodStatus
from payment_core.money import Currency, Money
from payment_core.ports import (
    CreatePaymentRequest,
    DetachPaymentMethodRequest,
    ProviderCapabilities,
    ProviderPaymentStatus,
    RetrievePaymentRequest,
    WebhookKind,
)
from payment_core.services import CreatePayment, ServiceConfig
from payment_core.testing import Harness, build_in_memory

P = PaymentStatus


@pytest.fixture
def kit(kit_factory: Any) -> Kit:
    return kit_factory("stripe")  # type: ignore[no-any-return]


def _create(token: str | None = "pm_card_visa", **fields: Any) -> CreatePayment:
    defaults: dict[str, Any] = {
        "booking_id": uuid4(),
        "guest_id": uuid4(),
        "amount": 5_000,
        "currency": "EUR",
        "payment_method": token,
        "confirm": True,
    }
    return CreatePayment(**{**defaults, **fields})


async def _hold(harness: Harness, token: str = "pm_card_visa", **fields: Any) -> Payment:
    payment = await harness.services.payments.create(
        _create(token, capture_method="manual", **fields)
    )
    assert payment.status is P.AUTHORIZED
    return payment


async def _saved(harness: Harness, token: str = "pm_card_visa", **fields: Any) -> PaymentMethod:
    payment = await harness.services.payments.create(
        _create(token, setup_future_usage="off_session", **fields)
    )
    assert payment.status is P.COMPLETED
    assert payment.payment_method_id is not None
    return harness.store.payment_methods[payment.payment_method_id]


def _posts(kit: Kit, path: str) -> list[Any]:
    """The POSTs to ``path`` (to every path under it when it ends with ``/``)."""
    assert kit.standin is not None
    found = kit.standin.find("POST", path)
    return found if path.endswith("/") else [r for r in found if r.path == path]


def _intent(kit: Kit, payment: Payment) -> Any:
    assert kit.standin is not None
    assert payment.provider_payment_id is not None
    return kit.standin.intents[payment.provider_payment_id]  # type: ignore[attr-defined]


def test_stripe_says_it_makes_holds_and_saved_cards(kit: Kit) -> None:
    assert kit.provider.capabilities == ProviderCapabilities.all()


# ---------------------------------------------------------------------------- holds
async def test_a_hold_is_a_manual_intent_that_can_be_raised_and_expires_when_stripe_says(
    kit: Kit, harness: Harness
) -> None:
    payment = await _hold(harness)
    [create] = _posts(kit, "/v1/payment_intents")
    assert create.params["capture_method"] == "manual"
    assert create.params["payment_method_options"] == {
        "card": {"request_incremental_authorization": "if_available"}
    }
    intent = _intent(kit, payment)
    assert (intent.status, intent.amount_capturable, intent.charges) == (
        "requires_capture",
        5_000,
        0,
    )
    assert payment.amount_capturable == 5_000
    assert payment.authorization_expires_at == datetime.fromtimestamp(intent.capture_before, UTC)
    assert payment.card is not None
    assert payment.card.last4 == "4242"


@pytest.mark.parametrize("amount", [None, 5_000, 3_000])
async def test_a_capture_takes_what_is_asked_and_stripe_releases_the_rest(
    kit: Kit, harness: Harness, amount: int | None
) -> None:
    payment = await _hold(harness)
    captured = await harness.services.payments.capture(payment.id, amount, idempotency_key="c1")
    taken = amount or 5_000
    assert (captured.status, captured.amount_captured, captured.amount_capturable) == (
        P.COMPLETED,
        taken,
        0,
    )
    [capture] = _posts(kit, f"/v1/payment_intents/{payment.provider_payment_id}/capture")
    assert capture.params["amount_to_capture"] == str(taken)
    assert capture.header("idempotency-key") == f"payment-{payment.id}-capture-{taken}"
    intent = _intent(kit, payment)
    assert (intent.status, intent.amount_received, intent.amount_capturable) == (
        "succeeded",
        taken,
        0,
    )
    # Refunds are capped by what was taken, and the same capture again takes nothing more.
    assert captured.refundable == taken
    again = await harness.services.payments.capture(payment.id, amount, idempotency_key="c1")
    assert again.status is P.COMPLETED
    assert len(_posts(kit, f"/v1/payment_intents/{payment.provider_payment_id}/capture")) == 1


async def test_a_release_cancels_the_intent(kit: Kit, harness: Harness) -> None:
    payment = await _hold(harness)
    released = await harness.services.payments.cancel(payment.id)
    assert released.status is P.CANCELLED
    [cancel] = _posts(kit, f"/v1/payment_intents/{payment.provider_payment_id}/cancel")
    assert cancel.header("idempotency-key")
    intent = _intent(kit, payment)
    assert (intent.status, intent.amount_capturable, intent.charges) == ("canceled", 0, 0)


async def test_an_increase_raises_the_hold_and_a_decline_leaves_it(
    kit: Kit, harness: Harness
) -> None:
    payment = await _hold(harness)
    raised = await harness.services.payments.increment_authorization(payment.id, 8_000)
    assert (raised.status, raised.amount.amount, raised.amount_capturable) == (
        P.AUTHORIZED,
        8_000,
        8_000,
    )
    path = f"/v1/payment_intents/{payment.provider_payment_id}/increment_authorization"
    [increment] = _posts(kit, path)
    assert increment.params["amount"] == "8000"
    assert increment.header("idempotency-key") == f"payment-{payment.id}-increment-8000"
    assert (_intent(kit, payment).amount, _intent(kit, payment).amount_capturable) == (8_000, 8_000)

    assert kit.standin is not None
    kit.standin.increment_declines.add("*")  # type: ignore[attr-defined]
    with pytest.raises(CardDeclinedError):
        await harness.services.payments.increment_authorization(payment.id, 9_000)
    after = await harness.services.payments.get(payment.id)
    assert (after.status, after.amount.amount, after.amount_capturable) == (
        P.AUTHORIZED,
        8_000,
        8_000,
    )
    captured = await harness.services.payments.capture(payment.id)
    assert (captured.status, captured.amount_captured) == (P.COMPLETED, 8_000)


async def test_an_increase_the_charge_cannot_take_is_not_supported_and_not_sent(
    kit: Kit, harness: Harness
) -> None:
    payment = await _hold(harness)
    _intent(kit, payment).incremental = False  # the charge says ``unavailable``
    with pytest.raises(NotSupportedByProviderError):
        await harness.services.payments.increment_authorization(payment.id, 8_000)
    assert (
        _posts(kit, f"/v1/payment_intents/{payment.provider_payment_id}/increment_authorization")
        == []
    )
    after = await harness.services.payments.get(payment.id)
    assert (after.status, after.amount.amount) == (P.AUTHORIZED, 5_000)


async def test_a_capture_reply_for_another_amount_settles_nothing(
    kit: Kit, harness: Harness
) -> None:
    payment = await _hold(harness)
    # From here on the stand-in reports one unit more than it took.
    _intent(kit, payment).payment_method = "pm_card_amountMismatch"
    kept = await harness.services.payments.capture(payment.id, 3_000)
    assert (kept.status, kept.amount_capture_pending, kept.failure_code) == (
        P.AUTHORIZED,
        3_000,
        AMOUNT_MISMATCH,
    )
    assert kept.amount_captured == 0
    assert "payment.completed" not in harness.published_types()


async def test_a_capture_whose_answers_are_lost_is_settled_once_by_reconciliation(
    kit: Kit, harness: Harness
) -> None:
    assert kit.standin is not None
    payment = await _hold(harness)
    path = f"/v1/payment_intents/{payment.provider_payment_id}/capture"
    # Stripe captures, and every answer to the capture (the retries' too) is lost.
    kit.standin.faults = Faults(timeout=1.0, applies=lambda method, p: p == path)
    pending = await harness.services.payments.capture(payment.id, 3_000)
    assert (pending.status, pending.amount_capture_pending) == (P.AUTHORIZED, 3_000)
    assert _intent(kit, payment).amount_received == 3_000
    kit.standin.faults = None
    harness.clock.advance(minutes=6)
    report = await harness.services.reconciliation.sweep()
    assert report.settled == 1
    settled = await harness.services.payments.get(payment.id)
    assert (settled.status, settled.amount_captured) == (P.COMPLETED, 3_000)
    keys = {r.header("idempotency-key") for r in _posts(kit, path)}
    assert keys == {f"payment-{payment.id}-capture-3000"}
    assert _intent(kit, payment).amount_received == 3_000


async def test_a_hold_stripe_let_go_is_not_captured(kit: Kit, harness: Harness) -> None:
    payment = await _hold(harness)
    intent = _intent(kit, payment)
    intent.capture_before = 0  # Stripe cancelled it (``cancellation_reason=automatic``)
    settled = await harness.services.payments.capture(payment.id)
    assert settled.status is P.EXPIRED
    assert (intent.status, intent.charges) == ("canceled", 0)


async def test_a_hold_after_3ds_is_authorized_by_stripe_s_webhook_and_saves_its_card(
    kit: Kit, harness: Harness
) -> None:
    assert isinstance(kit, StripeKit)
    payment = await harness.services.payments.create(
        _create(
            "pm_card_authenticationRequired",
            capture_method="manual",
            setup_future_usage="off_session",
        )
    )
    assert payment.status is P.PROCESSING
    assert payment.next_action is not None
    kit.customer_authenticates(payment)
    with kit.stripe.lock:
        obj = kit.stripe.intent_json(_intent(kit, payment))
    body, headers = kit.stripe_event(
        "payment_intent.amount_capturable_updated", obj, harness.clock.now()
    )
    await harness.services.webhooks.receive("stripe", body, headers)
    held = await harness.services.payments.get(payment.id)
    assert (held.status, held.amount_capturable) == (P.AUTHORIZED, 5_000)
    assert held.payment_method_id is not None
    method = harness.store.payment_methods[held.payment_method_id]
    assert (method.provider_token, method.provider_customer_id) == (
        obj["payment_method"],
        obj["customer"],
    )
    captured = await harness.services.payments.capture(payment.id)
    assert (captured.status, captured.amount_captured) == (P.COMPLETED, 5_000)


# ---------------------------------------------------------------------------- saved cards
async def test_a_card_is_saved_to_a_new_customer_and_the_guest_keeps_it(
    kit: Kit, harness: Harness
) -> None:
    assert kit.standin is not None
    guest = uuid4()
    method = await _saved(harness, "pm_card_mastercard", guest_id=guest)
    [customer] = _posts(kit, "/v1/customers")
    [create] = _posts(kit, "/v1/payment_intents")
    customers = kit.standin.customers  # type: ignore[attr-defined]
    assert list(customers) == [create.params["customer"]]
    assert create.params["setup_future_usage"] == "off_session"
    assert customer.header("idempotency-key") == f"payment-{method.payment_id}-customer"
    saved = kit.standin.methods[method.provider_token]  # type: ignore[attr-defined]
    # The saved pm_… on that customer, not the token that was sent.
    assert method.provider_token.startswith("pm_")
    assert method.provider_token != "pm_card_mastercard"
    assert (saved.customer, saved.reusable) == (method.provider_customer_id, True)
    assert method.provider_customer_id in customers
    assert method.card is not None
    assert method.card.last4 == "4444"

    # The guest's next card joins the same customer.
    second = await _saved(harness, "pm_card_visa", guest_id=guest)
    assert second.provider_customer_id == method.provider_customer_id
    assert len(_posts(kit, "/v1/customers")) == 1


async def test_a_saved_card_is_charged_without_the_guest(kit: Kit, harness: Harness) -> None:
    guest = uuid4()
    method = await _saved(harness, guest_id=guest)
    charge = await harness.services.payments.create(
        _create(None, guest_id=guest, payment_method_id=method.id, off_session=True, amount=7_000)
    )
    assert (charge.status, charge.payment_method_id) == (P.COMPLETED, method.id)
    create = _posts(kit, "/v1/payment_intents")[-1]
    assert (create.params["customer"], create.params["payment_method"]) == (
        method.provider_customer_id,
        method.provider_token,
    )
    assert "off_session" not in create.params  # Stripe takes it only with confirm=true
    [confirm] = _posts(kit, f"/v1/payment_intents/{charge.provider_payment_id}/confirm")
    assert confirm.params["off_session"] == "true"
    assert _intent(kit, charge).amount_received == 7_000


async def test_a_saved_card_held_without_the_guest(kit: Kit, harness: Harness) -> None:
    guest = uuid4()
    method = await _saved(harness, guest_id=guest)
    held = await _hold(harness, None, guest_id=guest, payment_method_id=method.id, off_session=True)  # type: ignore[arg-type]
    captured = await harness.services.payments.capture(held.id, 1_000)
    assert (captured.status, captured.amount_captured) == (P.COMPLETED, 1_000)


@pytest.mark.parametrize(
    ("token", "code"),
    [
        ("pm_card_offSessionAuthRequired", "authentication_required"),
        ("pm_card_offSessionDeclined", "card_declined"),
    ],
)
async def test_an_issuer_that_wants_the_guest_fails_the_charge(
    kit: Kit, harness: Harness, token: str, code: str
) -> None:
    guest = uuid4()
    method = await _saved(harness, token, guest_id=guest)
    charge = await harness.services.payments.create(
        _create(None, guest_id=guest, payment_method_id=method.id, off_session=True)
    )
    assert (charge.status, charge.failure_code) == (P.FAILED, code)
    assert _intent(kit, charge).charges == 0


async def test_a_detached_card_is_detached_at_stripe_and_never_charged(
    kit: Kit, harness: Harness
) -> None:
    assert kit.standin is not None
    guest = uuid4()
    method = await _saved(harness, guest_id=guest)
    detached = await harness.services.payment_methods.detach(method.id)
    assert detached.status is PaymentMethodStatus.DETACHED
    [detach] = _posts(kit, f"/v1/payment_methods/{method.provider_token}/detach")
    assert detach.header("idempotency-key") == f"payment-method-{method.id}-detach"
    saved = kit.standin.methods[method.provider_token]  # type: ignore[attr-defined]
    assert (saved.detached, saved.customer) == (True, None)
    # Again: Stripe answers the same key the same way; no error either way.
    assert (await harness.services.payment_methods.detach(method.id)).status is (
        PaymentMethodStatus.DETACHED
    )
    with pytest.raises(PaymentMethodDetachedError):
        await harness.services.payments.create(
            _create(None, guest_id=guest, payment_method_id=method.id, off_session=True)
        )


async def test_detaching_a_card_stripe_no_longer_has_attached_is_no_error(kit: Kit) -> None:
    assert kit.standin is not None
    harness_method = "pm_card_visa"
    attached = kit.standin.attach(harness_method, {"customer": _customer(kit)})  # type: ignore[attr-defined]
    token = attached.body["id"]
    request = DetachPaymentMethodRequest(uuid4(), token, None, "k-detach-1")
    await kit.provider.detach_payment_method(request)
    await kit.provider.detach_payment_method(
        DetachPaymentMethodRequest(uuid4(), token, None, "k-detach-2")
    )
    assert [r.status for r in _posts(kit, "/v1/payment_methods/")] == [200, 400]


def _customer(kit: Kit) -> str:
    assert kit.standin is not None
    response = kit.standin.create_customer({})  # type: ignore[attr-defined]
    return str(response.body["id"])


# ---------------------------------------------------------------------------- the wire
async def test_every_post_carries_an_idempotency_key(kit: Kit, harness: Harness) -> None:
    guest = uuid4()
    method = await _saved(harness, guest_id=guest)
    held = await _hold(harness)
    await harness.services.payments.increment_authorization(held.id, 6_000)
    await harness.services.payments.capture(held.id, 2_000)
    released = await _hold(harness)
    await harness.services.payments.cancel(released.id)
    await harness.services.payments.create(
        _create(None, guest_id=guest, payment_method_id=method.id, off_session=True)
    )
    await harness.services.payment_methods.detach(method.id)
    posts = _posts(kit, "/v1/")
    paths = {p.path.rsplit("/", 1)[-1] for p in posts}
    assert {"customers", "payment_intents", "confirm", "capture", "cancel"} <= paths
    assert {"increment_authorization", "detach"} <= paths
    assert all(p.header("idempotency-key") for p in posts)
    keys = [p.header("idempotency-key") for p in posts]
    assert len(keys) == len(set(keys))


async def test_an_off_session_intent_our_confirm_never_reached_is_confirmed_the_same_way(
    kit: Kit, harness: Harness
) -> None:
    guest = uuid4()
    method = await _saved(harness, "pm_card_offSessionAuthRequired", guest_id=guest)
    payment_id, money = uuid4(), Money(4_000, Currency.of("EUR"))
    created = await kit.provider.create_payment(
        CreatePaymentRequest(
            payment_id,
            money,
            f"payment-{payment_id}-create",
            capture_method=CaptureMethod.MANUAL,
            off_session=True,
            saved_payment_method=method.provider_token,
            customer_id=method.provider_customer_id,
        )
    )
    reply = await kit.provider.retrieve_payment(
        RetrievePaymentRequest(
            payment_id,
            created.provider_payment_id,
            money,
            f"payment-{payment_id}-reconcile",
            payment_method=method.provider_token,
            capture_method=CaptureMethod.MANUAL,
        )
    )
    # Confirmed without the guest, as the charge was meant: the issuer's answer stands.
    [confirm] = _posts(kit, f"/v1/payment_intents/{created.provider_payment_id}/confirm")
    assert confirm.params["off_session"] == "true"
    assert (reply.status, reply.failure_code) == (
        ProviderPaymentStatus.FAILED,
        "authentication_required",
    )


# ---------------------------------------------------------------------------- Stripe's units
async def test_an_isk_hold_is_held_and_captured_in_stripe_s_unit(
    kit: Kit, harness: Harness
) -> None:
    payment = await _hold(harness, amount=500, currency="ISK")
    assert payment.amount_capturable == 500
    [create] = _posts(kit, "/v1/payment_intents")
    assert create.params["amount"] == "50000"  # ISK has two decimals, always 00, at Stripe
    captured = await harness.services.payments.capture(payment.id, 200)
    assert (captured.status, captured.amount_captured) == (P.COMPLETED, 200)
    [capture] = _posts(kit, f"/v1/payment_intents/{payment.provider_payment_id}/capture")
    assert capture.params["amount_to_capture"] == "20000"
    raised = await _hold(harness, amount=500, currency="ISK")
    await harness.services.payments.increment_authorization(raised.id, 700)
    path = f"/v1/payment_intents/{raised.provider_payment_id}/increment_authorization"
    assert [r.params["amount"] for r in _posts(kit, path)] == ["70000"]


@pytest.mark.parametrize(("capturable", "ours"), [(50000, 500), (150, None)])
def test_a_hold_s_webhook_is_read_in_stripe_s_unit(
    kit: Kit, capturable: int, ours: int | None
) -> None:
    body = json.dumps(
        {
            "id": "evt_1",
            "object": "event",
            "type": "payment_intent.amount_capturable_updated",
            "created": 1_767_268_800,
            "data": {
                "object": {
                    "id": "pi_1",
                    "object": "payment_intent",
                    "amount": 50000,
                    "amount_capturable": capturable,
                    "currency": "isk",
                    "status": "requires_capture",
                }
            },
        }
    ).encode()
    event = kit.provider.translate_webhook(body)
    assert event.kind is WebhookKind.PAYMENT_AUTHORIZED
    assert (event.amount, event.amount_capturable) == (Money.of(500, "ISK"), ours)


# ---------------------------------------------------------------------------- faults
async def test_under_faults_our_holds_and_captures_agree_with_stripe_s(
    kit_factory: Any, config: ServiceConfig
) -> None:
    """Timeouts (after the work), 429 and 5xx on every request while 20 holds are placed,
    raised and captured in part: once reconciliation has run, every capture we record is what
    Stripe took, every hold we keep is still held there, and nothing failed for an unknown
    outcome (the teardown checks that no key was reused with another request)."""
    kit = kit_factory("stripe", timeout=0.15, attempts=2)
    assert kit.standin is not None
    harness = build_in_memory(
        provider=kit.provider,
        config=attrs.evolve(config, default_provider="stripe"),
        randbelow=lambda n: 0,
    )
    faults = Faults(timeout=0.10, rate_limited=0.05, server_error=0.05, seed=12)
    kit.standin.faults = faults

    async def run(i: int) -> Payment | None:
        try:
            payment = await harness.services.payments.create(
                _create(capture_method="manual", amount=5_000 + i)
            )
        except ProviderError:
            return None  # never set up: nothing to agree on
        for step in (
            lambda: harness.services.payments.increment_authorization(payment.id, 7_000 + i),
            lambda: harness.services.payments.capture(payment.id, 3_000),
        ):
            # A payment still PROCESSING (its confirm's outcome unknown) cannot move yet.
            with contextlib.suppress(ProviderError, CardDeclinedError, InvalidTransitionError):
                await step()
        return payment

    made = [p for p in await asyncio.gather(*(run(i) for i in range(20))) if p is not None]
    assert sum(faults.injected.values()) > 0
    kit.standin.faults = None
    for _ in range(3):
        harness.clock.advance(minutes=10)
        await harness.services.reconciliation.sweep()
    for payment in made:
        ours = await harness.services.payments.get(payment.id)
        assert ours.status is not P.FAILED, ours.failure_code
        intent = _intent(kit, ours)
        assert intent.charges <= 1
        if ours.status is P.COMPLETED:
            assert (intent.status, intent.amount_received) == ("succeeded", ours.amount_captured)
        elif ours.status is P.AUTHORIZED and not ours.capture_in_flight:
            assert intent.status == "requires_capture"
            assert (intent.amount, intent.amount_capturable) == (
                ours.amount.amount,
                ours.amount_capturable,
            )

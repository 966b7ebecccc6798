"""Square's Strong Customer Authentication: the buyer's verification token, a new attempt each.

A bank that wants the buyer verified declines with ``CARD_DECLINED_VERIFICATION_REQUIRED``; the
buyer runs ``verifyBuyer`` in the browser and the confirm brings its ``verification_token``.
Each attempt is a new Square payment under a key of its own; a retry of one attempt is the same
request under the same key.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import timedelta
from typing import Any
from uuid import uuid4

import pytest
from litestar.testing import AsyncTestClient
from provider_standins._server import Faults, Recorded
from provider_standins.kits import VERIFY_URL, Kit, SquareKit, StripeKit

from payment_adapters.bootstrap import bootstrap_in_memory
from payment_adapters.settings import Settings
from payment_core.errors import InvalidTransitionError, ValidationError
from payment_core.model.payment import Payment, PaymentStatus
from payment_core.services import CreatePayment, ServiceConfig
from payment_core.testing import Harness, build_in_memory
from payment_http.app import create_app

SCA = "pm_card_authenticationRequired"


@pytest.fixture
def kit(kit_factory: Callable[..., Kit]) -> SquareKit:
    kit = kit_factory("square")
    assert isinstance(kit, SquareKit)
    return kit


def harness_for(kit: Kit) -> Harness:
    return build_in_memory(
        provider=kit.provider,  # type: ignore[arg-type]
        config=ServiceConfig(default_provider=kit.name, reconcile_after=timedelta(minutes=5)),
        randbelow=lambda n: 0,
    )


async def waiting_for_the_buyer(harness: Harness) -> Payment:
    payment = await harness.services.payments.create(
        CreatePayment(booking_id=uuid4(), guest_id=uuid4(), amount=2500, currency="EUR")
    )
    waiting = await harness.services.payments.confirm(payment.id, SCA)
    assert waiting.status is PaymentStatus.PROCESSING
    assert waiting.next_action is not None
    assert waiting.next_action.url == VERIFY_URL.replace("{payment_id}", str(payment.id))
    return waiting


def creates(kit: SquareKit) -> list[Recorded]:
    return [r for r in kit.square.find("POST") if r.path == "/v2/payments"]


def params(request: Recorded) -> dict[str, Any]:
    assert isinstance(request.params, dict)
    return request.params


async def test_the_verified_buyer_pays_in_a_new_attempt_under_a_new_key(kit: SquareKit) -> None:
    harness = harness_for(kit)
    waiting = await waiting_for_the_buyer(harness)
    token = kit.square.verify_buyer()

    paid = await harness.services.payments.confirm(waiting.id, SCA, verification_token=token)

    assert paid.status is PaymentStatus.COMPLETED
    assert paid.next_action is None
    first, second = creates(kit)
    assert "verification_token" not in params(first)
    assert params(second)["verification_token"] == token
    assert params(first)["idempotency_key"] != params(second)["idempotency_key"]
    assert len(params(second)["idempotency_key"]) <= 45
    assert kit.charges(paid) == 1
    latest = kit.latest(paid)
    assert latest is not None
    assert paid.provider_payment_id == latest["id"]  # the attempt that took the money


async def test_a_retry_of_one_attempt_is_the_same_request(kit: SquareKit) -> None:
    harness = harness_for(kit)
    waiting = await waiting_for_the_buyer(harness)
    token = kit.square.verify_buyer()
    once = iter([True])
    # The verified attempt is made, its first answer lost: the adapter asks again.
    kit.square.faults = Faults(
        timeout=1.0, applies=lambda method, path: path == "/v2/payments" and next(once, False)
    )

    paid = await harness.services.payments.confirm(waiting.id, SCA, verification_token=token)

    assert paid.status is PaymentStatus.COMPLETED
    _, *attempt = creates(kit)
    assert len(attempt) == 2
    assert attempt[0].body == attempt[1].body  # the same key, the same request
    assert kit.charges(paid) == 1


async def test_reconciliation_finds_a_verified_attempt_whose_answer_was_lost(
    kit: SquareKit,
) -> None:
    harness = harness_for(kit)
    waiting = await waiting_for_the_buyer(harness)
    token = kit.square.verify_buyer()
    kit.square.faults = Faults(timeout=1.0, applies=lambda method, path: path == "/v2/payments")
    lost = await harness.services.payments.confirm(waiting.id, SCA, verification_token=token)
    assert lost.status is PaymentStatus.PROCESSING  # authorised at Square, every answer lost
    kit.square.faults = None

    harness.clock.advance(minutes=6)
    await harness.services.reconciliation.sweep()

    settled = await harness.services.payments.get(waiting.id)
    assert settled.status is PaymentStatus.COMPLETED
    assert kit.charges(settled) == 1


async def test_a_token_on_the_first_confirm_goes_with_the_first_attempt(kit: SquareKit) -> None:
    harness = harness_for(kit)
    payment = await harness.services.payments.create(
        CreatePayment(booking_id=uuid4(), guest_id=uuid4(), amount=2500, currency="EUR")
    )
    token = kit.square.verify_buyer()

    paid = await harness.services.payments.confirm(payment.id, SCA, verification_token=token)

    assert paid.status is PaymentStatus.COMPLETED
    (only,) = creates(kit)
    assert params(only)["verification_token"] == token


async def test_a_payment_not_waiting_for_the_buyer_is_not_confirmed_again(kit: SquareKit) -> None:
    harness = harness_for(kit)
    payment = await harness.services.payments.create(
        CreatePayment(booking_id=uuid4(), guest_id=uuid4(), amount=2500, currency="EUR")
    )
    paid = await harness.services.payments.confirm(payment.id, "pm_card_visa")

    with pytest.raises(InvalidTransitionError):
        await harness.services.payments.confirm(
            paid.id, SCA, verification_token=kit.square.verify_buyer()
        )
    assert len(creates(kit)) == 1


async def test_a_verification_token_is_refused_for_a_provider_that_takes_none(
    kit_factory: Callable[..., Kit],
) -> None:
    stripe = kit_factory("stripe")
    assert isinstance(stripe, StripeKit)
    harness = harness_for(stripe)
    payment = await harness.services.payments.create(
        CreatePayment(booking_id=uuid4(), guest_id=uuid4(), amount=2500, currency="EUR")
    )

    with pytest.raises(ValidationError) as refused:
        await harness.services.payments.confirm(
            payment.id, "pm_card_visa", verification_token="verf:abc"
        )

    assert refused.value.field == "verification_token"
    assert (await harness.services.payments.get(payment.id)).status is PaymentStatus.PENDING
    assert stripe.stripe.find("POST", "/v1/payment_intents/") == []


async def test_the_confirm_body_carries_the_verification_token(kit: SquareKit) -> None:
    """Over HTTP: ``POST /api/v1/payments/{id}/confirm`` with ``verification_token``."""
    runtime = bootstrap_in_memory(Settings(environment="test"))
    runtime.services.deps.providers.register(kit.provider)
    try:
        async with AsyncTestClient(create_app(runtime)) as client:
            created = await client.post(
                "/api/v1/payments",
                json={
                    "booking_id": str(uuid4()),
                    "guest_id": str(uuid4()),
                    "amount": 2500,
                    "currency": "EUR",
                    "provider": "square",
                },
            )
            assert created.status_code == 201, created.text
            confirm = f"/api/v1/payments/{created.json()['id']}/confirm"
            waiting = await client.post(confirm, json={"payment_method": SCA})
            paid = await client.post(
                confirm,
                json={"payment_method": SCA, "verification_token": kit.square.verify_buyer()},
            )
    finally:
        await runtime.aclose()

    assert waiting.json()["status"] == "PROCESSING"
    assert waiting.json()["next_action"]["type"] == "redirect"
    assert paid.status_code == 200, paid.text
    assert paid.json()["status"] == "COMPLETED"

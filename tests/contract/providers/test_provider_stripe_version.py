"""The Stripe API version the adapter is written for, and the SDK versions that can carry it."""

from __future__ import annotations

import tomllib
from collections.abc import Callable
from importlib.metadata import version
from pathlib import Path
from uuid import uuid4

import pytest
import stripe as stripe_sdk
from packaging.requirements import Requirement
from provider_standins.kits import Kit, StripeKit

from payment_adapters.providers.stripe import STRIPE_API_VERSION
from payment_core.services import CreatePayment, ServiceConfig
from payment_core.testing import build_in_memory

PYPROJECT = Path(__file__).parents[3] / "pyproject.toml"


@pytest.fixture
def kit(kit_factory: Callable[..., Kit]) -> StripeKit:
    kit = kit_factory("stripe")
    assert isinstance(kit, StripeKit)
    return kit


async def test_every_request_names_the_api_version_the_adapter_is_written_for(
    kit: StripeKit,
) -> None:
    harness = build_in_memory(
        provider=kit.provider,  # type: ignore[arg-type]
        config=ServiceConfig(default_provider="stripe"),
    )
    payment = await harness.services.payments.create(
        CreatePayment(booking_id=uuid4(), guest_id=uuid4(), amount=900, currency="EUR")
    )
    await harness.services.payments.confirm(payment.id, "pm_card_visa")
    await harness.services.refunds.create(payment.id, 100)

    assert STRIPE_API_VERSION == "2026-07-29.dahlia"
    assert {r.header("stripe-version") for r in kit.stripe.requests} == {STRIPE_API_VERSION}


def test_the_stand_in_refuses_allowed_payment_method_types_under_an_older_api_version(
    kit: StripeKit,
) -> None:
    """What an SDK pinning an older version would have met at Stripe."""
    older = stripe_sdk.StripeClient(
        kit.stripe.api_key,
        stripe_version="2026-06-24.dahlia",
        base_addresses={"api": kit.stripe.base_url},
        max_network_retries=0,
    )
    params = {"amount": 900, "currency": "eur", "allowed_payment_method_types": ["card"]}

    with pytest.raises(stripe_sdk.InvalidRequestError) as refused:
        older.v1.payment_intents.create(params)  # type: ignore[arg-type]

    assert refused.value.code == "parameter_unknown"
    assert "allowed_payment_method_types" in str(refused.value)


def test_the_stand_in_refuses_a_parameter_the_endpoint_does_not_have(kit: StripeKit) -> None:
    client = stripe_sdk.StripeClient(
        kit.stripe.api_key,
        stripe_version=STRIPE_API_VERSION,
        base_addresses={"api": kit.stripe.base_url},
        max_network_retries=0,
    )
    with pytest.raises(stripe_sdk.InvalidRequestError) as refused:
        client.v1.refunds.create({"payment_intent": "pi_1", "amount": 1, "note": "x"})  # type: ignore[typeddict-unknown-key]
    assert refused.value.code == "parameter_unknown"


def test_the_stripe_extra_admits_only_sdks_that_carry_what_the_adapter_uses() -> None:
    """``StripeClient.v1`` came with 12.5.0; ``allowed_payment_method_types`` and the
    2026-07-29 API version with 15.4.0 (the SDK's git history and its wheels)."""
    extras = tomllib.loads(PYPROJECT.read_text())["project"]["optional-dependencies"]
    (stripe_requirement,) = (Requirement(r) for r in extras["stripe"])

    allowed = stripe_requirement.specifier
    assert not allowed.contains("15.3.1")
    assert not allowed.contains("12.5.0")
    assert allowed.contains("15.4.0")
    assert allowed.contains(version("stripe"))

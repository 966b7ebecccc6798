"""The provider contract suite's fixtures.

``kit`` is parametrised over every provider: the fake one, and Stripe, PayPal and Square pointed
at loopback stand-ins that speak their wire formats (``provider_standins``). ``harness`` runs
the real use cases (``payment_core.services``) over the in-memory harness with that provider,
so every contract test is end to end through the services.

Every test here also checks, at teardown, that no secret of the provider and no card number
reached a log record (captured at DEBUG for every logger), and that no stand-in saw an
idempotency key reused with another request (every retry under one key is the same request).
"""

from __future__ import annotations

import logging
import sys
import traceback
from collections.abc import AsyncIterator, Callable, Iterator
from datetime import timedelta
from pathlib import Path

import attrs
import pytest

sys.path.insert(0, str(Path(__file__).parent))

from provider_standins.kits import (
    KNOWN_PANS,
    FakeKit,
    Kit,
    PayPalKit,
    SquareKit,
    StripeKit,
)
from provider_standins.paypal import PayPalStandIn
from provider_standins.square import SquareStandIn
from provider_standins.stripe import StripeStandIn

from payment_core.services import RetryPolicy, ServiceConfig
from payment_core.testing import Harness, build_in_memory

PROVIDERS = ("fake", "stripe", "paypal", "square")
REAL_PROVIDERS = ("stripe", "paypal", "square")


@pytest.fixture(scope="session")
def stripe_standin() -> Iterator[StripeStandIn]:
    standin = StripeStandIn()
    yield standin
    standin.close()


@pytest.fixture(scope="session")
def paypal_standin() -> Iterator[PayPalStandIn]:
    standin = PayPalStandIn()
    yield standin
    standin.close()


@pytest.fixture(scope="session")
def square_standin() -> Iterator[SquareStandIn]:
    standin = SquareStandIn()
    yield standin
    standin.close()


def make_kit(name: str, request: pytest.FixtureRequest, **kwargs: object) -> Kit:
    if name == "fake":
        return FakeKit(**kwargs)  # type: ignore[arg-type]
    standin = request.getfixturevalue(f"{name}_standin")
    standin.reset()
    kit_class = {"stripe": StripeKit, "paypal": PayPalKit, "square": SquareKit}[name]
    return kit_class(standin, **kwargs)  # type: ignore[no-any-return]


def scan_for_secrets(records: list[logging.LogRecord], secrets: tuple[str, ...]) -> list[str]:
    """Every log line (and its traceback) that holds a secret or a known card number."""
    leaks = []
    needles = tuple(s for s in secrets if s) + KNOWN_PANS
    for record in records:
        text = record.getMessage()
        if record.exc_info:
            text += "".join(traceback.format_exception(*record.exc_info))
        leaks.extend(f"{record.name}: {needle[:6]}…" for needle in needles if needle in text)
    return leaks


KitFactory = Callable[..., Kit]


@pytest.fixture
async def kit_factory(
    request: pytest.FixtureRequest, caplog: pytest.LogCaptureFixture
) -> AsyncIterator[KitFactory]:
    """Build kits by provider name; at teardown, close them, scan the logs for secrets and the
    stand-ins for idempotency keys reused with other parameters."""
    caplog.set_level(logging.DEBUG)
    kits: list[Kit] = []

    def build(name: str, **kwargs: object) -> Kit:
        kit = make_kit(name, request, **kwargs)
        kits.append(kit)
        return kit

    try:
        yield build
    finally:
        for kit in kits:
            await kit.aclose()
    secrets = tuple(s for kit in kits for s in kit.secrets)
    leaks = scan_for_secrets(caplog.records, secrets)
    assert not leaks, f"secrets in the logs: {leaks}"
    reused = sorted(
        {f"{kit.name}: {key}" for kit in kits if kit.standin for key in kit.standin.conflicts}
    )
    assert not reused, f"idempotency keys reused with another request: {reused}"


@pytest.fixture(params=PROVIDERS)
def kit(request: pytest.FixtureRequest, kit_factory: KitFactory) -> Kit:
    return kit_factory(request.param)


@pytest.fixture
def config() -> ServiceConfig:
    return ServiceConfig(
        default_provider="fake",
        reconcile_after=timedelta(minutes=5),
        refund_retry=RetryPolicy(
            base=timedelta(seconds=2), cap=timedelta(seconds=8), max_attempts=3
        ),
    )


@pytest.fixture
def harness(kit: Kit, config: ServiceConfig) -> Harness:
    return build_in_memory(
        provider=kit.provider,  # type: ignore[arg-type]
        config=attrs.evolve(config, default_provider=kit.name),
        randbelow=lambda n: 0,
    )


def pytest_configure(config: pytest.Config) -> None:
    # The Stripe SDK hands httpx its form body as ``data=<str>``; httpx deprecates that form.
    config.addinivalue_line(
        "filterwarnings", "ignore:Use 'content=<...>' to upload raw bytes:DeprecationWarning"
    )

"""``build_providers``: the fake provider always, a real one only when its credentials are set."""

from __future__ import annotations

import logging
import subprocess
import sys
from types import SimpleNamespace
from uuid import UUID

import attrs
import pytest

from payment_adapters.providers import ProviderSettings, aclose_providers, build_providers
from payment_adapters.providers.paypal import PAYPAL_LIVE_API_BASE, PayPalProvider
from payment_adapters.providers.square import SQUARE_LIVE_API_BASE, SquareProvider
from payment_adapters.providers.stripe import StripeProvider
from payment_core.errors import ValidationError
from payment_core.testing import FakeProvider

STRIPE_KEY = "sk_test_registry_0000000000000000"


def names(settings: object) -> list[str]:
    return [provider.name for provider in build_providers(settings)]


def test_with_nothing_configured_only_the_fake_provider_is_built() -> None:
    providers = build_providers(ProviderSettings())

    assert [p.name for p in providers] == ["fake"]
    assert isinstance(providers[0], FakeProvider)


def test_any_object_with_the_attributes_will_do_and_missing_ones_count_as_unset() -> None:
    assert names(SimpleNamespace(stripe_api_key=STRIPE_KEY)) == ["fake", "stripe"]
    assert names(object()) == ["fake"]


def test_each_real_provider_is_built_when_its_credentials_are_set() -> None:
    settings = ProviderSettings(
        stripe_api_key=STRIPE_KEY,
        stripe_webhook_secret="whsec_a, whsec_b",
        paypal_client_id="client",
        paypal_client_secret="secret",
        paypal_webhook_id="WH1",
        square_access_token="EAAA-token",
        square_webhook_signature_key="sig-key",
        square_notification_url="https://example.test/api/v1/webhooks/square",
    )

    providers = {p.name: p for p in build_providers(settings)}

    assert set(providers) == {"fake", "stripe", "paypal", "square"}
    assert isinstance(providers["stripe"], StripeProvider)
    assert isinstance(providers["paypal"], PayPalProvider)
    assert isinstance(providers["square"], SquareProvider)


def test_the_fake_webhook_secret_may_hold_several_values() -> None:
    fake = build_providers(ProviderSettings(fake_webhook_secret="whsec_one, whsec_two"))[0]
    assert fake._secrets == ("whsec_one", "whsec_two")  # type: ignore[attr-defined]


def test_live_environments_use_the_live_hosts() -> None:
    providers = {
        p.name: p
        for p in build_providers(
            ProviderSettings(
                paypal_client_id="c",
                paypal_client_secret="s",
                paypal_environment="LIVE",
                square_access_token="t",
                square_environment="live",
            )
        )
    }
    assert PAYPAL_LIVE_API_BASE in repr(providers["paypal"])
    assert SQUARE_LIVE_API_BASE in repr(providers["square"])


@pytest.mark.parametrize(
    ("settings", "variable"),
    [
        (ProviderSettings(paypal_client_id="c"), "PAYPAL_CLIENT_SECRET"),
        (ProviderSettings(paypal_client_secret="s"), "PAYPAL_CLIENT_ID"),
        (ProviderSettings(stripe_webhook_secret="whsec_x"), "STRIPE_API_KEY"),
        (ProviderSettings(stripe_api_key="pk_test_publishable"), "STRIPE_API_KEY"),
        (ProviderSettings(stripe_api_key=STRIPE_KEY, stripe_api_base="ftp://x"), "STRIPE_API_BASE"),
        (
            ProviderSettings(
                stripe_api_key="sk_live_real", stripe_api_base="http://stand-in:12111"
            ),
            "STRIPE_API_BASE",
        ),
        (
            ProviderSettings(
                paypal_client_id="c", paypal_client_secret="s", paypal_environment="prod"
            ),
            "PAYPAL_ENVIRONMENT",
        ),
        (
            ProviderSettings(square_access_token="t", square_environment="test"),
            "SQUARE_ENVIRONMENT",
        ),
        (
            ProviderSettings(square_access_token="t", square_webhook_signature_key="k"),
            "SQUARE_NOTIFICATION_URL",
        ),
        (ProviderSettings(square_webhook_signature_key="k"), "SQUARE_ACCESS_TOKEN"),
        (
            ProviderSettings(stripe_api_key=STRIPE_KEY, stripe_return_url="/relative/back"),
            "STRIPE_RETURN_URL",
        ),
        (
            ProviderSettings(
                paypal_client_id="c", paypal_client_secret="s", paypal_cancel_url="mailto:x@y"
            ),
            "PAYPAL_CANCEL_URL",
        ),
        (
            ProviderSettings(square_access_token="t", square_verification_url="verify"),
            "SQUARE_VERIFICATION_URL",
        ),
    ],
)
def test_a_wrong_or_half_configuration_names_the_variable(settings: object, variable: str) -> None:
    with pytest.raises(ValidationError) as caught:
        build_providers(settings)
    assert caught.value.field == variable


def test_return_urls_from_the_settings_reach_the_adapters() -> None:
    """3-D Secure and buyer verification answer with a redirect only when these are set."""
    settings = ProviderSettings(
        stripe_api_key=STRIPE_KEY,
        stripe_return_url="https://shop.example/payments/return",
        paypal_client_id="client",
        paypal_client_secret="secret",
        paypal_return_url="https://shop.example/paypal/approved",
        paypal_cancel_url="https://shop.example/paypal/cancelled",
        square_access_token="EAAA-token",
        square_location_id="L123",
        square_verification_url="https://shop.example/verify/{payment_id}",
    )
    providers = {p.name: p for p in build_providers(settings)}
    stripe, paypal, square = providers["stripe"], providers["paypal"], providers["square"]
    assert stripe._return_url == "https://shop.example/payments/return"  # type: ignore[attr-defined]
    assert (paypal._return_url, paypal._cancel_url) == (  # type: ignore[attr-defined]
        "https://shop.example/paypal/approved",
        "https://shop.example/paypal/cancelled",
    )
    assert square._location_id == "L123"  # type: ignore[attr-defined]
    action = square._verify_buyer(UUID(int=7))  # type: ignore[attr-defined]
    assert (action.type, action.url) == (
        "redirect",
        f"https://shop.example/verify/{UUID(int=7)}",
    )


def test_without_return_urls_the_start_says_what_3ds_answers(
    caplog: pytest.LogCaptureFixture,
) -> None:
    caplog.set_level(logging.WARNING, logger="payment_adapters.providers")
    build_providers(ProviderSettings(stripe_api_key=STRIPE_KEY, square_access_token="t"))
    text = caplog.text
    assert "STRIPE_RETURN_URL is unset" in text
    assert "SQUARE_VERIFICATION_URL is unset" in text


def test_settings_never_show_their_secrets() -> None:
    settings = ProviderSettings(
        stripe_api_key=STRIPE_KEY,
        stripe_webhook_secret="whsec_hidden",
        paypal_client_id="paypal-client",
        paypal_client_secret="paypal-hidden",
        square_access_token="square-hidden",
        square_webhook_signature_key="sig-hidden",
        square_notification_url="https://example.test/hook",
        fake_webhook_secret="whsec_fake_hidden",
    )
    text = repr(settings)
    for secret in (STRIPE_KEY, "whsec_hidden", "paypal-hidden", "square-hidden", "sig-hidden"):
        assert secret not in text
    for provider in build_providers(settings):
        for secret in (STRIPE_KEY, "whsec_hidden", "paypal-hidden", "square-hidden"):
            assert secret not in repr(provider)


def test_the_service_settings_carry_every_provider_setting() -> None:
    settings_module = pytest.importorskip("payment_adapters.settings")
    fields = {f.name for f in attrs.fields(settings_module.Settings)}
    assert {f.name for f in attrs.fields(ProviderSettings)} <= fields


async def test_closing_the_providers_closes_their_connections() -> None:
    providers = build_providers(
        ProviderSettings(
            stripe_api_key=STRIPE_KEY,
            square_access_token="t",
            paypal_client_id="c",
            paypal_client_secret="s",
        )
    )
    await aclose_providers(providers)


def test_importing_the_package_imports_no_provider_sdk() -> None:
    code = (
        "import sys, payment_adapters.providers as p; "
        "assert 'stripe' not in sys.modules, 'stripe imported'; "
        "p.build_providers(p.ProviderSettings()); "
        "assert 'stripe' not in sys.modules, 'stripe imported by the fake-only build'"
    )
    subprocess.run([sys.executable, "-c", code], check=True, timeout=60)


# ---------------------------------------------------------------------------- production


def test_in_production_the_fake_provider_is_never_built() -> None:
    settings = ProviderSettings(
        environment="production",
        payment_provider="stripe",
        stripe_api_key=STRIPE_KEY,
        stripe_webhook_secret="whsec_endpoint_own",
    )
    assert names(settings) == ["stripe"]


@pytest.mark.parametrize(
    ("settings", "variable"),
    [
        (ProviderSettings(environment="production"), "PAYMENT_PROVIDER"),
        (
            ProviderSettings(
                environment="production", payment_provider="stripe", stripe_api_key=STRIPE_KEY
            ),
            "STRIPE_WEBHOOK_SECRET",
        ),
        (
            ProviderSettings(
                environment="production",
                payment_provider="stripe",
                stripe_api_key=STRIPE_KEY,
                stripe_webhook_secret="whsec_fake",
            ),
            "STRIPE_WEBHOOK_SECRET",
        ),
        (ProviderSettings(fake_webhook_secret=""), "FAKE_WEBHOOK_SECRET"),
        (ProviderSettings(fake_webhook_secret=" , "), "FAKE_WEBHOOK_SECRET"),
    ],
)
def test_a_fake_provider_in_production_or_an_empty_or_public_secret_is_refused(
    settings: object, variable: str
) -> None:
    with pytest.raises(ValidationError) as caught:
        build_providers(settings)
    assert caught.value.field == variable


def test_an_unset_fake_webhook_secret_is_the_development_default() -> None:
    fake = build_providers(ProviderSettings(fake_webhook_secret=None))[0]
    assert fake._secrets == ("whsec_fake",)  # type: ignore[attr-defined]

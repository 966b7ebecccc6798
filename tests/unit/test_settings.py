"""Settings from the environment: the provider return URLs (the rest is covered end to end)."""

from __future__ import annotations

import pytest

from payment_adapters.settings import Settings, SettingsError

URLS = {
    "STRIPE_RETURN_URL": "https://shop.example/payments/return",
    "PAYPAL_RETURN_URL": "https://shop.example/paypal/approved",
    "PAYPAL_CANCEL_URL": "https://shop.example/paypal/cancelled",
    "SQUARE_VERIFICATION_URL": "https://shop.example/verify/{payment_id}",
}


def test_the_return_urls_and_square_location_are_read() -> None:
    settings = Settings.from_env({**URLS, "SQUARE_LOCATION_ID": " L123 "}, env_file=None)
    assert settings.stripe_return_url == URLS["STRIPE_RETURN_URL"]
    assert (settings.paypal_return_url, settings.paypal_cancel_url) == (
        URLS["PAYPAL_RETURN_URL"],
        URLS["PAYPAL_CANCEL_URL"],
    )
    assert settings.square_verification_url == URLS["SQUARE_VERIFICATION_URL"]
    assert settings.square_location_id == "L123"


def test_unset_they_stay_unset() -> None:
    settings = Settings.from_env({}, env_file=None)
    assert (settings.stripe_return_url, settings.square_verification_url) == (None, None)


@pytest.mark.parametrize("variable", sorted(URLS))
def test_a_return_url_that_is_not_one_is_refused_by_name(variable: str) -> None:
    with pytest.raises(SettingsError) as caught:
        Settings.from_env({variable: "shop.example/back"}, env_file=None)
    assert caught.value.variable == variable

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


# ---------------------------------------------------------------------------- production

PRODUCTION = {
    "ENVIRONMENT": "production",
    "API_KEYS": "k1",
    "ENCRYPTION_KEYS": "k1:AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA=",
}
STRIPE = {
    "PAYMENT_PROVIDER": "stripe",
    "STRIPE_API_KEY": "sk_live_settings_0000",
    "STRIPE_WEBHOOK_SECRET": "whsec_endpoint_own_secret",
}


def test_production_with_a_real_provider_and_its_own_webhook_secret_starts() -> None:
    settings = Settings.from_env({**PRODUCTION, **STRIPE}, env_file=None)
    assert (settings.is_production, settings.payment_provider) == (True, "stripe")


@pytest.mark.parametrize(
    ("overrides", "variable", "reason"),
    [
        ({"PAYMENT_PROVIDER": None}, "PAYMENT_PROVIDER", "must name a real provider"),
        ({"PAYMENT_PROVIDER": ""}, "PAYMENT_PROVIDER", "must name a real provider"),
        ({"PAYMENT_PROVIDER": "fake"}, "PAYMENT_PROVIDER", "must name a real provider"),
        ({"STRIPE_WEBHOOK_SECRET": None}, "STRIPE_WEBHOOK_SECRET", "required"),
        ({"STRIPE_WEBHOOK_SECRET": " "}, "STRIPE_WEBHOOK_SECRET", "required"),
        ({"STRIPE_WEBHOOK_SECRET": "whsec_fake"}, "STRIPE_WEBHOOK_SECRET", "public default"),
        (
            {"STRIPE_WEBHOOK_SECRET": "whsec_endpoint_own_secret, whsec_fake"},
            "STRIPE_WEBHOOK_SECRET",
            "public default",
        ),
        (
            {"PAYPAL_CLIENT_ID": "c", "PAYPAL_CLIENT_SECRET": "s"},
            "PAYPAL_WEBHOOK_ID",
            "required",
        ),
        (
            {
                "SQUARE_ACCESS_TOKEN": "EAAA-t",
                "SQUARE_NOTIFICATION_URL": "https://shop.example/api/v1/webhooks/square",
            },
            "SQUARE_WEBHOOK_SIGNATURE_KEY",
            "required",
        ),
        (
            {
                "SQUARE_ACCESS_TOKEN": "EAAA-t",
                "SQUARE_WEBHOOK_SIGNATURE_KEY": "whsec_fake",
                "SQUARE_NOTIFICATION_URL": "https://shop.example/api/v1/webhooks/square",
            },
            "SQUARE_WEBHOOK_SIGNATURE_KEY",
            "public default",
        ),
    ],
)
def test_production_refuses_the_fake_provider_and_missing_or_public_webhook_secrets(
    overrides: dict[str, str | None], variable: str, reason: str
) -> None:
    environ = {**PRODUCTION, **STRIPE, **overrides}
    with pytest.raises(SettingsError) as caught:
        Settings.from_env({k: v for k, v in environ.items() if v is not None}, env_file=None)
    assert caught.value.variable == variable
    assert reason in caught.value.reason
    assert "whsec_" not in str(caught.value)  # the value itself is never repeated


@pytest.mark.parametrize("value", ["", " ", ",", " , ,"])
def test_an_emptied_fake_webhook_secret_is_refused_not_replaced_by_the_public_default(
    value: str,
) -> None:
    with pytest.raises(SettingsError) as caught:
        Settings.from_env({"FAKE_WEBHOOK_SECRET": value}, env_file=None)
    assert caught.value.variable == "FAKE_WEBHOOK_SECRET"
    with pytest.raises(SettingsError):
        Settings(fake_webhook_secret=value).validate()


def test_the_fake_webhook_secret_is_the_development_default_only_when_unset() -> None:
    assert Settings.from_env({}, env_file=None).fake_webhook_secret == "whsec_fake"
    own = Settings.from_env({"FAKE_WEBHOOK_SECRET": "whsec_mine"}, env_file=None)
    assert own.fake_webhook_secret == "whsec_mine"


# ---------------------------------------------------------------------------- card holds


def test_the_hold_settings_default_to_the_contracts_and_reach_the_services() -> None:
    from datetime import timedelta  # noqa: PLC0415

    from payment_adapters.bootstrap import bootstrap_in_memory, service_config  # noqa: PLC0415
    from payment_core.services import ExpiryAction  # noqa: PLC0415

    settings = Settings.from_env({}, env_file=None)
    assert (
        settings.authorization_ttl_seconds,
        settings.authorization_expiry_warning_seconds,
        settings.authorization_expiry_action,
        settings.fake_authorization_ttl_seconds,
    ) == (604_800, 86_400, "notify", 604_800)
    config = service_config(
        Settings.from_env(
            {
                "AUTHORIZATION_TTL_SECONDS": "3600",
                "AUTHORIZATION_EXPIRY_WARNING_SECONDS": "600",
                "AUTHORIZATION_EXPIRY_ACTION": "Capture",
            },
            env_file=None,
        )
    )
    assert (
        config.authorization_ttl,
        config.authorization_expiry_warning,
        config.authorization_expiry_action,
    ) == (timedelta(hours=1), timedelta(minutes=10), ExpiryAction.CAPTURE)
    runtime = bootstrap_in_memory(
        Settings.from_env({"FAKE_AUTHORIZATION_TTL_SECONDS": "90"}, env_file=None)
    )
    assert runtime.harness is not None
    assert runtime.harness.provider.authorization_ttl == timedelta(seconds=90)


@pytest.mark.parametrize(
    ("variable", "value"),
    [
        ("AUTHORIZATION_TTL_SECONDS", "59"),
        ("AUTHORIZATION_TTL_SECONDS", "a week"),
        ("AUTHORIZATION_TTL_SECONDS", str(32 * 86_400)),
        ("AUTHORIZATION_EXPIRY_WARNING_SECONDS", "-1"),
        ("AUTHORIZATION_EXPIRY_WARNING_SECONDS", "604800"),  # not before a default hold's end
        ("AUTHORIZATION_EXPIRY_ACTION", "release"),
        ("FAKE_AUTHORIZATION_TTL_SECONDS", "0"),
    ],
)
def test_a_bad_hold_setting_is_refused_by_name(variable: str, value: str) -> None:
    with pytest.raises(SettingsError) as caught:
        Settings.from_env({variable: value}, env_file=None)
    assert caught.value.variable == variable


# ---------------------------------------------------------------------- running many processes


def test_the_queue_type_is_classic_unless_told_quorum() -> None:
    assert Settings.from_env({}, env_file=None).rabbitmq_queue_type == "classic"
    quorum = Settings.from_env({"RABBITMQ_QUEUE_TYPE": " Quorum "}, env_file=None)
    assert quorum.rabbitmq_queue_type == "quorum"


def test_an_unknown_queue_type_is_refused_by_name() -> None:
    with pytest.raises(SettingsError) as caught:
        Settings.from_env({"RABBITMQ_QUEUE_TYPE": "stream"}, env_file=None)
    assert caught.value.variable == "RABBITMQ_QUEUE_TYPE"
    assert "classic, quorum" in caught.value.reason


GENERIC = {"PAYMENT_PROVIDER_API_KEY": "generic-id", "PAYMENT_PROVIDER_SECRET_KEY": "generic-sk"}


@pytest.mark.parametrize(
    ("provider", "generic", "expected"),
    [
        ("stripe", GENERIC, {"stripe_api_key": "generic-sk"}),
        ("stripe", {"PAYMENT_PROVIDER_API_KEY": "sk_only"}, {"stripe_api_key": "sk_only"}),
        ("square", GENERIC, {"square_access_token": "generic-sk"}),
        ("square", {"PAYMENT_PROVIDER_API_KEY": "EAAA-t"}, {"square_access_token": "EAAA-t"}),
        (
            "paypal",
            GENERIC,
            {"paypal_client_id": "generic-id", "paypal_client_secret": "generic-sk"},
        ),
    ],
)
def test_the_generic_credentials_are_the_named_providers_own(
    provider: str, generic: dict[str, str], expected: dict[str, str]
) -> None:
    settings = Settings.from_env({"PAYMENT_PROVIDER": provider, **generic}, env_file=None)
    assert {field: getattr(settings, field) for field in expected} == expected
    others = {"stripe_api_key", "square_access_token", "paypal_client_id"} - set(expected)
    assert all(getattr(settings, field) is None for field in others)


def test_a_providers_own_variables_win_over_the_generic_ones() -> None:
    settings = Settings.from_env(
        {"PAYMENT_PROVIDER": "paypal", "PAYPAL_CLIENT_ID": "own-id", **GENERIC}, env_file=None
    )
    assert (settings.paypal_client_id, settings.paypal_client_secret) == ("own-id", "generic-sk")
    stripe = Settings.from_env(
        {"PAYMENT_PROVIDER": "stripe", "STRIPE_API_KEY": "sk_own", **GENERIC}, env_file=None
    )
    assert stripe.stripe_api_key == "sk_own"


def test_production_starts_on_the_generic_credentials_and_never_shows_them() -> None:
    environ = {**PRODUCTION, **STRIPE, "STRIPE_API_KEY": "", **GENERIC}
    settings = Settings.from_env(environ, env_file=None)
    assert settings.stripe_api_key == "generic-sk"
    assert "generic-sk" not in repr(settings)
    assert "generic-id" not in repr(settings)


def test_the_fake_provider_ignores_the_generic_credentials() -> None:
    settings = Settings.from_env(GENERIC, env_file=None)
    assert (settings.stripe_api_key, settings.paypal_client_id) == (None, None)


def test_web_concurrency_is_the_number_of_http_processes() -> None:
    assert Settings.from_env({}, env_file=None).web_concurrency == 1
    assert Settings.from_env({"WEB_CONCURRENCY": "4"}, env_file=None).web_concurrency == 4
    with pytest.raises(SettingsError) as caught:
        Settings.from_env({"WEB_CONCURRENCY": "0"}, env_file=None)
    assert caught.value.variable == "WEB_CONCURRENCY"


# ---------------------------------------------------------------------------- payment plans


def test_the_plan_retry_schedule_defaults_to_one_and_three_days_and_reaches_the_services():
    from datetime import timedelta  # noqa: PLC0415

    from payment_adapters.bootstrap import service_config  # noqa: PLC0415

    assert Settings.from_env({}, env_file=None).plan_retry_schedule_seconds == (86_400, 259_200)
    assert service_config(Settings.from_env({}, env_file=None)).plan_retry_schedule == (
        timedelta(days=1),
        timedelta(days=3),
    )
    config = service_config(
        Settings.from_env({"PLAN_RETRY_SCHEDULE_SECONDS": "60, 3600,86400"}, env_file=None)
    )
    assert config.plan_retry_schedule == (
        timedelta(minutes=1),
        timedelta(hours=1),
        timedelta(days=1),
    )


@pytest.mark.parametrize("value", ["0", "a day", "60,-1", ",".join(["60"] * 11), "2592001"])
def test_a_bad_plan_retry_schedule_is_refused_by_name(value: str) -> None:
    with pytest.raises(SettingsError) as caught:
        Settings.from_env({"PLAN_RETRY_SCHEDULE_SECONDS": value}, env_file=None)
    assert caught.value.variable == "PLAN_RETRY_SCHEDULE_SECONDS"

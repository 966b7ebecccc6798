"""Build the configured payment providers from settings.

``build_providers`` takes any object with the :class:`ProviderSettings` attributes (the
service's ``Settings`` has them all) and returns the providers to register: the fake one
outside production, each real one when its credentials are set. Nothing here reads the
environment, and the SDKs are imported only for the providers that are configured.

In production (``environment="production"``) the fake provider is never built (its webhooks
would settle payments on the say-so of a secret anyone can read), ``PAYMENT_PROVIDER`` must name
a real provider, and every configured provider needs its own webhook secret, which may not be
a public default: :func:`production_problem` says what is wrong, and ``build_providers``
refuses to build with it.
"""

from __future__ import annotations

import logging
from collections.abc import Collection, Iterable, Sequence
from datetime import timedelta
from typing import TYPE_CHECKING
from urllib.parse import urlsplit

import attrs

from payment_adapters.providers._common import Backoff
from payment_adapters.providers.ratelimit import TokenBucket
from payment_core.errors import ValidationError
from payment_core.ports import PaymentProvider
from payment_core.testing.fake_provider import DEFAULT_WEBHOOK_SECRET, FakeProvider

if TYPE_CHECKING:
    from payment_adapters.providers.paypal import CertFetcher

__all__ = [
    "PUBLIC_WEBHOOK_SECRETS",
    "ProviderOptions",
    "ProviderSettings",
    "aclose_providers",
    "build_providers",
    "production_problem",
]

logger = logging.getLogger("payment_adapters.providers")

_LOOPBACK = frozenset({"127.0.0.1", "localhost", "::1"})

#: Webhook secrets anyone can read (the fake provider's documented default): never in
#: production, whichever provider they are given to.
PUBLIC_WEBHOOK_SECRETS = frozenset({DEFAULT_WEBHOOK_SECRET})
_REAL_PROVIDERS = ("stripe", "paypal", "square")


def _secret_repr(value: str | None) -> str:
    return "None" if value is None else "'***'"


@attrs.frozen(kw_only=True)
class ProviderSettings:
    """The provider settings, named as the environment variables (``STRIPE_API_KEY``, ...).

    Secrets are hidden from ``repr``. ``*_webhook_secret`` and ``square_webhook_signature_key``
    may hold several comma-separated values, so that a secret can rotate without downtime.
    """

    payment_provider: str | None = "fake"
    #: ``production`` leaves the fake provider out and refuses public or missing webhook
    #: secrets (see :func:`production_problem`).
    environment: str | None = "development"
    stripe_api_key: str | None = attrs.field(default=None, repr=_secret_repr)
    stripe_webhook_secret: str | None = attrs.field(default=None, repr=_secret_repr)
    stripe_api_base: str | None = None
    stripe_return_url: str | None = None
    paypal_client_id: str | None = None
    paypal_client_secret: str | None = attrs.field(default=None, repr=_secret_repr)
    paypal_webhook_id: str | None = None
    paypal_api_base: str | None = None
    paypal_environment: str | None = "sandbox"
    paypal_return_url: str | None = None
    paypal_cancel_url: str | None = None
    square_access_token: str | None = attrs.field(default=None, repr=_secret_repr)
    square_webhook_signature_key: str | None = attrs.field(default=None, repr=_secret_repr)
    square_notification_url: str | None = None
    square_api_base: str | None = None
    square_environment: str | None = "sandbox"
    square_location_id: str | None = None
    square_verification_url: str | None = None
    #: ``None`` is the public development default (``whsec_fake``); an empty value is refused.
    fake_webhook_secret: str | None = attrs.field(default=DEFAULT_WEBHOOK_SECRET, repr=_secret_repr)
    #: How long the fake provider's holds last.
    fake_authorization_ttl_seconds: int = 7 * 86_400


@attrs.frozen(kw_only=True)
class ProviderOptions:
    """Tuning that is not configuration: timeouts, retries, rate limits; return URLs for an
    embedding application (the settings' ``*_RETURN_URL`` and friends win when set).

    The defaults suit production; tests pass short timeouts and a backoff that does not sleep.
    """

    timeout_seconds: float = 30.0
    backoff: Backoff = attrs.field(factory=Backoff)
    stripe_requests_per_second: float = 25.0
    paypal_requests_per_second: float = 25.0
    square_requests_per_second: float = 20.0
    #: Where 3-D Secure sends the customer back (Stripe) / after approval (PayPal).
    stripe_return_url: str | None = None
    paypal_return_url: str | None = None
    paypal_cancel_url: str | None = None
    #: Our page running Square's ``verifyBuyer`` (``{payment_id}`` is replaced).
    square_verification_url: str | None = None
    square_location_id: str | None = None
    #: Origins the PayPal webhook certificate may come from; tests add their stand-in.
    paypal_cert_origins: Collection[str] | None = None
    paypal_cert_fetcher: CertFetcher | None = None


def _get(settings: object, name: str) -> str | None:
    value = getattr(settings, name, None)
    if value is None:
        return None
    if not isinstance(value, str):
        raise ValidationError(field=name.upper(), reason="must be a string")
    value = value.strip()
    return value or None


def _secrets(value: str | None) -> tuple[str, ...]:
    return tuple(part.strip() for part in (value or "").split(",") if part.strip())


def _environment(settings: object, name: str) -> str:
    value = (_get(settings, name) or "sandbox").lower()
    if value not in ("sandbox", "live"):
        raise ValidationError(field=name.upper(), reason="must be 'sandbox' or 'live'")
    return value


def _http_url(settings: object, name: str) -> str | None:
    """An absolute http(s) URL, or ``None`` when unset."""
    value = _get(settings, name)
    if value is None:
        return None
    parts = urlsplit(value)
    if parts.scheme not in ("http", "https") or not parts.hostname:
        raise ValidationError(field=name.upper(), reason="must be an absolute http(s) URL")
    return value


def _base_url(settings: object, name: str, *, live: bool) -> str | None:
    value = _http_url(settings, name)
    if value is None:
        return None
    parts = urlsplit(value)
    if parts.scheme == "http":
        if live:
            raise ValidationError(
                field=name.upper(), reason="live credentials are never sent over plain http"
            )
        if parts.hostname not in _LOOPBACK:
            logger.warning("%s is plain http; use it only for a local stand-in", name.upper())
    return value.rstrip("/")


def _return_url(settings: object, name: str, default: str | None) -> str | None:
    """Where a customer's browser is sent (back); ``default`` (the options') when unset."""
    return _http_url(settings, name) or default


#: How many intents, refunds and calls the served fake provider keeps (about 0.6 KB each).
SERVED_FAKE_MEMORY = 5_000


def _is_production(settings: object) -> bool:
    return (_get(settings, "environment") or "").lower() == "production"


def production_problem(settings: object) -> tuple[str, str] | None:
    """What may not run in production, as ``(VARIABLE, reason)``; ``None`` when all is well
    (and always outside production)."""
    if not _is_production(settings):
        return None
    provider = (_get(settings, "payment_provider") or "fake").lower()
    if provider not in _REAL_PROVIDERS:
        return (
            "PAYMENT_PROVIDER",
            "must name a real provider (stripe, paypal or square) when "
            "ENVIRONMENT=production: the fake provider is never served there",
        )
    webhook_settings = (
        ("stripe_api_key", "stripe_webhook_secret"),
        ("paypal_client_id", "paypal_webhook_id"),
        ("square_access_token", "square_webhook_signature_key"),
    )
    for credential, name in webhook_settings:
        if _get(settings, credential) is None:
            continue  # not configured: nothing of it is served
        values = _secrets(_get(settings, name))
        if not values:
            return name.upper(), "required when ENVIRONMENT=production and its provider is set"
        if PUBLIC_WEBHOOK_SECRETS.intersection(values):
            return name.upper(), "is a public default; set the endpoint's own secret"
    return None


def _fake_secrets(settings: object) -> tuple[str, ...]:
    raw = getattr(settings, "fake_webhook_secret", None)
    if raw is None:
        return (DEFAULT_WEBHOOK_SECRET,)
    secrets_ = _secrets(_get(settings, "fake_webhook_secret"))
    if not secrets_:
        # Never the public default in its place: that would be a secret anyone can read.
        raise ValidationError(
            field="FAKE_WEBHOOK_SECRET",
            reason="is empty; unset it for the development default, or set a secret",
        )
    return secrets_


def build_providers(
    settings: object, options: ProviderOptions | None = None
) -> list[PaymentProvider]:
    """The providers the settings configure: ``fake`` outside production, the others when
    credentialled.

    Raises :class:`~payment_core.errors.ValidationError` naming the variable when a value is
    wrong, a provider is half-configured, or production would run with a fake provider or a
    public or missing webhook secret (:func:`production_problem`).
    """
    options = options or ProviderOptions()
    problem = production_problem(settings)
    if problem is not None:
        raise ValidationError(field=problem[0], reason=problem[1])
    providers: list[PaymentProvider] = []
    if not _is_production(settings):
        # A long-running service forgets old fake intents sooner than a test harness does:
        # the fake answers from the token for one it forgot, and memory stays flat.
        ttl = getattr(settings, "fake_authorization_ttl_seconds", None) or 7 * 86_400
        providers.append(
            FakeProvider(
                webhook_secrets=_fake_secrets(settings),
                max_remembered=SERVED_FAKE_MEMORY,
                authorization_ttl=timedelta(seconds=ttl),
            )
        )
    stripe_key = _get(settings, "stripe_api_key")
    if stripe_key is not None:
        providers.append(_stripe(settings, stripe_key, options))
    elif _get(settings, "stripe_webhook_secret"):
        raise ValidationError(
            field="STRIPE_API_KEY", reason="is required when STRIPE_WEBHOOK_SECRET is set"
        )
    paypal = _paypal(settings, options)
    if paypal is not None:
        providers.append(paypal)
    square = _square(settings, options)
    if square is not None:
        providers.append(square)
    logger.info("payment providers: %s", ", ".join(provider.name for provider in providers))
    return providers


def _stripe(settings: object, api_key: str, options: ProviderOptions) -> PaymentProvider:
    from payment_adapters.providers.stripe import StripeProvider  # noqa: PLC0415

    if not api_key.startswith(("sk_", "rk_")):
        raise ValidationError(
            field="STRIPE_API_KEY", reason="must be a secret or restricted key (sk_… or rk_…)"
        )
    return_url = _return_url(settings, "stripe_return_url", options.stripe_return_url)
    if return_url is None:
        logger.warning(
            "STRIPE_RETURN_URL is unset: a payment needing 3-D Secure gets next_action "
            "use_stripe_sdk (finished in the browser with the client secret), not a redirect"
        )
    return StripeProvider(
        api_key,
        webhook_secrets=_secrets(_get(settings, "stripe_webhook_secret")),
        api_base=_base_url(settings, "stripe_api_base", live=api_key.startswith("sk_live_")),
        return_url=return_url,
        timeout=options.timeout_seconds,
        backoff=options.backoff,
        rate_limiter=TokenBucket(options.stripe_requests_per_second),
    )


def _paypal(settings: object, options: ProviderOptions) -> PaymentProvider | None:
    client_id = _get(settings, "paypal_client_id")
    client_secret = _get(settings, "paypal_client_secret")
    if client_id is None and client_secret is None:
        return None
    if client_id is None:
        raise ValidationError(
            field="PAYPAL_CLIENT_ID", reason="is required when PAYPAL_CLIENT_SECRET is set"
        )
    if client_secret is None:
        raise ValidationError(
            field="PAYPAL_CLIENT_SECRET", reason="is required when PAYPAL_CLIENT_ID is set"
        )
    from payment_adapters.providers.paypal import (  # noqa: PLC0415
        PAYPAL_CERT_ORIGINS,
        PayPalProvider,
    )

    environment = _environment(settings, "paypal_environment")
    return PayPalProvider(
        client_id,
        client_secret,
        webhook_id=_get(settings, "paypal_webhook_id"),
        environment=environment,
        api_base=_base_url(settings, "paypal_api_base", live=environment == "live"),
        return_url=_return_url(settings, "paypal_return_url", options.paypal_return_url),
        cancel_url=_return_url(settings, "paypal_cancel_url", options.paypal_cancel_url),
        timeout=options.timeout_seconds,
        backoff=options.backoff,
        rate_limiter=TokenBucket(options.paypal_requests_per_second),
        cert_origins=options.paypal_cert_origins or PAYPAL_CERT_ORIGINS,
        cert_fetcher=options.paypal_cert_fetcher,
    )


def _square(settings: object, options: ProviderOptions) -> PaymentProvider | None:
    token = _get(settings, "square_access_token")
    keys = _secrets(_get(settings, "square_webhook_signature_key"))
    url = _get(settings, "square_notification_url")
    if token is None:
        if keys:
            raise ValidationError(
                field="SQUARE_ACCESS_TOKEN",
                reason="is required when SQUARE_WEBHOOK_SIGNATURE_KEY is set",
            )
        return None
    if keys and url is None:
        raise ValidationError(
            field="SQUARE_NOTIFICATION_URL",
            reason="is required with SQUARE_WEBHOOK_SIGNATURE_KEY (Square signs URL + body)",
        )
    from payment_adapters.providers.square import SquareProvider  # noqa: PLC0415

    environment = _environment(settings, "square_environment")
    verification_url = _return_url(
        settings, "square_verification_url", options.square_verification_url
    )
    if verification_url is None:
        logger.warning(
            "SQUARE_VERIFICATION_URL is unset: a payment needing buyer verification gets "
            "next_action verify_buyer (run in the browser with Square's SDK), not a redirect"
        )
    return SquareProvider(
        token,
        webhook_signature_keys=keys,
        notification_url=url,
        environment=environment,
        api_base=_base_url(settings, "square_api_base", live=environment == "live"),
        location_id=_get(settings, "square_location_id") or options.square_location_id,
        verification_url=verification_url,
        timeout=options.timeout_seconds,
        backoff=options.backoff,
        rate_limiter=TokenBucket(options.square_requests_per_second),
    )


async def aclose_providers(providers: Iterable[PaymentProvider] | Sequence[object]) -> None:
    """Close the HTTP connections of every provider that holds some (at shutdown)."""
    for provider in providers:
        close = getattr(provider, "aclose", None)
        if close is not None:
            try:
                await close()
            except Exception:  # shutting down: report it and close the others
                logger.warning("closing provider %s failed", getattr(provider, "name", "?"))

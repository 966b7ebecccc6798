"""Settings: read once from the environment (and ``./.env``), validated, with clear errors.

A bad value stops the service at start with one line naming the variable and what is wrong;
the value itself is never echoed (it may be a secret).
"""

from __future__ import annotations

import os
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Any, Final, TypeVar

import attrs

__all__ = ["Settings", "SettingsError"]

ENVIRONMENTS: Final = ("development", "test", "production")
LOG_LEVELS: Final = ("DEBUG", "INFO", "WARNING", "ERROR", "CRITICAL")

T = TypeVar("T")


class SettingsError(ValueError):
    """A setting is missing or invalid: ``str()`` is one line naming the variable."""

    def __init__(self, variable: str, reason: str) -> None:
        super().__init__(f"{variable}: {reason}")
        self.variable = variable
        self.reason = reason


def _secret_repr(value: object) -> str:
    return "<unset>" if not value else "<redacted>"


def _secret() -> Any:
    return attrs.field(default=None, repr=_secret_repr)


@attrs.frozen(slots=True)
class Settings:
    """Every setting of the service, with the contract's defaults."""

    database_url: str = "sqlite+aiosqlite:///./payments.db"
    payment_provider: str = "fake"
    environment: str = "development"
    host: str = "0.0.0.0"  # noqa: S104 - a service listens on all interfaces by default
    port: int = 8005
    #: HTTP processes of ``serve`` (``--workers`` wins).
    web_concurrency: int = 1
    api_keys: tuple[str, ...] = attrs.field(default=(), repr=_secret_repr)
    encryption_keys: str | None = _secret()
    encryption_key_file: str = "./.payment-service.key"
    rabbitmq_url: str | None = _secret()
    payments_exchange: str = "payments"
    bookings_exchange: str = "bookings"
    bookings_queue: str = "payment-service.bookings"
    #: ``quorum``: the consumer's queues are replicated across a RabbitMQ cluster.
    rabbitmq_queue_type: str = "classic"
    auto_refund_on_cancel: bool = True
    auto_migrate: bool = True
    idempotency_ttl_seconds: int = 86_400
    idempotency_lock_timeout_seconds: int = 60
    refund_max_attempts: int = 8
    refund_retry_base_seconds: int = 2
    refund_retry_max_seconds: int = 3_600
    reconcile_after_seconds: int = 300
    outbox_retention_seconds: int = 7 * 86_400
    background_interval_seconds: int = 1
    # Card holds: how long one lasts when its provider does not say, when its expiry is told,
    # and what is done then (notify, or capture the whole hold).
    authorization_ttl_seconds: int = 7 * 86_400
    authorization_expiry_warning_seconds: int = 86_400
    authorization_expiry_action: str = "notify"
    fake_authorization_ttl_seconds: int = 7 * 86_400
    # Payment plans: the waits before a failed balance is tried again, one per retry.
    plan_retry_schedule_seconds: tuple[int, ...] = (86_400, 259_200)
    log_level: str = "INFO"
    log_json: bool = True
    max_body_bytes: int = 64 * 1024
    db_pool_size: int = 10
    # Providers. The generic pair fills in the named provider's own credentials when unset.
    payment_provider_api_key: str | None = _secret()
    payment_provider_secret_key: str | None = _secret()
    stripe_api_key: str | None = _secret()
    stripe_webhook_secret: str | None = _secret()
    stripe_api_base: str | None = None
    stripe_return_url: str | None = None
    paypal_client_id: str | None = None
    paypal_client_secret: str | None = _secret()
    paypal_webhook_id: str | None = None
    paypal_api_base: str | None = None
    paypal_environment: str = "sandbox"
    paypal_return_url: str | None = None
    paypal_cancel_url: str | None = None
    square_access_token: str | None = _secret()
    square_webhook_signature_key: str | None = _secret()
    square_notification_url: str | None = None
    square_api_base: str | None = None
    square_environment: str = "sandbox"
    square_location_id: str | None = None
    square_verification_url: str | None = None
    fake_webhook_secret: str = attrs.field(default="whsec_fake", repr=_secret_repr)
    # Who issues invoices, credit notes and receipts (printed on the documents).
    seller_name: str | None = None
    seller_address: tuple[str, ...] = ()
    seller_tax_id: str | None = None
    seller_email: str | None = None

    @property
    def is_production(self) -> bool:
        return self.environment == "production"

    @property
    def is_sqlite(self) -> bool:
        return self.database_url.startswith("sqlite")

    @classmethod
    def from_env(
        cls,
        environ: Mapping[str, str] | None = None,
        *,
        env_file: str | Path | None = ".env",
    ) -> Settings:
        """Read ``environ`` (default ``os.environ``) over the ``.env`` file; validate everything."""
        values: dict[str, str] = {}
        if env_file is not None and Path(env_file).is_file():
            from dotenv import dotenv_values  # noqa: PLC0415 - only when a file exists

            values.update({k: v for k, v in dotenv_values(env_file).items() if v is not None})
        values.update(os.environ if environ is None else environ)
        return _parse(values)

    def validate(self) -> Settings:
        """Cross-field rules; raises :class:`SettingsError`."""
        from payment_adapters.providers.registry import production_problem  # noqa: PLC0415

        if self.is_production:
            if not self.api_keys:
                raise SettingsError("API_KEYS", "required when ENVIRONMENT=production")
            if not self.encryption_keys:
                raise SettingsError("ENCRYPTION_KEYS", "required when ENVIRONMENT=production")
            problem = production_problem(self)
            if problem is not None:
                raise SettingsError(*problem)
        if not _split(self.fake_webhook_secret):
            raise SettingsError("FAKE_WEBHOOK_SECRET", _EMPTY_FAKE_SECRET)
        if self.refund_retry_max_seconds < self.refund_retry_base_seconds:
            raise SettingsError(
                "REFUND_RETRY_MAX_SECONDS", "must be at least REFUND_RETRY_BASE_SECONDS"
            )
        if self.authorization_expiry_warning_seconds >= self.authorization_ttl_seconds:
            raise SettingsError(
                "AUTHORIZATION_EXPIRY_WARNING_SECONDS",
                "must be less than AUTHORIZATION_TTL_SECONDS",
            )
        return self


def _split(raw: str) -> list[str]:
    """The non-empty parts of a comma-separated value."""
    return [part.strip() for part in raw.split(",") if part.strip()]


def _text(name: str, raw: str) -> str:
    if any(ord(c) < 32 for c in raw):
        raise SettingsError(name, "contains control characters")
    return raw.strip()


def _int(low: int, high: int) -> Callable[[str, str], int]:
    def parse(name: str, raw: str) -> int:
        text = raw.strip()
        if not (text.isascii() and text.lstrip("-").isdigit()):
            raise SettingsError(name, "must be an integer")
        value = int(text)
        if not low <= value <= high:
            raise SettingsError(name, f"must be between {low} and {high}")
        return value

    return parse


def _bool(name: str, raw: str) -> bool:
    text = raw.strip().lower()
    if text in ("1", "true", "yes", "on"):
        return True
    if text in ("0", "false", "no", "off"):
        return False
    raise SettingsError(name, "must be true or false")


def _choice(*choices: str, upper: bool = False) -> Callable[[str, str], str]:
    def parse(name: str, raw: str) -> str:
        text = raw.strip().upper() if upper else raw.strip().lower()
        if text not in choices:
            raise SettingsError(name, f"must be one of {', '.join(choices)}")
        return text

    return parse


def _database_url(name: str, raw: str) -> str:
    text = raw.strip()
    if text.startswith("sqlite+aiosqlite://") or text.startswith("postgresql+asyncpg://"):
        return text
    if text.startswith(("postgresql://", "postgres://")):
        # Accept the common spelling and use the async driver.
        return "postgresql+asyncpg://" + text.split("://", 1)[1]
    if text.startswith("sqlite://"):
        return "sqlite+aiosqlite://" + text.split("://", 1)[1]
    raise SettingsError(name, "must be a sqlite+aiosqlite:// or postgresql+asyncpg:// URL")


def _url(*schemes: str) -> Callable[[str, str], str]:
    def parse(name: str, raw: str) -> str:
        text = raw.strip()
        if not text.startswith(tuple(f"{s}://" for s in schemes)):
            raise SettingsError(name, f"must be a {' or '.join(schemes)} URL")
        return text

    return parse


def _address(name: str, raw: str) -> tuple[str, ...]:
    # Lines are separated by a newline, or by the two characters \n where a newline is awkward
    # to write (a shell variable, a one-line .env entry).
    lines = tuple(line.strip() for line in raw.replace("\\n", "\n").split("\n"))
    for line in lines:
        if any(ord(c) < 32 for c in line):
            raise SettingsError(name, "contains control characters")
    return tuple(line for line in lines if line)


def _email(name: str, raw: str) -> str:
    text = _text(name, raw)
    local, at, domain = text.rpartition("@")
    if not at or not local or "." not in domain or any(c.isspace() for c in text):
        raise SettingsError(name, "must be an e-mail address")
    return text


def _keys(name: str, raw: str) -> tuple[str, ...]:
    keys = tuple(k.strip() for k in raw.split(",") if k.strip())
    for key in keys:
        if not key.isascii() or not key.isprintable() or " " in key:
            raise SettingsError(name, "keys must be printable ASCII without spaces")
    return keys


def _encryption_keys(name: str, raw: str) -> str:
    # Parsed for real (key ids, base64, 32 bytes) by the cipher at start-up; cheap shape check.
    text = raw.strip()
    for part in text.split(","):
        kid, sep, key = part.strip().partition(":")
        if not sep or not kid or not key:
            raise SettingsError(name, "must be comma-separated kid:base64key entries")
    return text


def _seconds_list(name: str, raw: str) -> tuple[int, ...]:
    parse = _int(1, 30 * 86_400)
    steps = tuple(parse(name, part) for part in _split(raw))
    if not 1 <= len(steps) <= 10:
        raise SettingsError(name, "must be 1 to 10 comma-separated waits in seconds")
    return steps


#: The longest a card hold lasts anywhere (PayPal: 29 days), with room to spare.
_HOLDS_AT_MOST: Final = 31 * 86_400

_PARSERS: Final[dict[str, Callable[[str, str], Any]]] = {
    "DATABASE_URL": _database_url,
    "PAYMENT_PROVIDER": _choice("fake", "stripe", "paypal", "square"),
    "ENVIRONMENT": _choice(*ENVIRONMENTS),
    "HOST": _text,
    "PORT": _int(1, 65_535),
    "WEB_CONCURRENCY": _int(1, 256),
    "API_KEYS": _keys,
    "ENCRYPTION_KEYS": _encryption_keys,
    "ENCRYPTION_KEY_FILE": _text,
    "RABBITMQ_URL": _url("amqp", "amqps"),
    "PAYMENTS_EXCHANGE": _text,
    "BOOKINGS_EXCHANGE": _text,
    "BOOKINGS_QUEUE": _text,
    "RABBITMQ_QUEUE_TYPE": _choice("classic", "quorum"),
    "AUTO_REFUND_ON_CANCEL": _bool,
    "AUTO_MIGRATE": _bool,
    "IDEMPOTENCY_TTL_SECONDS": _int(86_400, 30 * 86_400),
    "IDEMPOTENCY_LOCK_TIMEOUT_SECONDS": _int(1, 3_600),
    "REFUND_MAX_ATTEMPTS": _int(1, 100),
    "REFUND_RETRY_BASE_SECONDS": _int(1, 86_400),
    "REFUND_RETRY_MAX_SECONDS": _int(1, 7 * 86_400),
    "RECONCILE_AFTER_SECONDS": _int(1, 7 * 86_400),
    "OUTBOX_RETENTION_SECONDS": _int(60, 365 * 86_400),
    "BACKGROUND_INTERVAL_SECONDS": _int(1, 3_600),
    "AUTHORIZATION_TTL_SECONDS": _int(60, _HOLDS_AT_MOST),
    "AUTHORIZATION_EXPIRY_WARNING_SECONDS": _int(0, _HOLDS_AT_MOST),
    "AUTHORIZATION_EXPIRY_ACTION": _choice("notify", "capture"),
    "FAKE_AUTHORIZATION_TTL_SECONDS": _int(1, _HOLDS_AT_MOST),
    "PLAN_RETRY_SCHEDULE_SECONDS": _seconds_list,
    "LOG_LEVEL": _choice(*LOG_LEVELS, upper=True),
    "LOG_JSON": _bool,
    "MAX_BODY_BYTES": _int(1_024, 64 * 1024 * 1024),
    "DB_POOL_SIZE": _int(1, 500),
    "PAYMENT_PROVIDER_API_KEY": _text,
    "PAYMENT_PROVIDER_SECRET_KEY": _text,
    "STRIPE_API_KEY": _text,
    "STRIPE_WEBHOOK_SECRET": _text,
    "STRIPE_API_BASE": _url("http", "https"),
    "STRIPE_RETURN_URL": _url("http", "https"),
    "PAYPAL_CLIENT_ID": _text,
    "PAYPAL_CLIENT_SECRET": _text,
    "PAYPAL_WEBHOOK_ID": _text,
    "PAYPAL_API_BASE": _url("http", "https"),
    "PAYPAL_ENVIRONMENT": _choice("sandbox", "live"),
    "PAYPAL_RETURN_URL": _url("http", "https"),
    "PAYPAL_CANCEL_URL": _url("http", "https"),
    "SQUARE_ACCESS_TOKEN": _text,
    "SQUARE_WEBHOOK_SIGNATURE_KEY": _text,
    "SQUARE_NOTIFICATION_URL": _url("http", "https"),
    "SQUARE_API_BASE": _url("http", "https"),
    "SQUARE_ENVIRONMENT": _choice("sandbox", "live"),
    "SQUARE_LOCATION_ID": _text,
    "SQUARE_VERIFICATION_URL": _url("http", "https"),
    "FAKE_WEBHOOK_SECRET": _text,
    "SELLER_NAME": _text,
    "SELLER_ADDRESS": _address,
    "SELLER_TAX_ID": _text,
    "SELLER_EMAIL": _email,
}


_EMPTY_FAKE_SECRET: Final = "is empty; unset it for the development default, or set a secret"  # noqa: S105 - a message


def _parse(values: Mapping[str, str]) -> Settings:
    kwargs: dict[str, Any] = {}
    for variable, parser in _PARSERS.items():
        raw = values.get(variable)
        if (
            raw is not None
            and variable == "FAKE_WEBHOOK_SECRET"
            and not raw.replace(",", " ").strip()
        ):
            # Its default is public: an emptied secret must not quietly become that default.
            raise SettingsError(variable, _EMPTY_FAKE_SECRET)
        if raw is None or raw.strip() == "":
            continue  # unset or empty: the default
        kwargs[variable.lower()] = parser(variable, raw)
    _fill_generic_credentials(kwargs)
    return Settings(**kwargs).validate()


def _fill_generic_credentials(kwargs: dict[str, Any]) -> None:
    """``PAYMENT_PROVIDER_API_KEY`` / ``_SECRET_KEY`` as the named provider's own, when unset.

    Stripe and Square take one secret (the Stripe secret key, the Square access token): the
    secret key, or the API key when only that one is given. PayPal takes both: client id and
    client secret. A provider's own variable always wins.
    """
    api_key = kwargs.get("payment_provider_api_key")
    secret_key = kwargs.get("payment_provider_secret_key")
    provider = kwargs.get("payment_provider", "fake")
    targets: dict[str, str | None] = {
        "stripe": {"stripe_api_key": secret_key or api_key},
        "square": {"square_access_token": secret_key or api_key},
        "paypal": {"paypal_client_id": api_key, "paypal_client_secret": secret_key},
    }.get(provider, {})
    for field, value in targets.items():
        if value and not kwargs.get(field):
            kwargs[field] = value

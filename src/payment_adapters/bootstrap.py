"""The composition root: settings in, a ready :class:`Runtime` out.

``bootstrap(settings)`` builds the real thing (SQLAlchemy over SQLite or PostgreSQL, the field
cipher, the configured providers, in-process or RabbitMQ event delivery);
``bootstrap_in_memory()`` builds the same services over the in-memory harness. This module is
the only place that knows how the pieces fit; nothing happens at import time.
"""

from __future__ import annotations

import logging
from datetime import UTC, datetime, timedelta
from typing import TYPE_CHECKING, Any

import attrs

from payment_adapters.settings import Settings
from payment_core.ports import IdempotencyStore
from payment_core.services import (
    Dependencies,
    NullObserver,
    Observer,
    ProviderRegistry,
    ServiceConfig,
    Services,
)
from payment_core.services.retry import RetryPolicy
from payment_core.system import SystemClock, SystemIds

if TYPE_CHECKING:
    from payment_adapters.sqlalchemy import Database
    from payment_core.testing import Harness

__all__ = ["Runtime", "bootstrap", "bootstrap_in_memory", "service_config"]

logger = logging.getLogger("payment_adapters.bootstrap")


@attrs.define
class Runtime:
    """Everything a process (``serve``, ``worker``, a CLI command) runs with."""

    settings: Settings
    services: Services
    idempotency: IdempotencyStore
    observer: Observer
    database: Database | None = None
    cipher: Any = None
    harness: Harness | None = None

    async def aclose(self) -> None:
        """Close provider clients and the database pool."""
        from payment_adapters.providers import aclose_providers  # noqa: PLC0415

        await aclose_providers(self.services.deps.providers.as_mapping().values())
        if self.database is not None:
            await self.database.dispose()


def service_config(settings: Settings) -> ServiceConfig:
    """The use cases' tunables from the settings."""
    return ServiceConfig(
        default_provider=settings.payment_provider,
        reconcile_after=timedelta(seconds=settings.reconcile_after_seconds),
        refund_retry=RetryPolicy(
            base=timedelta(seconds=settings.refund_retry_base_seconds),
            cap=timedelta(seconds=settings.refund_retry_max_seconds),
            max_attempts=settings.refund_max_attempts,
        ),
        auto_refund_on_cancel=settings.auto_refund_on_cancel,
    )


def build_cipher(settings: Settings) -> Any:
    """The field cipher from ``ENCRYPTION_KEYS``, or a local development key (with a warning)."""
    from payment_adapters.crypto import FieldCipher, load_or_create_dev_key  # noqa: PLC0415

    if settings.encryption_keys:
        return FieldCipher.from_keys(settings.encryption_keys)
    if settings.is_production:  # settings.validate() refuses this already; belt and braces
        raise RuntimeError("ENCRYPTION_KEYS is required in production")
    logger.warning(
        "ENCRYPTION_KEYS is unset: using a local development key in %s",
        settings.encryption_key_file,
    )
    return FieldCipher.from_keys(load_or_create_dev_key(settings.encryption_key_file))


async def bootstrap(
    settings: Settings,
    *,
    observer: Observer | None = None,
    migrate: bool | None = None,
) -> Runtime:
    """Build the service over the configured database and providers.

    Applies migrations first when ``migrate`` (default: ``settings.auto_migrate``).
    """
    from payment_adapters.providers.registry import (  # noqa: PLC0415
        ProviderSettings,
        build_providers,
    )
    from payment_adapters.sqlalchemy import Database  # noqa: PLC0415

    cipher = build_cipher(settings)
    database = Database.from_url(
        settings.database_url, cipher=cipher, pool_size=settings.db_pool_size
    )
    if settings.auto_migrate if migrate is None else migrate:
        await database.migrate()
    provider_settings = ProviderSettings(
        **{f.name: getattr(settings, f.name) for f in attrs.fields(ProviderSettings)}
    )
    providers = ProviderRegistry(build_providers(provider_settings))
    if settings.payment_provider not in providers:
        await database.dispose()
        raise RuntimeError(
            f"PAYMENT_PROVIDER={settings.payment_provider} has no credentials configured"
        )
    observer = observer or NullObserver()
    deps = Dependencies(
        uow=database.uow,
        providers=providers,
        clock=SystemClock(),
        ids=SystemIds(),
        config=service_config(settings),
        observer=observer,
    )
    return Runtime(
        settings=settings,
        services=Services.build(deps),
        idempotency=database.idempotency,
        observer=observer,
        database=database,
        cipher=cipher,
    )


def bootstrap_in_memory(
    settings: Settings | None = None, *, observer: Observer | None = None
) -> Runtime:
    """The same services over the in-memory harness (no database, no broker)."""
    from payment_core.testing import FakeProvider, SettableClock, build_in_memory  # noqa: PLC0415

    class WallClock(SettableClock):
        """The harness's clock type, telling the real time (a served API needs it)."""

        def now(self) -> datetime:
            return datetime.now(UTC)

    settings = settings or Settings(environment="test")
    harness = build_in_memory(
        clock=WallClock(),
        config=attrs.evolve(service_config(settings), default_provider="fake"),
        provider=FakeProvider(
            webhook_secrets=tuple(s.strip() for s in settings.fake_webhook_secret.split(","))
        ),
        observer=observer,
    )
    return Runtime(
        settings=settings,
        services=harness.services,
        idempotency=harness.idempotency,
        observer=observer or NullObserver(),
        harness=harness,
    )

"""The composition root: settings in, a ready :class:`Runtime` out.

``bootstrap(settings)`` builds the real thing (SQLAlchemy over SQLite or PostgreSQL, the field
cipher, the configured providers, in-process or RabbitMQ event delivery);
``bootstrap_in_memory()`` builds the same services over the in-memory harness. This module is
the only place that knows how the pieces fit; nothing happens at import time.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Awaitable, Callable, Mapping
from datetime import UTC, datetime, timedelta
from typing import TYPE_CHECKING, Any, Final

import attrs

from payment_adapters.idempotency import IdempotencyStore, InMemoryIdempotencyStore
from payment_adapters.settings import Settings
from payment_core.services import (
    Dependencies,
    ExpiryAction,
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

__all__ = [
    "Runtime",
    "bootstrap",
    "bootstrap_in_memory",
    "database_unreachable",
    "service_config",
    "wait_until_available",
]

logger = logging.getLogger(__name__)

#: Waiting for the database at start: the first retry after this long, doubling up to the cap.
DATABASE_RETRY_FIRST: Final = 0.5
DATABASE_RETRY_CAP: Final = 10.0
#: How long one attempt may take before it counts as failed.
ATTEMPT_TIMEOUT: Final = 5.0
#: asyncpg's errors for a server that is there but cannot take the connection yet.
_ASYNCPG_UNAVAILABLE: Final = frozenset(
    {
        "CannotConnectNowError",  # starting up, shutting down, in recovery
        "ConnectionDoesNotExistError",
        "ConnectionFailureError",
        "ConnectionRejectionError",
        "TooManyConnectionsError",
    }
)


def database_unreachable(exc: BaseException) -> bool:
    """Whether ``exc`` says the database cannot be reached *now*: worth waiting for.

    A refused or dropped connection, a timeout, a server still starting are; a wrong password,
    a database that does not exist, a SQLite file that cannot be opened are not (no wait
    mends a setting).
    """
    seen: set[int] = set()
    current: BaseException | None = exc
    while current is not None and id(current) not in seen:
        seen.add(id(current))
        if isinstance(current, OSError | TimeoutError):
            return True
        kind = type(current)
        if kind.__module__.startswith("asyncpg") and kind.__name__ in _ASYNCPG_UNAVAILABLE:
            return True
        current = current.__cause__ or current.__context__
    return False


async def wait_until_available(
    probe: Callable[[], Awaitable[object]],
    *,
    what: str,
    stopping: Callable[[], bool],
    retryable: Callable[[BaseException], bool] = lambda exc: True,
    first: float = DATABASE_RETRY_FIRST,
    cap: float = DATABASE_RETRY_CAP,
    attempt_timeout: float = ATTEMPT_TIMEOUT,
) -> bool:
    """Call ``probe`` until it succeeds (``True``) or ``stopping()`` (``False``).

    Retries after ``first`` seconds, doubling up to ``cap``; an attempt that takes longer than
    ``attempt_timeout`` has failed. Logs once when it starts waiting and once when ``what``
    answers, not at every try. An error that is not ``retryable`` is raised.
    """
    delay = first
    waiting_since: float | None = None
    while not stopping():
        try:
            async with asyncio.timeout(attempt_timeout):
                await probe()
        except Exception as exc:
            if not retryable(exc):
                raise
            if waiting_since is None:
                waiting_since = time.monotonic()
                logger.warning(
                    "%s is unavailable (%s): waiting for it, retrying every %.1f s up to %.0f s",
                    what,
                    type(exc).__name__,
                    first,
                    cap,
                )
            else:
                logger.debug("%s still unavailable (%s)", what, type(exc).__name__)
        else:
            if waiting_since is not None:
                logger.warning(
                    "%s is available after %.1f s", what, time.monotonic() - waiting_since
                )
            return True
        deadline = time.monotonic() + delay
        while not stopping() and time.monotonic() < deadline:  # noqa: ASYNC110 - a flag
            await asyncio.sleep(min(0.1, delay))
        delay = min(delay * 2, cap)
    return False


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
    #: What the process waits for before it can serve (``"database"``); ``None`` when ready.
    waiting_for: str | None = None
    _migrate_when_ready: bool = False

    @property
    def ready(self) -> bool:
        return self.waiting_for is None

    async def become_ready(self, stopping: Callable[[], bool]) -> bool:
        """Wait for the database, apply the migrations when configured, and be ready.

        For a runtime made by ``bootstrap(..., wait=True)``: a database that does not answer
        (down, still starting, unreachable) is waited for with backoff
        (:func:`wait_until_available`), also when it goes away during the migrations. Returns
        ``False`` when ``stopping()`` first; raises what no wait mends.
        """
        database = self.database
        while not self.ready:
            if database is None:
                self.waiting_for = None
                break
            if not await wait_until_available(
                database.ping,
                what="the database",
                stopping=stopping,
                retryable=database_unreachable,
            ):
                return False
            try:
                if self._migrate_when_ready:
                    await database.migrate()
            except Exception as exc:
                if not database_unreachable(exc):
                    raise
                logger.warning("the database went away while migrating (%s)", type(exc).__name__)
                continue
            self.waiting_for = None
        return True

    async def outbox_backlog(self) -> tuple[int, float]:
        """Events committed and not yet published: how many, and the age of the oldest in
        seconds (``(0, 0.0)`` when there are none)."""
        harness = self.harness
        if harness is not None:
            entries = harness.store.unpublished()
            if not entries:
                return 0, 0.0
            oldest = min(e.event.occurred_at for e in entries)
            return len(entries), max(0.0, (harness.clock.now() - oldest).total_seconds())
        if self.database is None:
            return 0, 0.0
        from sqlalchemy import func, select  # noqa: PLC0415 - only with a SQL database

        from payment_adapters.sqlalchemy.tables import outbox  # noqa: PLC0415

        query = select(func.count(), func.min(outbox.c.created_at)).where(
            outbox.c.published_at.is_(None)
        )
        async with self.database.engine.connect() as conn:
            row = (await conn.execute(query)).one()
        pending, oldest_at = int(row[0] or 0), row[1]
        if not pending or oldest_at is None:
            return pending, 0.0
        return pending, max(0.0, time.time() - oldest_at.timestamp())

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
        authorization_ttl=timedelta(seconds=settings.authorization_ttl_seconds),
        authorization_expiry_warning=timedelta(
            seconds=settings.authorization_expiry_warning_seconds
        ),
        authorization_expiry_action=ExpiryAction(settings.authorization_expiry_action),
        plan_retry_schedule=tuple(
            timedelta(seconds=step) for step in settings.plan_retry_schedule_seconds
        ),
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
    wait: bool = False,
) -> Runtime:
    """Build the service over the configured database and providers.

    Applies migrations first when ``migrate`` (default: ``settings.auto_migrate``). With
    ``wait`` the database is not touched yet: the runtime starts not ready, and
    :meth:`Runtime.become_ready` waits for the database and migrates (``serve`` and ``worker``
    start while PostgreSQL is still down).
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
    migrate = settings.auto_migrate if migrate is None else migrate
    if migrate and not wait:
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
    services = Services.build(deps)
    send_provider_webhooks(services)
    return Runtime(
        settings=settings,
        services=services,
        idempotency=database.idempotency,
        observer=observer,
        database=database,
        cipher=cipher,
        waiting_for="database" if wait else None,
        migrate_when_ready=migrate and wait,
    )


def send_provider_webhooks(services: Services) -> None:
    """Let the providers that send webhooks of themselves (the fake's disputes) send them to
    this process's own webhook endpoint, where they are verified like any provider's."""
    for name, provider in services.deps.providers.as_mapping().items():
        deliver_to = getattr(provider, "deliver_webhooks_to", None)
        if deliver_to is not None:

            def sink(body: bytes, headers: Mapping[str, str], name: str = name) -> Any:
                return services.webhooks.receive(name, body, headers)

            deliver_to(sink)


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
    clock = WallClock()
    harness = build_in_memory(
        clock=clock,
        config=attrs.evolve(service_config(settings), default_provider="fake"),
        provider=FakeProvider(
            webhook_secrets=tuple(s.strip() for s in settings.fake_webhook_secret.split(",")),
            clock=clock,
            authorization_ttl=timedelta(seconds=settings.fake_authorization_ttl_seconds),
        ),
        observer=observer,
    )
    send_provider_webhooks(harness.services)
    return Runtime(
        settings=settings,
        services=harness.services,
        idempotency=InMemoryIdempotencyStore(),
        observer=observer or NullObserver(),
        harness=harness,
    )

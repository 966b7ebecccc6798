"""What every use case needs: the unit of work, providers, clock, ids, config and observer."""

from __future__ import annotations

import logging
import secrets
import time
from collections.abc import Awaitable, Callable, Iterable, Mapping
from datetime import timedelta
from typing import Protocol, TypeVar

import attrs

from payment_core.errors import (
    ConcurrencyError,
    ProviderDeclinedError,
    ProviderError,
    ProviderUnavailableError,
    UnknownProviderError,
    ValidationError,
)
from payment_core.ports import Clock, Ids, PaymentProvider, UnitOfWorkFactory
from payment_core.services.retry import RandBelow, ReconcileSchedule, RetryPolicy

__all__ = [
    "Dependencies",
    "NullObserver",
    "Observer",
    "ProviderRegistry",
    "ServiceConfig",
]

logger = logging.getLogger(__name__)

T = TypeVar("T")


class Observer(Protocol):
    """Hooks for metrics; the HTTP service plugs Prometheus counters in here."""

    def payment_outcome(self, provider: str, status: str) -> None: ...

    def refund_outcome(self, provider: str, status: str) -> None: ...

    def provider_call(self, provider: str, operation: str, outcome: str, seconds: object) -> None:
        """``seconds`` is a :class:`datetime.timedelta` (kept loose for the protocol)."""
        ...

    def amount_mismatch(self, provider: str) -> None: ...

    def state_conflict(self, provider: str, entity: str) -> None:
        """The provider reports money moved for a payment or refund we settled otherwise."""
        ...

    def webhook_mismatch(self, provider: str, entity: str) -> None:
        """A signed webhook names a payment or refund of ours that it may not act on (another
        provider's, or by another provider id than its own): ignored."""
        ...


class NullObserver:
    """Observes nothing."""

    def payment_outcome(self, provider: str, status: str) -> None:
        return None

    def refund_outcome(self, provider: str, status: str) -> None:
        return None

    def provider_call(self, provider: str, operation: str, outcome: str, seconds: object) -> None:
        return None

    def amount_mismatch(self, provider: str) -> None:
        return None

    def state_conflict(self, provider: str, entity: str) -> None:
        return None

    def webhook_mismatch(self, provider: str, entity: str) -> None:
        return None


class ProviderRegistry:
    """Payment providers by name."""

    def __init__(self, providers: Iterable[PaymentProvider] = ()) -> None:
        self._providers: dict[str, PaymentProvider] = {}
        for provider in providers:
            self.register(provider)

    def register(self, provider: PaymentProvider) -> None:
        self._providers[provider.name] = provider

    def get(self, name: str) -> PaymentProvider:
        """The provider called ``name``; ``UnknownProviderError`` if none is configured."""
        try:
            return self._providers[name]
        except KeyError:
            raise UnknownProviderError(provider=name) from None

    def __contains__(self, name: object) -> bool:
        return name in self._providers

    @property
    def names(self) -> tuple[str, ...]:
        return tuple(sorted(self._providers))

    def as_mapping(self) -> Mapping[str, PaymentProvider]:
        return dict(self._providers)


@attrs.frozen(slots=True)
class ServiceConfig:
    """Tunables of the use cases (read from settings by the composition root)."""

    default_provider: str = "fake"
    reconcile_after: timedelta = timedelta(seconds=300)
    reconcile_schedule: ReconcileSchedule = attrs.field(factory=ReconcileSchedule)
    refund_retry: RetryPolicy = attrs.field(factory=RetryPolicy)
    auto_refund_on_cancel: bool = True
    #: Attempt a new refund at the provider as soon as it is created (as Stripe does).
    process_refunds_immediately: bool = True
    #: How often an operation is re-run after an optimistic-lock conflict.
    conflict_retries: int = 5

    def __attrs_post_init__(self) -> None:
        if self.reconcile_after <= timedelta(0):
            raise ValidationError(field="reconcile_after", reason="must be positive")


@attrs.frozen(slots=True)
class Dependencies:
    """The collaborators of the services, built once by the composition root."""

    uow: UnitOfWorkFactory
    providers: ProviderRegistry
    clock: Clock
    ids: Ids
    config: ServiceConfig = ServiceConfig()
    observer: Observer = attrs.field(factory=NullObserver)
    randbelow: RandBelow = secrets.randbelow

    async def call_provider(
        self, provider: PaymentProvider, operation: str, call: Callable[[], Awaitable[T]]
    ) -> T:
        """Call the provider, reporting latency and outcome to the observer."""
        started = time.perf_counter_ns()
        outcome = "ok"
        try:
            return await call()
        except ProviderDeclinedError:
            outcome = "declined"
            raise
        except ProviderUnavailableError:
            outcome = "unavailable"
            raise
        except ProviderError:
            outcome = "rejected"
            raise
        finally:
            elapsed = timedelta(microseconds=(time.perf_counter_ns() - started) // 1000)
            self.observer.provider_call(provider.name, operation, outcome, elapsed)

    async def retrying(self, operation: Callable[[], Awaitable[T]]) -> T:
        """Run ``operation`` again after an optimistic-lock conflict, a bounded number of times."""
        attempts = max(1, self.config.conflict_retries)
        for attempt in range(1, attempts + 1):
            try:
                return await operation()
            except ConcurrencyError:
                if attempt == attempts:
                    raise
                logger.debug("conflict, retrying (attempt %d)", attempt)
        raise AssertionError("unreachable")  # pragma: no cover

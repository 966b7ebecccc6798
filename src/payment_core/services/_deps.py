"""What every use case needs: the unit of work, providers, clock, ids, config and observer."""

from __future__ import annotations

import logging
import secrets
import time
from collections.abc import Awaitable, Callable, Iterable, Mapping
from datetime import timedelta
from enum import StrEnum
from typing import TypeVar

import attrs

from payment_core.errors import (
    ConcurrencyError,
    ProviderDeclinedError,
    ProviderError,
    ProviderUnavailableError,
    UnknownProviderError,
    ValidationError,
)
from payment_core.ports import (
    Clock,
    Ids,
    NullObserver,
    Observer,
    PaymentProvider,
    UnitOfWorkFactory,
)
from payment_core.services.retry import RandBelow, ReconcileSchedule, RetryPolicy

__all__ = ["Dependencies", "ExpiryAction", "ProviderRegistry", "ServiceConfig"]

logger = logging.getLogger(__name__)

T = TypeVar("T")


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


class ExpiryAction(StrEnum):
    """What happens to a hold when its expiry is near: tell (``notify``), or tell and capture
    it whole (``capture``)."""

    NOTIFY = "notify"
    CAPTURE = "capture"


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
    #: How long a hold lasts when its provider does not say (``AUTHORIZATION_TTL_SECONDS``).
    authorization_ttl: timedelta = timedelta(days=7)
    #: How long before a hold expires ``payment.authorization_expiring`` is told.
    authorization_expiry_warning: timedelta = timedelta(days=1)
    #: What is done then (``AUTHORIZATION_EXPIRY_ACTION``).
    authorization_expiry_action: ExpiryAction = ExpiryAction.NOTIFY
    #: When a plan's failed balance is tried again, after each failure
    #: (``PLAN_RETRY_SCHEDULE_SECONDS``); after the last, the plan is ``DEFAULTED``.
    plan_retry_schedule: tuple[timedelta, ...] = (timedelta(days=1), timedelta(days=3))

    def __attrs_post_init__(self) -> None:
        if self.reconcile_after <= timedelta(0):
            raise ValidationError(field="reconcile_after", reason="must be positive")
        if self.authorization_ttl <= timedelta(0):
            raise ValidationError(field="authorization_ttl", reason="must be positive")
        if any(step <= timedelta(0) for step in self.plan_retry_schedule):
            raise ValidationError(field="plan_retry_schedule", reason="must be positive")
        if self.authorization_expiry_warning < timedelta(0):
            raise ValidationError(
                field="authorization_expiry_warning", reason="must not be negative"
            )


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

"""What the core asks of its surroundings besides storage and providers: the time, new ids,
somewhere to deliver committed events, and hooks for metrics."""

from __future__ import annotations

from datetime import datetime
from typing import Protocol
from uuid import UUID

from payment_core.events import DomainEvent

__all__ = ["Clock", "EventPublisher", "Ids", "NullObserver", "Observer"]


class Clock(Protocol):
    """The time; injected so that tests and retries are deterministic."""

    def now(self) -> datetime:
        """The current time, timezone-aware UTC."""
        ...


class Ids(Protocol):
    """Identifier generation; injected so that tests can predict ids."""

    def new_id(self) -> UUID:
        """A new unique id for an aggregate, a record or an event."""
        ...

    def new_reference(self, prefix: str) -> str:
        """A new unguessable public reference (``pay_...``) with at least 128 random bits."""
        ...


class EventPublisher(Protocol):
    """Where committed domain events go (a broker, in-process subscribers, a recorder)."""

    async def publish(self, event: DomainEvent) -> None:
        """Deliver one event at least once; raise if it could not be delivered."""
        ...


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

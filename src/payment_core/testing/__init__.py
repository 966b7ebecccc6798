"""The in-memory harness: everything needed to run the services with no database or broker.

Teams embedding the library use it in their own tests::

    from payment_core.testing import build_in_memory

    async def test_checkout():
        harness = build_in_memory()
        payment = await harness.services.payments.create(CreatePayment(...))
        payment = await harness.services.payments.confirm(payment.id, "pm_card_visa")
        assert harness.published_types() == ["payment.initiated", "payment.completed"]

Every piece is a real implementation of a port (not a mock): in-memory repositories and unit
of work with transaction semantics, a settable clock, predictable ids, the fake provider (also
the service's default provider) and a publisher that records what was delivered.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import UTC, datetime, timedelta
from uuid import UUID

import attrs

from payment_core.events import DomainEvent
from payment_core.ids import new_reference, uuid_from_int
from payment_core.model.plan import PaymentPlan
from payment_core.ports import EventPublisher, Observer
from payment_core.services import Dependencies, ProviderRegistry, ServiceConfig, Services
from payment_core.services.retry import RandBelow
from payment_core.testing._memory_store import InMemoryStore, OutboxEntry
from payment_core.testing._memory_uow import InMemoryUnitOfWork
from payment_core.testing._plan_clock import move_to_days_before_check_in
from payment_core.testing.fake_provider import FAKE_TOKENS, FakeProvider, FakeToken

__all__ = [
    "FAKE_TOKENS",
    "FakeProvider",
    "FakeToken",
    "Harness",
    "InMemoryStore",
    "InMemoryUnitOfWork",
    "OutboxEntry",
    "RecordingPublisher",
    "SequentialIds",
    "SettableClock",
    "build_in_memory",
    "deliver_outbox",
]


class SettableClock:
    """A clock that stands still until told to move."""

    def __init__(self, now: datetime | None = None) -> None:
        self._now = now or datetime(2026, 1, 1, 12, 0, tzinfo=UTC)
        if self._now.tzinfo is None:
            raise ValueError("the clock needs a timezone-aware time")

    def now(self) -> datetime:
        return self._now

    def set(self, now: datetime) -> None:
        self._now = now

    def advance(self, delta: timedelta | None = None, **kwargs: int) -> datetime:
        """Move forward by ``delta`` or ``timedelta(**kwargs)``; return the new time."""
        self._now += delta if delta is not None else timedelta(**kwargs)
        return self._now


class SequentialIds:
    """Predictable ids (``00000000-...-000000000001``, ...) and random-looking references."""

    def __init__(self, start: int = 1) -> None:
        self._next = start

    def new_id(self) -> UUID:
        value = uuid_from_int(self._next)
        self._next += 1
        return value

    def new_reference(self, prefix: str) -> str:
        return new_reference(prefix)


class RecordingPublisher:
    """Records every event it is given, in order; can be told to fail (a broker outage)."""

    def __init__(self) -> None:
        self.events: list[DomainEvent] = []
        self.fail_with: Exception | None = None

    async def publish(self, event: DomainEvent) -> None:
        if self.fail_with is not None:
            raise self.fail_with
        self.events.append(event)

    @property
    def types(self) -> list[str]:
        return [e.type for e in self.events]

    def clear(self) -> None:
        self.events.clear()


async def deliver_outbox(
    store: InMemoryStore, publishers: Sequence[EventPublisher], now: datetime
) -> int:
    """Publish committed, unpublished events in commit order; the number delivered.

    An event is marked published only once every publisher took it; a failure stops the run,
    so nothing is lost or reordered and the rest is delivered next time (at least once).
    """
    delivered = 0
    for entry in store.unpublished():
        for publisher in publishers:
            await publisher.publish(entry.event)
        store.mark_published({entry.sequence}, now)
        delivered += 1
    return delivered


@attrs.define
class Harness:
    """A ready set of services over in-memory adapters, and handles on each adapter."""

    services: Services
    store: InMemoryStore
    clock: SettableClock
    ids: SequentialIds
    provider: FakeProvider
    publisher: RecordingPublisher

    def uow(self) -> InMemoryUnitOfWork:
        return InMemoryUnitOfWork(self.store)

    async def deliver(self) -> int:
        """Deliver the outbox to the recording publisher now."""
        return await deliver_outbox(self.store, [self.publisher], self.clock.now())

    def published_types(self) -> list[str]:
        return self.publisher.types

    async def days_before_check_in(self, plan_id: UUID, days: int) -> PaymentPlan:
        """Move the clock to 00:00, in the plan's time zone, ``days`` days before its check-in
        (never backwards), run the plan loop once, and return the plan: "14 days before
        check-in" shows the balance charged (or failed, and when it is tried again)."""
        return await move_to_days_before_check_in(self.services, self.clock, plan_id, days)

    async def deliver_webhooks(self) -> int:
        """Send the fake provider's webhooks that are due on the clock (its disputes') to the
        service's webhook endpoint, signed, as the served process does by itself."""
        return await self.provider.deliver_due_webhooks()


def build_in_memory(
    *,
    config: ServiceConfig | None = None,
    clock: SettableClock | None = None,
    provider: FakeProvider | None = None,
    observer: Observer | None = None,
    randbelow: RandBelow | None = None,
    auto_deliver: bool = True,
) -> Harness:
    """Build every service over in-memory adapters and the fake provider.

    The fake provider made here keeps time by ``clock`` (its holds last
    ``provider.authorization_ttl`` on it); one passed in keeps its own clock.

    With ``auto_deliver`` (the default) committed events reach ``harness.publisher`` right
    after each commit, as the in-process delivery of the service does; without it they wait in
    ``harness.store.outbox`` until ``await harness.deliver()``.
    """
    store = InMemoryStore()
    clock = clock or SettableClock()
    ids = SequentialIds()
    # Its holds expire on the harness's clock: a test moves a hold to its expiry at once.
    provider = provider or FakeProvider(clock=clock)
    publisher = RecordingPublisher()
    extra: dict[str, object] = {}
    if observer is not None:
        extra["observer"] = observer
    if randbelow is not None:
        extra["randbelow"] = randbelow
    deps = Dependencies(
        uow=lambda: InMemoryUnitOfWork(store),
        providers=ProviderRegistry([provider]),
        clock=clock,
        ids=ids,
        config=config or ServiceConfig(default_provider=provider.name),
        **extra,  # type: ignore[arg-type]
    )
    harness = Harness(
        services=Services.build(deps),
        store=store,
        clock=clock,
        ids=ids,
        provider=provider,
        publisher=publisher,
    )
    # (Tests hand other providers in too: only the fake sends webhooks of itself.)
    if getattr(provider, "webhook_sink", False) is None:
        webhooks = harness.services.webhooks
        name = provider.name
        provider.webhook_sink = lambda body, headers: webhooks.receive(name, body, headers)
    if auto_deliver:

        def deliver_now() -> None:
            # Commits happen on the event loop; delivery to the recorder is synchronous.
            for entry in store.unpublished():
                publisher.events.append(entry.event)
                store.mark_published({entry.sequence}, clock.now())

        store.on_commit.append(deliver_now)
    return harness

"""The in-memory unit of work: a transaction over an :class:`InMemoryStore`.

It reads committed state as copies, stages its writes, and applies them at commit after
checking versions, so a concurrent writer gets ``ConcurrencyError`` exactly as it would on a
database. ``for_update`` takes a per-row lock held until the unit of work ends, so concurrent
asyncio tasks serialise where PostgreSQL would make them wait.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from types import TracebackType
from typing import Any, Generic, Self, TypeVar

from payment_core.errors import ConcurrencyError
from payment_core.events import DomainEvent
from payment_core.testing._memory_credit_notes import InMemoryCreditNoteRepository
from payment_core.testing._memory_disputes import InMemoryDisputeRepository
from payment_core.testing._memory_plans import InMemoryPaymentPlanRepository
from payment_core.testing._memory_records import (
    InMemoryBillingRepository,
    InMemoryBookingLocks,
    InMemoryInbox,
    InMemoryInvoiceNumbers,
    InMemoryWebhookStore,
    credit_note_numbers,
)
from payment_core.testing._memory_repositories import (
    InMemoryInvoiceRepository,
    InMemoryPaymentMethodRepository,
    InMemoryPaymentRepository,
    InMemoryRefundRepository,
)
from payment_core.testing._memory_store import InMemoryStore, Part

__all__ = ["InMemoryUnitOfWork"]

P = TypeVar("P", bound=Part)


class _Repository(Generic[P]):
    """A repository of the unit of work, made on first use over the store's ``table`` (or the
    whole store).

    The first read sets it as an attribute of the unit of work, where every later read finds
    it first (this is a non-data descriptor): a plain attribute from then on. Commit checks and
    applies only the repositories made, so a unit of work costs what it touches.
    """

    def __init__(self, make: Callable[[Any, Any], P], table: str | None = None) -> None:
        self._make = make
        self._table = table
        self._name = ""

    def __set_name__(self, owner: type, name: str) -> None:
        self._name = name

    def __get__(self, uow: InMemoryUnitOfWork, owner: type | None = None) -> P:
        store = uow.store
        part = self._make(uow, store if self._table is None else getattr(store, self._table))
        setattr(uow, self._name, part)
        uow._parts.append(part)
        return part


class InMemoryUnitOfWork:
    """A transaction over an :class:`InMemoryStore`.

    Repositories are made on first use, and commit checks and applies only those, so a unit
    of work costs what it touches (this is the hot path of every use case in the harness).
    """

    def __init__(self, store: InMemoryStore) -> None:
        self.store = store
        self._parts: list[Part] = []
        #: Aggregates passed to add/update, by identity, in the order first seen.
        self._seen: dict[int, Any] = {}
        self._held: list[tuple[str, object]] = []
        self._done = False

    # ------------------------------------------------------------------ repositories
    payments = _Repository(InMemoryPaymentRepository, "payments")
    refunds = _Repository(InMemoryRefundRepository, "refunds")
    payment_methods = _Repository(InMemoryPaymentMethodRepository, "payment_methods")
    payment_plans = _Repository(InMemoryPaymentPlanRepository, "payment_plans")
    invoices = _Repository(InMemoryInvoiceRepository, "invoices")
    disputes = _Repository(InMemoryDisputeRepository, "disputes")
    billing = _Repository(InMemoryBillingRepository)
    invoice_numbers = _Repository(InMemoryInvoiceNumbers)
    credit_notes = _Repository(InMemoryCreditNoteRepository, "credit_notes")
    credit_note_numbers = _Repository(credit_note_numbers)
    inbox = _Repository(InMemoryInbox)
    bookings = _Repository(InMemoryBookingLocks)
    webhooks = _Repository(InMemoryWebhookStore)

    # ------------------------------------------------------------------ transaction
    def track(self, aggregate: Any) -> None:
        self._seen.setdefault(id(aggregate), aggregate)

    async def lock(self, key: tuple[str, object]) -> None:
        """Hold ``key`` until this unit of work ends, waiting while another one holds it."""
        owners = self.store.lock_owners
        owner = owners.get(key)
        while owner is not None and owner is not self:
            waiter: asyncio.Future[None] = asyncio.get_running_loop().create_future()
            self.store.lock_waiters.setdefault(key, []).append(waiter)
            await waiter
            owner = owners.get(key)
        if owner is None:
            owners[key] = self
            self._held.append(key)

    def _release(self) -> None:
        # A plain dict of owners rather than an asyncio.Lock per row: an uncontended lock (the
        # usual case) costs two dict operations, and released rows leave nothing behind.
        owners, waiting = self.store.lock_owners, self.store.lock_waiters
        for key in self._held:
            del owners[key]
            for waiter in waiting.pop(key, ()):
                if not waiter.done():
                    waiter.set_result(None)  # every waiter checks again; one gets it
        self._held.clear()

    async def __aenter__(self) -> Self:
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        if not self._done:
            await self.rollback()

    async def commit(self) -> None:
        if self._done:
            raise RuntimeError("this unit of work has already committed or rolled back")
        parts = self._parts
        try:
            for part in parts:
                part.check()
        except ConcurrencyError:
            await self.rollback()
            raise
        events: list[DomainEvent] = []
        for aggregate in self._seen.values():
            events.extend(aggregate.events)
            aggregate.events = []
        for part in parts:
            part.apply()
        store = self.store
        for event in events:
            store.append_event(event)
        store.commits += 1
        self._done = True
        self._release()
        if events:
            for hook in store.on_commit:
                hook()

    async def rollback(self) -> None:
        self._done = True
        self._release()

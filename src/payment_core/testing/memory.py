"""In-memory implementations of every storage port, with real transaction semantics.

A unit of work reads committed state as copies, stages its writes, and applies them at commit
after checking versions, so a concurrent writer gets ``ConcurrencyError`` exactly as it would on
a database. ``for_update`` takes a per-row lock held until the unit of work ends, so concurrent
asyncio tasks serialise where PostgreSQL would make them wait.
"""

from __future__ import annotations

import asyncio
from collections import defaultdict
from collections.abc import AsyncIterator, Callable, Iterable, Sequence
from datetime import datetime, timedelta
from types import TracebackType
from typing import Any, Generic, Protocol, Self, TypeVar
from uuid import UUID

import attrs

from payment_core.errors import (
    ConcurrencyError,
    IdempotencyKeyReusedError,
    IdempotencyRequestInProgressError,
)
from payment_core.events import DomainEvent
from payment_core.model._base import copy_aggregate
from payment_core.model.billing import BillingRecord
from payment_core.model.invoice import Invoice, InvoiceStatus
from payment_core.model.payment import Payment, PaymentStatus
from payment_core.model.refund import Refund, RefundStatus
from payment_core.pagination import Cursor, Page, PageRequest
from payment_core.ports import IdempotencyClaim, StoredResponse, StoredWebhook

__all__ = [
    "InMemoryIdempotencyStore",
    "InMemoryStore",
    "InMemoryUnitOfWork",
    "OutboxEntry",
]


class _Aggregate(Protocol):
    id: UUID
    version: int
    created_at: datetime

    @property
    def events(self) -> Sequence[DomainEvent]: ...


class _Part(Protocol):
    """A repository's staged writes: checked, then applied, at commit."""

    def check(self) -> None: ...

    def apply(self) -> None: ...


A = TypeVar("A", bound=_Aggregate)
T = TypeVar("T")


def _page(
    items: Iterable[T], page: PageRequest, key: Callable[[T], tuple[datetime, UUID]]
) -> Page[T]:
    ordered = sorted(items, key=key)
    if page.after is not None:
        after = (page.after.created_at, page.after.id)
        ordered = [i for i in ordered if key(i) > after]
    chunk = ordered[: page.limit]
    next_cursor = None
    if len(ordered) > page.limit:
        created_at, ident = key(chunk[-1])
        next_cursor = Cursor(created_at, ident).encode()
    return Page(items=chunk, next_cursor=next_cursor)


@attrs.frozen(slots=True)
class OutboxEntry:
    """A committed event waiting to be delivered."""

    sequence: int
    event: DomainEvent
    published_at: datetime | None = None


class InMemoryStore:
    """The committed state shared by every unit of work of one harness."""

    def __init__(self) -> None:
        self.payments: dict[UUID, Payment] = {}
        self.refunds: dict[UUID, Refund] = {}
        self.invoices: dict[UUID, Invoice] = {}
        self.billing: dict[UUID, list[BillingRecord]] = defaultdict(list)
        self.invoice_counters: dict[int, int] = {}
        self.inbox: set[tuple[str, str]] = set()
        #: Bookings whose events were handled, and when each was cancelled.
        self.bookings: dict[UUID, datetime | None] = {}
        self.webhooks: dict[UUID, StoredWebhook] = {}
        self.webhook_keys: dict[tuple[str, str], UUID] = {}
        self.outbox: list[OutboxEntry] = []
        self._outbox_sequence = 0
        #: Index in ``outbox`` before which every entry is published.
        self._watermark = 0
        #: Row locks: the unit of work holding each locked key, and who waits for it.
        self.lock_owners: dict[tuple[str, object], InMemoryUnitOfWork] = {}
        self.lock_waiters: dict[tuple[str, object], list[asyncio.Future[None]]] = {}
        #: Called after every commit that wrote events (the harness delivers them).
        self.on_commit: list[Callable[[], None]] = []
        self.commits = 0

    def next_outbox_sequence(self) -> int:
        self._outbox_sequence += 1
        return self._outbox_sequence

    def append_event(self, event: DomainEvent) -> OutboxEntry:
        """Write a committed event to the outbox (called by the unit of work's commit)."""
        entry = OutboxEntry(self.next_outbox_sequence(), event)
        self.outbox.append(entry)
        return entry

    def unpublished(self) -> list[OutboxEntry]:
        """Committed events not yet delivered, in commit order."""
        # Everything before the watermark is published, so this costs what is waiting, not
        # everything ever committed.
        outbox, start = self.outbox, self._watermark
        while start < len(outbox) and outbox[start].published_at is not None:
            start += 1
        self._watermark = start
        return [e for e in outbox[start:] if e.published_at is None]

    def mark_published(self, sequences: Iterable[int], at: datetime) -> None:
        outbox = self.outbox
        for sequence in sequences:
            index = sequence - 1  # sequences count from 1 in append order
            if not (0 <= index < len(outbox) and outbox[index].sequence == sequence):
                index = next((i for i, e in enumerate(outbox) if e.sequence == sequence), -1)
            if index >= 0 and outbox[index].published_at is None:
                entry = outbox[index]
                outbox[index] = OutboxEntry(entry.sequence, entry.event, at)


class _Repo(Generic[A]):
    """Staged reads and writes of one aggregate type."""

    entity = "aggregate"

    def __init__(self, uow: InMemoryUnitOfWork, table: dict[UUID, A]) -> None:
        self._uow = uow
        self._table = table
        self.staged: dict[UUID, A] = {}
        self.read_versions: dict[UUID, int] = {}

    def _current(self, ident: UUID) -> A | None:
        return self.staged.get(ident) or self._table.get(ident)

    async def _get(self, ident: UUID, for_update: bool) -> A | None:
        if for_update:
            await self._uow.lock((self.entity, ident))
        found = self.staged.get(ident) or self._table.get(ident)
        return None if found is None else copy_aggregate(found)

    def _all(self) -> list[A]:
        merged = dict(self._table)
        merged.update(self.staged)
        return list(merged.values())

    async def add(self, aggregate: A) -> None:
        if aggregate.id in self._table or aggregate.id in self.staged:
            raise ConcurrencyError(entity=self.entity, entity_id=aggregate.id)
        self.staged[aggregate.id] = copy_aggregate(aggregate)
        self.read_versions[aggregate.id] = -1
        self._uow.track(aggregate)

    async def update(self, aggregate: A) -> None:
        current = self._current(aggregate.id)
        if current is None or current.version != aggregate.version:
            raise ConcurrencyError(entity=self.entity, entity_id=aggregate.id)
        self.read_versions.setdefault(aggregate.id, aggregate.version)
        aggregate.version += 1
        self.staged[aggregate.id] = copy_aggregate(aggregate)
        self._uow.track(aggregate)

    def check(self) -> None:
        for ident, version in self.read_versions.items():
            committed = self._table.get(ident)
            if version == -1:
                if committed is not None:
                    raise ConcurrencyError(entity=self.entity, entity_id=ident)
            elif committed is None or committed.version != version:
                raise ConcurrencyError(entity=self.entity, entity_id=ident)

    def apply(self) -> None:
        self._table.update(self.staged)


class InMemoryPaymentRepository(_Repo[Payment]):
    entity = "payment"

    async def get(self, payment_id: UUID, *, for_update: bool = False) -> Payment | None:
        return await self._get(payment_id, for_update)

    async def get_by_reference(self, reference: str) -> Payment | None:
        return next((copy_aggregate(p) for p in self._all() if p.reference == reference), None)

    async def get_by_provider_id(self, provider: str, provider_payment_id: str) -> Payment | None:
        return next(
            (
                copy_aggregate(p)
                for p in self._all()
                if p.provider == provider and p.provider_payment_id == provider_payment_id
            ),
            None,
        )

    async def list_by_booking(self, booking_id: UUID, page: PageRequest) -> Page[Payment]:
        items = [copy_aggregate(p) for p in self._all() if p.booking_id == booking_id]
        return _page(items, page, lambda p: (p.created_at, p.id))

    async def list_by_guest(self, guest_id: UUID, page: PageRequest) -> Page[Payment]:
        items = [copy_aggregate(p) for p in self._all() if p.guest_id == guest_id]
        return _page(items, page, lambda p: (p.created_at, p.id))

    async def list_due_for_reconciliation(self, now: datetime, limit: int) -> Sequence[Payment]:
        due = [
            p
            for p in self._all()
            if p.status is PaymentStatus.PROCESSING
            and p.reconcile_at is not None
            and p.reconcile_at <= now
        ]
        due.sort(key=lambda p: (p.reconcile_at or now, p.id))
        return [copy_aggregate(p) for p in due[:limit]]


class InMemoryRefundRepository(_Repo[Refund]):
    entity = "refund"

    async def get(self, refund_id: UUID, *, for_update: bool = False) -> Refund | None:
        return await self._get(refund_id, for_update)

    async def get_by_reference(self, reference: str) -> Refund | None:
        return next((copy_aggregate(r) for r in self._all() if r.reference == reference), None)

    async def get_by_provider_id(self, provider: str, provider_refund_id: str) -> Refund | None:
        return next(
            (
                copy_aggregate(r)
                for r in self._all()
                if r.provider == provider and r.provider_refund_id == provider_refund_id
            ),
            None,
        )

    async def list_by_payment(self, payment_id: UUID, page: PageRequest) -> Page[Refund]:
        items = [copy_aggregate(r) for r in self._all() if r.payment_id == payment_id]
        return _page(items, page, lambda r: (r.created_at, r.id))

    async def list_by_booking(self, booking_id: UUID) -> Sequence[Refund]:
        items = [copy_aggregate(r) for r in self._all() if r.booking_id == booking_id]
        return sorted(items, key=lambda r: (r.created_at, r.id))

    async def list_due(self, now: datetime, limit: int) -> Sequence[Refund]:
        due = [
            r
            for r in self._all()
            if r.status is RefundStatus.PENDING
            and r.next_retry_at is not None
            and r.next_retry_at <= now
        ]
        due.sort(key=lambda r: (r.next_retry_at or now, r.id))
        return [copy_aggregate(r) for r in due[:limit]]

    async def list_stuck(
        self, before: datetime, limit: int, *, due_by: datetime | None = None
    ) -> Sequence[Refund]:
        stuck = [
            r
            for r in self._all()
            if r.status is RefundStatus.PROCESSING
            and r.updated_at < before
            and (due_by is None or r.next_retry_at is None or r.next_retry_at <= due_by)
        ]
        stuck.sort(key=lambda r: (r.updated_at, r.id))
        return [copy_aggregate(r) for r in stuck[:limit]]


class InMemoryInvoiceRepository(_Repo[Invoice]):
    entity = "invoice"

    async def get(self, invoice_id: UUID, *, for_update: bool = False) -> Invoice | None:
        return await self._get(invoice_id, for_update)

    async def get_by_number(self, number: str) -> Invoice | None:
        return next((copy_aggregate(i) for i in self._all() if i.number == number), None)

    async def list_by_booking(self, booking_id: UUID, page: PageRequest) -> Page[Invoice]:
        items = [copy_aggregate(i) for i in self._all() if i.booking_id == booking_id]
        return _page(items, page, lambda i: (i.created_at, i.id))

    async def list_open_for_payment(self, payment_id: UUID) -> Sequence[Invoice]:
        return [
            copy_aggregate(i)
            for i in self._all()
            if i.payment_id == payment_id
            and i.status in (InvoiceStatus.OPEN, InvoiceStatus.UNCOLLECTIBLE)
        ]

    async def amount_applied_from(self, payment_id: UUID) -> int:
        return sum(i.amount_applied for i in self._all() if i.payment_id == payment_id)


class InMemoryBillingRepository:
    def __init__(self, uow: InMemoryUnitOfWork, store: InMemoryStore) -> None:
        self._uow = uow
        self._store = store
        self.staged: list[BillingRecord] = []

    def _chain(self, booking_id: UUID) -> list[BillingRecord]:
        return self._store.billing.get(booking_id, []) + [
            r for r in self.staged if r.booking_id == booking_id
        ]

    def _last(self, booking_id: UUID) -> BillingRecord | None:
        for record in reversed(self.staged):
            if record.booking_id == booking_id:
                return record
        chain = self._store.billing.get(booking_id)
        return chain[-1] if chain else None

    async def head(self, booking_id: UUID) -> BillingRecord | None:
        await self._uow.lock(("billing", booking_id))
        return self._last(booking_id)

    # Chains grow in sequence order, so a sequence past the chain's last one is free; only an
    # older one needs a scan of the chain to tell whether it is taken (a fork).
    async def add(self, record: BillingRecord) -> None:
        last = self._last(record.booking_id)
        if (
            last is not None
            and record.sequence <= last.sequence
            and any(r.sequence == record.sequence for r in self._chain(record.booking_id))
        ):
            raise ConcurrencyError(entity="billing_record", entity_id=record.id)
        self.staged.append(record)

    def check(self) -> None:
        for record in self.staged:
            chain = self._store.billing.get(record.booking_id)
            if (
                chain
                and record.sequence <= chain[-1].sequence
                and any(r.sequence == record.sequence for r in chain)
            ):
                raise ConcurrencyError(entity="billing_record", entity_id=record.id)

    def apply(self) -> None:
        for record in self.staged:
            self._store.billing[record.booking_id].append(record)

    def _all(self) -> list[BillingRecord]:
        records = [r for chain in self._store.billing.values() for r in chain]
        return records + self.staged

    async def list_by_booking(self, booking_id: UUID, page: PageRequest) -> Page[BillingRecord]:
        return _page(self._chain(booking_id), page, lambda r: (r.created_at, r.id))

    async def list_by_guest(self, guest_id: UUID, page: PageRequest) -> Page[BillingRecord]:
        items = [r for r in self._all() if r.guest_id == guest_id]
        return _page(items, page, lambda r: (r.created_at, r.id))

    async def stream_chains(self, *, batch_size: int = 1000) -> AsyncIterator[BillingRecord]:
        for record in sorted(self._all(), key=lambda r: (str(r.booking_id), r.sequence)):
            yield record


class InMemoryInvoiceNumbers:
    def __init__(self, uow: InMemoryUnitOfWork, store: InMemoryStore) -> None:
        self._uow = uow
        self._store = store
        self.staged: dict[int, int] = {}

    async def next(self, year: int) -> int:
        # The counter row is "locked" until the unit of work ends: numbers stay gap-free.
        await self._uow.lock(("invoice_number", year))
        value = self.staged.get(year, self._store.invoice_counters.get(year, 0)) + 1
        self.staged[year] = value
        return value

    def check(self) -> None:
        return None  # nothing here can conflict at commit

    def apply(self) -> None:
        self._store.invoice_counters.update(self.staged)


class InMemoryInbox:
    def __init__(self, uow: InMemoryUnitOfWork, store: InMemoryStore) -> None:
        self._uow = uow
        self._store = store
        self.staged: set[tuple[str, str]] = set()

    async def add(self, consumer: str, event_id: str) -> bool:
        key = (consumer, event_id)
        await self._uow.lock(("inbox", key))
        if key in self._store.inbox or key in self.staged:
            return False
        self.staged.add(key)
        return True

    def check(self) -> None:
        return None  # nothing here can conflict at commit

    def apply(self) -> None:
        self._store.inbox |= self.staged


class InMemoryBookingLocks:
    def __init__(self, uow: InMemoryUnitOfWork, store: InMemoryStore) -> None:
        self._uow = uow
        self._store = store
        self.staged: dict[UUID, datetime | None] = {}

    async def lock(self, booking_id: UUID) -> datetime | None:
        await self._uow.lock(("booking", booking_id))
        if booking_id in self.staged:
            return self.staged[booking_id]
        cancelled_at = self._store.bookings.get(booking_id)
        self.staged[booking_id] = cancelled_at
        return cancelled_at

    async def mark_cancelled(self, booking_id: UUID, at: datetime) -> None:
        if await self.lock(booking_id) is None:
            self.staged[booking_id] = at

    def check(self) -> None:
        return None  # held under the booking's lock: nothing can conflict at commit

    def apply(self) -> None:
        self._store.bookings.update(self.staged)


class InMemoryWebhookStore:
    def __init__(self, uow: InMemoryUnitOfWork, store: InMemoryStore) -> None:
        self._uow = uow
        self._store = store
        self.staged: dict[UUID, StoredWebhook] = {}

    async def add(self, webhook: StoredWebhook) -> StoredWebhook:
        key = (webhook.provider, webhook.event_id)
        await self._uow.lock(("webhook", key))
        known = self._store.webhook_keys.get(key)
        if known is not None:
            return self.staged.get(known) or self._store.webhooks[known]
        for staged in self.staged.values():
            if (staged.provider, staged.event_id) == key:
                return staged
        self.staged[webhook.id] = webhook
        return webhook

    async def get(self, webhook_id: UUID) -> StoredWebhook | None:
        return self.staged.get(webhook_id) or self._store.webhooks.get(webhook_id)

    async def mark_processed(self, webhook_id: UUID, at: datetime) -> None:
        current = await self.get(webhook_id)
        if current is not None:
            self.staged[webhook_id] = attrs.evolve(current, processed_at=at)

    def check(self) -> None:
        return None  # nothing here can conflict at commit

    def apply(self) -> None:
        for webhook in self.staged.values():
            self._store.webhooks[webhook.id] = webhook
            self._store.webhook_keys[(webhook.provider, webhook.event_id)] = webhook.id


class InMemoryUnitOfWork:
    """A transaction over an :class:`InMemoryStore`.

    Repositories are made on first use, and commit checks and applies only those, so a unit
    of work costs what it touches (this is the hot path of every use case in the harness).
    """

    def __init__(self, store: InMemoryStore) -> None:
        self.store = store
        self._payments: InMemoryPaymentRepository | None = None
        self._refunds: InMemoryRefundRepository | None = None
        self._invoices: InMemoryInvoiceRepository | None = None
        self._billing: InMemoryBillingRepository | None = None
        self._invoice_numbers: InMemoryInvoiceNumbers | None = None
        self._inbox: InMemoryInbox | None = None
        self._bookings: InMemoryBookingLocks | None = None
        self._webhooks: InMemoryWebhookStore | None = None
        self._parts: list[_Part] = []
        #: Aggregates passed to add/update, by identity, in the order first seen.
        self._seen: dict[int, Any] = {}
        self._held: list[tuple[str, object]] = []
        self._done = False

    # ------------------------------------------------------------------ repositories
    @property
    def payments(self) -> InMemoryPaymentRepository:
        repo = self._payments
        if repo is None:
            repo = self._payments = InMemoryPaymentRepository(self, self.store.payments)
            self._parts.append(repo)
        return repo

    @property
    def refunds(self) -> InMemoryRefundRepository:
        repo = self._refunds
        if repo is None:
            repo = self._refunds = InMemoryRefundRepository(self, self.store.refunds)
            self._parts.append(repo)
        return repo

    @property
    def invoices(self) -> InMemoryInvoiceRepository:
        repo = self._invoices
        if repo is None:
            repo = self._invoices = InMemoryInvoiceRepository(self, self.store.invoices)
            self._parts.append(repo)
        return repo

    @property
    def billing(self) -> InMemoryBillingRepository:
        repo = self._billing
        if repo is None:
            repo = self._billing = InMemoryBillingRepository(self, self.store)
            self._parts.append(repo)
        return repo

    @property
    def invoice_numbers(self) -> InMemoryInvoiceNumbers:
        part = self._invoice_numbers
        if part is None:
            part = self._invoice_numbers = InMemoryInvoiceNumbers(self, self.store)
            self._parts.append(part)
        return part

    @property
    def inbox(self) -> InMemoryInbox:
        part = self._inbox
        if part is None:
            part = self._inbox = InMemoryInbox(self, self.store)
            self._parts.append(part)
        return part

    @property
    def bookings(self) -> InMemoryBookingLocks:
        part = self._bookings
        if part is None:
            part = self._bookings = InMemoryBookingLocks(self, self.store)
            self._parts.append(part)
        return part

    @property
    def webhooks(self) -> InMemoryWebhookStore:
        part = self._webhooks
        if part is None:
            part = self._webhooks = InMemoryWebhookStore(self, self.store)
            self._parts.append(part)
        return part

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


@attrs.define(slots=True)
class _Key:
    fingerprint: str
    created_at: datetime
    locked_at: datetime | None
    expires_at: datetime
    response: StoredResponse | None = None


class InMemoryIdempotencyStore:
    """Idempotency keys in memory, with the same claim semantics as the SQL store."""

    def __init__(self) -> None:
        self._keys: dict[str, _Key] = {}

    async def claim(
        self,
        key: str,
        fingerprint: str,
        *,
        now: datetime,
        ttl: timedelta,
        lock_timeout: timedelta,
    ) -> IdempotencyClaim:
        entry = self._keys.get(key)
        if entry is not None and entry.expires_at <= now:
            entry = None
        if entry is None:
            self._keys[key] = _Key(fingerprint, now, now, now + ttl)
            return IdempotencyClaim()
        if entry.fingerprint != fingerprint:
            raise IdempotencyKeyReusedError(key=key)
        if entry.response is not None:
            return IdempotencyClaim(replay=entry.response)
        if entry.locked_at is not None and now - entry.locked_at < lock_timeout:
            raise IdempotencyRequestInProgressError(key=key)
        entry.locked_at = now  # a stale lock: the first request died; take it over
        return IdempotencyClaim()

    async def complete(self, key: str, response: StoredResponse, *, now: datetime) -> None:
        entry = self._keys.get(key)
        if entry is not None:
            entry.response = response
            entry.locked_at = None

    async def release(self, key: str) -> None:
        self._keys.pop(key, None)

    async def purge_expired(self, now: datetime, limit: int) -> int:
        expired = [k for k, e in self._keys.items() if e.expires_at <= now][:limit]
        for k in expired:
            del self._keys[k]
        return len(expired)

"""The committed state of the in-memory harness (what a database would hold), and what its
repositories need of their unit of work."""

from __future__ import annotations

import asyncio
from collections import defaultdict
from collections.abc import Callable, Iterable
from datetime import datetime
from typing import Any, Protocol, TypeVar
from uuid import UUID

import attrs

from payment_core.events import DomainEvent
from payment_core.model.billing import BillingRecord
from payment_core.model.credit_note import CreditNote
from payment_core.model.dispute import Dispute
from payment_core.model.invoice import Invoice
from payment_core.model.payment import Payment
from payment_core.model.payment_method import PaymentMethod
from payment_core.model.plan import PaymentPlan
from payment_core.model.refund import Refund
from payment_core.pagination import Cursor, Page, PageRequest
from payment_core.ports import StoredWebhook

__all__ = ["InMemoryStore", "OutboxEntry", "Part", "Transaction", "page_of"]

T = TypeVar("T")


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
        self.payment_methods: dict[UUID, PaymentMethod] = {}
        self.invoices: dict[UUID, Invoice] = {}
        self.payment_plans: dict[UUID, PaymentPlan] = {}
        self.disputes: dict[UUID, Dispute] = {}
        self.billing: dict[UUID, list[BillingRecord]] = defaultdict(list)
        self.invoice_counters: dict[int, int] = {}
        self.credit_notes: dict[UUID, CreditNote] = {}
        self.credit_note_counters: dict[int, int] = {}
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
        self.lock_owners: dict[tuple[str, object], object] = {}
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


class Transaction(Protocol):
    """What the repositories need of their unit of work."""

    def track(self, aggregate: Any) -> None:
        """Collect this aggregate's events at commit."""

    async def lock(self, key: tuple[str, object]) -> None:
        """Hold ``key`` until the unit of work ends."""


class Part(Protocol):
    """A repository's staged writes: checked, then applied, at commit."""

    def check(self) -> None: ...

    def apply(self) -> None: ...


def page_of(
    items: Iterable[T], page: PageRequest, key: Callable[[T], tuple[datetime, UUID]]
) -> Page[T]:
    """One keyset page of ``items`` in ``key`` order, as a database gives it."""
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

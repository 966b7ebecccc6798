"""In-memory storage of the records around the aggregates: the billing trail, invoice numbers,
the inbox, booking locks and stored webhooks."""

from __future__ import annotations

from collections.abc import AsyncIterator
from datetime import datetime
from uuid import UUID

import attrs

from payment_core.errors import ConcurrencyError
from payment_core.model.billing import BillingRecord
from payment_core.pagination import Page, PageRequest
from payment_core.ports import StoredWebhook
from payment_core.testing._memory_store import InMemoryStore, Transaction, page_of

__all__ = [
    "InMemoryBillingRepository",
    "InMemoryBookingLocks",
    "InMemoryInbox",
    "InMemoryInvoiceNumbers",
    "InMemoryWebhookStore",
]


class InMemoryBillingRepository:
    def __init__(self, uow: Transaction, store: InMemoryStore) -> None:
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
        return page_of(self._chain(booking_id), page, lambda r: (r.created_at, r.id))

    async def list_by_guest(self, guest_id: UUID, page: PageRequest) -> Page[BillingRecord]:
        items = [r for r in self._all() if r.guest_id == guest_id]
        return page_of(items, page, lambda r: (r.created_at, r.id))

    async def stream_chains(self, *, batch_size: int = 1000) -> AsyncIterator[BillingRecord]:
        for record in sorted(self._all(), key=lambda r: (str(r.booking_id), r.sequence)):
            yield record


class InMemoryInvoiceNumbers:
    """A yearly counter (invoice numbers, or credit note numbers with ``series``)."""

    def __init__(
        self, uow: Transaction, store: InMemoryStore, series: str = "invoice_number"
    ) -> None:
        self._uow = uow
        self._series = series
        self._counters = (
            store.invoice_counters if series == "invoice_number" else store.credit_note_counters
        )
        self.staged: dict[int, int] = {}

    async def next(self, year: int) -> int:
        # The counter row is "locked" until the unit of work ends: numbers stay gap-free.
        await self._uow.lock((self._series, year))
        value = self.staged.get(year, self._counters.get(year, 0)) + 1
        self.staged[year] = value
        return value

    def check(self) -> None:
        return None  # nothing here can conflict at commit

    def apply(self) -> None:
        self._counters.update(self.staged)


def credit_note_numbers(uow: Transaction, store: InMemoryStore) -> InMemoryInvoiceNumbers:
    """The credit notes' own yearly counter."""
    return InMemoryInvoiceNumbers(uow, store, "credit_note_number")


class InMemoryInbox:
    def __init__(self, uow: Transaction, store: InMemoryStore) -> None:
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
    def __init__(self, uow: Transaction, store: InMemoryStore) -> None:
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
    def __init__(self, uow: Transaction, store: InMemoryStore) -> None:
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

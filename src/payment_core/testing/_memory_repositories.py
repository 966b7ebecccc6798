"""In-memory repositories of the aggregates (payments, refunds, invoices, saved payment
methods): staged reads and
writes, checked and applied at commit, as ``payment_adapters.sqlalchemy.repositories`` does on a
database (the contract suite in ``tests/contract`` holds both to the same assertions)."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from typing import Generic, Protocol, TypeVar
from uuid import UUID

from payment_core.errors import ConcurrencyError
from payment_core.events import DomainEvent
from payment_core.model._copy import copy_aggregate
from payment_core.model.invoice import Invoice, InvoiceStatus
from payment_core.model.payment import Payment, PaymentStatus
from payment_core.model.payment_method import PaymentMethod
from payment_core.model.refund import Refund, RefundStatus
from payment_core.pagination import Page, PageRequest
from payment_core.testing._memory_store import Transaction, page_of

__all__ = [
    "InMemoryInvoiceRepository",
    "InMemoryPaymentMethodRepository",
    "InMemoryPaymentRepository",
    "InMemoryRefundRepository",
]


class _Aggregate(Protocol):
    id: UUID
    version: int
    created_at: datetime

    @property
    def events(self) -> Sequence[DomainEvent]: ...


A = TypeVar("A", bound=_Aggregate)


class Repo(Generic[A]):
    """Staged reads and writes of one aggregate type."""

    entity = "aggregate"

    def __init__(self, uow: Transaction, table: dict[UUID, A]) -> None:
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


class InMemoryPaymentRepository(Repo[Payment]):
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
        return page_of(items, page, lambda p: (p.created_at, p.id))

    async def list_by_guest(self, guest_id: UUID, page: PageRequest) -> Page[Payment]:
        items = [copy_aggregate(p) for p in self._all() if p.guest_id == guest_id]
        return page_of(items, page, lambda p: (p.created_at, p.id))

    async def list_due_for_reconciliation(self, now: datetime, limit: int) -> Sequence[Payment]:
        due = [
            p
            for p in self._all()
            if p.status in _AWAITING and p.reconcile_at is not None and p.reconcile_at <= now
        ]
        due.sort(key=lambda p: (p.reconcile_at or now, p.id))
        return [copy_aggregate(p) for p in due[:limit]]

    def _holds(self, before: datetime, *, unwarned: bool) -> list[Payment]:
        found = [
            p
            for p in self._all()
            if p.status is PaymentStatus.AUTHORIZED
            and p.amount_capture_pending == 0
            and p.authorization_expires_at is not None
            and p.authorization_expires_at <= before
            and (not unwarned or p.expiry_warned_at is None)
        ]
        return sorted(found, key=lambda p: (p.authorization_expires_at or before, p.id))

    async def list_holds_to_warn(self, before: datetime, limit: int) -> Sequence[Payment]:
        return [copy_aggregate(p) for p in self._holds(before, unwarned=True)[:limit]]

    async def list_holds_expired(self, now: datetime, limit: int) -> Sequence[Payment]:
        return [copy_aggregate(p) for p in self._holds(now, unwarned=False)[:limit]]


#: The states whose payments may wait for the provider (a confirm, or a capture in flight).
_AWAITING = (PaymentStatus.PROCESSING, PaymentStatus.AUTHORIZED)


class InMemoryPaymentMethodRepository(Repo[PaymentMethod]):
    entity = "payment_method"

    def _saved_by(self, method: PaymentMethod, methods: list[PaymentMethod]) -> bool:
        # One method per saving payment, as the SQL unique index says.
        return method.payment_id is not None and any(
            m.payment_id == method.payment_id and m.id != method.id for m in methods
        )

    async def add(self, aggregate: PaymentMethod) -> None:
        if self._saved_by(aggregate, self._all()):
            raise ConcurrencyError(entity=self.entity, entity_id=aggregate.id)
        await super().add(aggregate)

    def check(self) -> None:
        super().check()
        committed = list(self._table.values())
        for method in self.staged.values():
            if self._saved_by(method, committed):
                raise ConcurrencyError(entity=self.entity, entity_id=method.id)

    async def get(
        self, payment_method_id: UUID, *, for_update: bool = False
    ) -> PaymentMethod | None:
        return await self._get(payment_method_id, for_update)

    async def list_by_guest(self, guest_id: UUID, page: PageRequest) -> Page[PaymentMethod]:
        items = [copy_aggregate(m) for m in self._all() if m.guest_id == guest_id]
        return page_of(items, page, lambda m: (m.created_at, m.id))

    async def customer_of(self, guest_id: UUID, provider: str) -> str | None:
        mine = [
            m
            for m in self._all()
            if m.guest_id == guest_id
            and m.provider == provider
            and m.provider_customer_id is not None
        ]
        mine.sort(key=lambda m: (m.created_at, m.id))
        return mine[-1].provider_customer_id if mine else None


class InMemoryRefundRepository(Repo[Refund]):
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
        return page_of(items, page, lambda r: (r.created_at, r.id))

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


class InMemoryInvoiceRepository(Repo[Invoice]):
    entity = "invoice"

    async def get(self, invoice_id: UUID, *, for_update: bool = False) -> Invoice | None:
        return await self._get(invoice_id, for_update)

    async def get_by_number(self, number: str) -> Invoice | None:
        return next((copy_aggregate(i) for i in self._all() if i.number == number), None)

    async def list_by_booking(self, booking_id: UUID, page: PageRequest) -> Page[Invoice]:
        items = [copy_aggregate(i) for i in self._all() if i.booking_id == booking_id]
        return page_of(items, page, lambda i: (i.created_at, i.id))

    async def list_open_for_payment(self, payment_id: UUID) -> Sequence[Invoice]:
        return [
            copy_aggregate(i)
            for i in self._all()
            if i.payment_id == payment_id
            and i.status in (InvoiceStatus.OPEN, InvoiceStatus.UNCOLLECTIBLE)
        ]

    async def amount_applied_from(self, payment_id: UUID) -> int:
        return sum(i.amount_applied for i in self._all() if i.payment_id == payment_id)

    async def list_paid_from(self, payment_id: UUID) -> Sequence[Invoice]:
        items = [
            copy_aggregate(i)
            for i in self._all()
            if i.payment_id == payment_id and i.amount_applied > 0
        ]
        return sorted(items, key=lambda i: (i.created_at, i.id))

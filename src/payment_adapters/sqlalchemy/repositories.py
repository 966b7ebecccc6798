"""Repositories over SQLAlchemy Core, one per storage port of ``payment_core.ports``.

They run their statements through their :class:`SqlAlchemyUnitOfWork` (one connection, one
transaction) and mirror ``payment_core.testing.memory`` exactly; the contract suite in
``tests/contract`` holds both to the same assertions.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable, Sequence
from datetime import datetime
from typing import TYPE_CHECKING, Any, Final, Generic, Protocol, TypeVar
from uuid import UUID

from sqlalchemy import (
    ColumnElement,
    Integer,
    Select,
    Table,
    Uuid,
    and_,
    func,
    literal,
    or_,
    select,
    tuple_,
    update,
)
from sqlalchemy.dialects import postgresql, sqlite

from payment_adapters.sqlalchemy import mapping as m
from payment_adapters.sqlalchemy import tables as t
from payment_adapters.sqlalchemy.types import UTCDateTime
from payment_core.errors import ConcurrencyError
from payment_core.events import DomainEvent
from payment_core.model.billing import BillingRecord
from payment_core.model.invoice import Invoice, InvoiceStatus
from payment_core.model.payment import Payment, PaymentStatus
from payment_core.model.refund import Refund, RefundStatus
from payment_core.pagination import Cursor, Page, PageRequest
from payment_core.ports import StoredWebhook

if TYPE_CHECKING:
    from sqlalchemy.engine import RowMapping

    from payment_adapters.sqlalchemy.unit_of_work import SqlAlchemyUnitOfWork

__all__ = [
    "SqlAlchemyBillingRepository",
    "SqlAlchemyBookingLocks",
    "SqlAlchemyInbox",
    "SqlAlchemyInvoiceNumberAllocator",
    "SqlAlchemyInvoiceRepository",
    "SqlAlchemyPaymentRepository",
    "SqlAlchemyRefundRepository",
    "SqlAlchemyWebhookStore",
    "dialect_insert",
]

#: First key of PostgreSQL's two-key advisory locks taken for billing chains ("bill").
BILLING_LOCK_NAMESPACE: Final = 0x62696C6C


class _Aggregate(Protocol):
    id: UUID
    version: int
    created_at: datetime

    @property
    def events(self) -> Sequence[DomainEvent]: ...


A = TypeVar("A", bound=_Aggregate)
T = TypeVar("T")


def dialect_insert(dialect_name: str, table: Table) -> Any:
    """``INSERT`` with ``ON CONFLICT`` support for the database in use."""
    if dialect_name == "postgresql":
        return postgresql.insert(table)
    return sqlite.insert(table)


def after_cursor(table: Table, cursor: Cursor) -> ColumnElement[bool]:
    """Rows strictly after ``cursor`` in ``(created_at, id)`` order (a row-value comparison,
    which both databases answer from the ``(..., created_at, id)`` index)."""
    return tuple_(table.c.created_at, table.c.id) > tuple_(
        literal(cursor.created_at, UTCDateTime()), literal(cursor.id, Uuid())
    )


async def keyset_page(
    uow: SqlAlchemyUnitOfWork,
    table: Table,
    where: ColumnElement[bool],
    page: PageRequest,
    from_row: Callable[[RowMapping], T],
) -> Page[T]:
    """One page, oldest first; one row more than asked tells whether there is a next page."""
    stmt = select(table).where(where)
    if page.after is not None:
        stmt = stmt.where(after_cursor(table, page.after))
    stmt = stmt.order_by(table.c.created_at, table.c.id).limit(page.limit + 1)
    rows = (await uow.execute(stmt)).mappings().all()
    items = [from_row(r) for r in rows[: page.limit]]
    next_cursor = None
    if len(rows) > page.limit:
        last = rows[page.limit - 1]
        next_cursor = Cursor(last["created_at"], last["id"]).encode()
    return Page(items=items, next_cursor=next_cursor)


class _AggregateRepository(Generic[A]):
    """Staged inserts, optimistic updates and (optionally locking) reads of one aggregate."""

    table: Table
    entity: str

    def __init__(self, uow: SqlAlchemyUnitOfWork) -> None:
        self._uow = uow

    def _to_row(self, aggregate: A) -> dict[str, Any]:
        raise NotImplementedError

    def _from_row(self, row: RowMapping) -> A:
        raise NotImplementedError

    async def add(self, aggregate: A) -> None:
        # Written with the next statement or at commit (see SqlAlchemyUnitOfWork); an id that
        # is taken surfaces there as ConcurrencyError.
        self._uow.stage(self.table, self._to_row(aggregate), self.entity, aggregate.id)
        self._uow.track(aggregate)

    async def update(self, aggregate: A) -> None:
        row = self._to_row(aggregate)
        del row["id"]
        row["version"] = aggregate.version + 1
        stmt = (
            update(self.table)
            .where(self.table.c.id == aggregate.id, self.table.c.version == aggregate.version)
            .values(row)
        )
        result = await self._uow.execute(stmt)
        if result.rowcount != 1:
            raise ConcurrencyError(entity=self.entity, entity_id=aggregate.id)
        aggregate.version += 1
        self._uow.track(aggregate)

    async def _get(self, ident: UUID, for_update: bool) -> A | None:
        stmt = select(self.table).where(self.table.c.id == ident)
        if for_update:
            # NO KEY UPDATE: as exclusive as FOR UPDATE against other writers of the row, but it
            # does not block inserts whose foreign key points at it (a refund of this payment).
            # SQLite ignores it; there the unit of work holds the database's writer lock.
            stmt = stmt.with_for_update(key_share=True)
        row = (await self._uow.execute(stmt)).mappings().first()
        return None if row is None else self._from_row(row)

    async def _first(self, stmt: Select[Any]) -> A | None:
        row = (await self._uow.execute(stmt.limit(1))).mappings().first()
        return None if row is None else self._from_row(row)

    async def _all(self, stmt: Select[Any]) -> list[A]:
        rows = (await self._uow.execute(stmt)).mappings().all()
        return [self._from_row(r) for r in rows]

    def _ordered(self) -> tuple[Any, Any]:
        return self.table.c.created_at, self.table.c.id


class SqlAlchemyPaymentRepository(_AggregateRepository[Payment]):
    """Payments (``payment_core.ports.PaymentRepository``); sensitive fields encrypted."""

    table = t.payments
    entity = "payment"

    def _to_row(self, aggregate: Payment) -> dict[str, Any]:
        return m.payment_to_row(aggregate, self._uow.cipher)

    def _from_row(self, row: RowMapping) -> Payment:
        return m.payment_from_row(row, self._uow.cipher)

    async def get(self, payment_id: UUID, *, for_update: bool = False) -> Payment | None:
        return await self._get(payment_id, for_update)

    async def get_by_reference(self, reference: str) -> Payment | None:
        return await self._first(select(t.payments).where(t.payments.c.reference == reference))

    async def get_by_provider_id(self, provider: str, provider_payment_id: str) -> Payment | None:
        c = t.payments.c
        return await self._first(
            select(t.payments)
            .where(c.provider == provider, c.provider_payment_id == provider_payment_id)
            .order_by(*self._ordered())
        )

    async def list_by_booking(self, booking_id: UUID, page: PageRequest) -> Page[Payment]:
        where = t.payments.c.booking_id == booking_id
        return await keyset_page(self._uow, t.payments, where, page, self._from_row)

    async def list_by_guest(self, guest_id: UUID, page: PageRequest) -> Page[Payment]:
        where = t.payments.c.guest_id == guest_id
        return await keyset_page(self._uow, t.payments, where, page, self._from_row)

    async def list_due_for_reconciliation(self, now: datetime, limit: int) -> Sequence[Payment]:
        c = t.payments.c
        return await self._all(
            select(t.payments)
            .where(
                c.status == PaymentStatus.PROCESSING.value,
                c.reconcile_at.is_not(None),
                c.reconcile_at <= now,
            )
            .order_by(c.reconcile_at, c.id)
            .limit(limit)
        )


class SqlAlchemyRefundRepository(_AggregateRepository[Refund]):
    """Refunds (``payment_core.ports.RefundRepository``)."""

    table = t.refunds
    entity = "refund"

    def _to_row(self, aggregate: Refund) -> dict[str, Any]:
        return m.refund_to_row(aggregate)

    def _from_row(self, row: RowMapping) -> Refund:
        return m.refund_from_row(row)

    async def get(self, refund_id: UUID, *, for_update: bool = False) -> Refund | None:
        return await self._get(refund_id, for_update)

    async def get_by_reference(self, reference: str) -> Refund | None:
        return await self._first(select(t.refunds).where(t.refunds.c.reference == reference))

    async def get_by_provider_id(self, provider: str, provider_refund_id: str) -> Refund | None:
        c = t.refunds.c
        return await self._first(
            select(t.refunds)
            .where(c.provider == provider, c.provider_refund_id == provider_refund_id)
            .order_by(*self._ordered())
        )

    async def list_by_payment(self, payment_id: UUID, page: PageRequest) -> Page[Refund]:
        where = t.refunds.c.payment_id == payment_id
        return await keyset_page(self._uow, t.refunds, where, page, self._from_row)

    async def list_by_booking(self, booking_id: UUID) -> Sequence[Refund]:
        return await self._all(
            select(t.refunds).where(t.refunds.c.booking_id == booking_id).order_by(*self._ordered())
        )

    async def list_due(self, now: datetime, limit: int) -> Sequence[Refund]:
        c = t.refunds.c
        return await self._all(
            select(t.refunds)
            .where(
                c.status == RefundStatus.PENDING.value,
                c.next_retry_at.is_not(None),
                c.next_retry_at <= now,
            )
            .order_by(c.next_retry_at, c.id)
            .limit(limit)
        )

    async def list_stuck(
        self, before: datetime, limit: int, *, due_by: datetime | None = None
    ) -> Sequence[Refund]:
        c = t.refunds.c
        query = select(t.refunds).where(
            c.status == RefundStatus.PROCESSING.value, c.updated_at < before
        )
        if due_by is not None:
            query = query.where(or_(c.next_retry_at.is_(None), c.next_retry_at <= due_by))
        return await self._all(query.order_by(c.updated_at, c.id).limit(limit))


class SqlAlchemyInvoiceRepository(_AggregateRepository[Invoice]):
    """Invoices (``payment_core.ports.InvoiceRepository``); notes encrypted."""

    table = t.invoices
    entity = "invoice"

    def _to_row(self, aggregate: Invoice) -> dict[str, Any]:
        return m.invoice_to_row(aggregate, self._uow.cipher)

    def _from_row(self, row: RowMapping) -> Invoice:
        return m.invoice_from_row(row, self._uow.cipher)

    async def get(self, invoice_id: UUID, *, for_update: bool = False) -> Invoice | None:
        return await self._get(invoice_id, for_update)

    async def get_by_number(self, number: str) -> Invoice | None:
        return await self._first(select(t.invoices).where(t.invoices.c.number == number))

    async def list_by_booking(self, booking_id: UUID, page: PageRequest) -> Page[Invoice]:
        where = t.invoices.c.booking_id == booking_id
        return await keyset_page(self._uow, t.invoices, where, page, self._from_row)

    async def list_open_for_payment(self, payment_id: UUID) -> Sequence[Invoice]:
        c = t.invoices.c
        return await self._all(
            select(t.invoices)
            .where(
                c.payment_id == payment_id,
                c.status.in_([InvoiceStatus.OPEN.value, InvoiceStatus.UNCOLLECTIBLE.value]),
            )
            .order_by(*self._ordered())
        )

    async def amount_applied_from(self, payment_id: UUID) -> int:
        c = t.invoices.c
        stmt = select(func.coalesce(func.sum(c.amount_applied), 0)).where(
            c.payment_id == payment_id, c.amount_applied > 0
        )
        return int((await self._uow.execute(stmt)).scalar_one())


class SqlAlchemyBillingRepository:
    """The append-only audit trail (``payment_core.ports.BillingRepository``)."""

    def __init__(self, uow: SqlAlchemyUnitOfWork) -> None:
        self._uow = uow

    async def head(self, booking_id: UUID) -> BillingRecord | None:
        c = t.billing_records.c
        if self._uow.is_postgresql:
            # Serialise appends to one chain, empty or not, until commit. The lock comes first,
            # in its own statement, so the read below sees whatever the previous holder added.
            lock = func.pg_advisory_xact_lock(
                literal(BILLING_LOCK_NAMESPACE, Integer()), func.hashtext(str(booking_id))
            )
            await self._uow.execute(select(lock))
        stmt = (
            select(t.billing_records)
            .where(c.booking_id == booking_id)
            .order_by(c.sequence.desc())
            .limit(1)
        )
        # On SQLite the unit of work holds the database's writer lock: appends are serial.
        row = (await self._uow.execute(stmt)).mappings().first()
        return None if row is None else m.billing_from_row(row)

    async def add(self, record: BillingRecord) -> None:
        # Staged like an aggregate insert; the unique (booking_id, sequence) refuses a fork.
        self._uow.stage(t.billing_records, m.billing_to_row(record), "billing_record", record.id)

    async def list_by_booking(self, booking_id: UUID, page: PageRequest) -> Page[BillingRecord]:
        where = t.billing_records.c.booking_id == booking_id
        return await keyset_page(self._uow, t.billing_records, where, page, m.billing_from_row)

    async def list_by_guest(self, guest_id: UUID, page: PageRequest) -> Page[BillingRecord]:
        where = t.billing_records.c.guest_id == guest_id
        return await keyset_page(self._uow, t.billing_records, where, page, m.billing_from_row)

    async def stream_chains(self, *, batch_size: int = 1000) -> AsyncIterator[BillingRecord]:
        """Every record in ``(booking_id, sequence)`` order, fetched in keyset batches."""
        c = t.billing_records.c
        last: tuple[UUID, int] | None = None
        while True:
            stmt = select(t.billing_records)
            if last is not None:
                stmt = stmt.where(
                    tuple_(c.booking_id, c.sequence)
                    > tuple_(literal(last[0], Uuid()), literal(last[1], Integer()))
                )
            stmt = stmt.order_by(c.booking_id, c.sequence).limit(batch_size)
            rows = (await self._uow.execute(stmt)).mappings().all()
            for row in rows:
                yield m.billing_from_row(row)
            if len(rows) < batch_size:
                return
            last = (rows[-1]["booking_id"], rows[-1]["sequence"])


class SqlAlchemyInvoiceNumberAllocator:
    """Gap-free yearly invoice numbers: a counter row moved in the issuing transaction.

    The upsert locks the year's row until commit, so concurrent issuers queue behind each
    other and a rolled-back issue gives its number back. No sequence: those leave gaps.
    """

    def __init__(self, uow: SqlAlchemyUnitOfWork) -> None:
        self._uow = uow

    async def next(self, year: int) -> int:
        counters = t.invoice_number_counters
        stmt = dialect_insert(self._uow.dialect_name, counters).values(year=year, last_value=1)
        stmt = stmt.on_conflict_do_update(
            index_elements=[counters.c.year],
            set_={"last_value": counters.c.last_value + 1},
        ).returning(counters.c.last_value)
        value = (await self._uow.execute(stmt)).scalar_one()
        return int(value)


class SqlAlchemyInbox:
    """Consumed event ids (``payment_core.ports.Inbox``), written in the handling transaction.

    A concurrent duplicate waits on the first one's row and then sees it, as on any unique index.
    """

    def __init__(self, uow: SqlAlchemyUnitOfWork) -> None:
        self._uow = uow

    async def add(self, consumer: str, event_id: str) -> bool:
        stmt = (
            dialect_insert(self._uow.dialect_name, t.inbox)
            .values(consumer=consumer, event_id=event_id, handled_at=m.utc_now())
            .on_conflict_do_nothing(index_elements=[t.inbox.c.consumer, t.inbox.c.event_id])
            .returning(t.inbox.c.consumer)
        )
        return (await self._uow.execute(stmt)).first() is not None


class SqlAlchemyBookingLocks:
    """Bookings whose events were handled (``payment_core.ports.BookingLocks``).

    ``lock`` and ``mark_cancelled`` are each one upsert that always takes the row lock: a new
    row's insert holds it, and an existing row is updated (to itself, unless this is its first
    cancellation). A concurrent handler of the same booking waits there.
    """

    def __init__(self, uow: SqlAlchemyUnitOfWork) -> None:
        self._uow = uow

    async def lock(self, booking_id: UUID) -> datetime | None:
        return await self._upsert(booking_id, None)

    async def mark_cancelled(self, booking_id: UUID, at: datetime) -> None:
        await self._upsert(booking_id, at)

    async def _upsert(self, booking_id: UUID, cancelled_at: datetime | None) -> datetime | None:
        b = t.bookings.c
        stmt = dialect_insert(self._uow.dialect_name, t.bookings).values(
            id=booking_id, seen_at=m.utc_now(), cancelled_at=cancelled_at
        )
        # Always an update on conflict, so the row is locked either way; the first
        # cancellation stays.
        keep = func.coalesce(b.cancelled_at, stmt.excluded.cancelled_at)
        stmt = stmt.on_conflict_do_update(
            index_elements=[b.id], set_={"cancelled_at": keep}
        ).returning(b.cancelled_at)
        found: datetime | None = (await self._uow.execute(stmt)).scalar_one()
        return found


class SqlAlchemyWebhookStore:
    """Stored provider webhooks (``payment_core.ports.WebhookStore``); bodies encrypted."""

    def __init__(self, uow: SqlAlchemyUnitOfWork) -> None:
        self._uow = uow

    async def add(self, webhook: StoredWebhook) -> StoredWebhook:
        w = t.webhooks.c
        stmt = (
            dialect_insert(self._uow.dialect_name, t.webhooks)
            .values(m.webhook_to_row(webhook, self._uow.cipher))
            .on_conflict_do_nothing(index_elements=[w.provider, w.event_id])
            .returning(w.id)
        )
        if (await self._uow.execute(stmt)).first() is not None:
            return webhook
        known = select(t.webhooks).where(
            and_(w.provider == webhook.provider, w.event_id == webhook.event_id)
        )
        row = (await self._uow.execute(known)).mappings().one()
        return m.webhook_from_row(row, self._uow.cipher)

    async def get(self, webhook_id: UUID) -> StoredWebhook | None:
        stmt = select(t.webhooks).where(t.webhooks.c.id == webhook_id)
        row = (await self._uow.execute(stmt)).mappings().first()
        return None if row is None else m.webhook_from_row(row, self._uow.cipher)

    async def mark_processed(self, webhook_id: UUID, at: datetime) -> None:
        stmt = update(t.webhooks).where(t.webhooks.c.id == webhook_id).values(processed_at=at)
        await self._uow.execute(stmt)

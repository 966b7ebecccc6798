"""Invoices (``payment_core.ports.InvoiceRepository``) and their gap-free yearly numbers."""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING, Any
from uuid import UUID

from sqlalchemy import Table, func, select

from payment_adapters.sqlalchemy import mapping as m
from payment_adapters.sqlalchemy import tables as t
from payment_adapters.sqlalchemy._session import Session
from payment_adapters.sqlalchemy.repositories._base import AggregateRepository, dialect_insert
from payment_core.model.invoice import Invoice, InvoiceStatus
from payment_core.pagination import Page, PageRequest

if TYPE_CHECKING:
    from sqlalchemy.engine import RowMapping

__all__ = ["SqlAlchemyInvoiceNumberAllocator", "SqlAlchemyInvoiceRepository"]


class SqlAlchemyInvoiceRepository(AggregateRepository[Invoice]):
    """Invoices (``payment_core.ports.InvoiceRepository``); notes encrypted."""

    table = t.invoices
    entity = "invoice"

    def _to_row(self, aggregate: Invoice) -> dict[str, Any]:
        return m.invoice_to_row(aggregate, self._session.cipher)

    def _from_row(self, row: RowMapping) -> Invoice:
        return m.invoice_from_row(row, self._session.cipher)

    async def get(self, invoice_id: UUID, *, for_update: bool = False) -> Invoice | None:
        return await self._get(invoice_id, for_update)

    async def get_by_number(self, number: str) -> Invoice | None:
        return await self._first(select(t.invoices).where(t.invoices.c.number == number))

    async def list_by_booking(self, booking_id: UUID, page: PageRequest) -> Page[Invoice]:
        return await self._page(t.invoices.c.booking_id == booking_id, page)

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
        return int((await self._session.execute(stmt)).scalar_one())

    async def list_paid_from(self, payment_id: UUID) -> Sequence[Invoice]:
        c = t.invoices.c
        # The partial index ix_invoices_applied_payment answers it: every refund's completion
        # asks, and must not scan the table.
        return await self._all(
            select(t.invoices)
            .where(c.payment_id == payment_id, c.amount_applied > 0)
            .order_by(*self._ordered())
        )


class SqlAlchemyInvoiceNumberAllocator:
    """Gap-free yearly invoice numbers: a counter row moved in the issuing transaction.

    The upsert locks the year's row until commit, so concurrent issuers queue behind each
    other and a rolled-back issue gives its number back. No sequence: those leave gaps.
    """

    counters: Table = t.invoice_number_counters

    def __init__(self, session: Session) -> None:
        self._session = session

    async def next(self, year: int) -> int:
        counters = self.counters
        stmt = dialect_insert(self._session.dialect_name, counters).values(year=year, last_value=1)
        stmt = stmt.on_conflict_do_update(
            index_elements=[counters.c.year],
            set_={"last_value": counters.c.last_value + 1},
        ).returning(counters.c.last_value)
        value = (await self._session.execute(stmt)).scalar_one()
        return int(value)

"""Credit notes (``payment_core.ports.CreditNoteRepository``) and their gap-free yearly numbers."""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING, Any
from uuid import UUID

from sqlalchemy import func, select

from payment_adapters.sqlalchemy import mapping as m
from payment_adapters.sqlalchemy import tables as t
from payment_adapters.sqlalchemy.repositories._base import AggregateRepository
from payment_adapters.sqlalchemy.repositories.invoices import SqlAlchemyInvoiceNumberAllocator
from payment_core.model.credit_note import CreditNote
from payment_core.pagination import Page, PageRequest

if TYPE_CHECKING:
    from sqlalchemy.engine import RowMapping

__all__ = ["SqlAlchemyCreditNoteNumberAllocator", "SqlAlchemyCreditNoteRepository"]


class SqlAlchemyCreditNoteRepository(AggregateRepository[CreditNote]):
    """Credit notes; memos encrypted.

    A second note of one refund on one invoice breaks ``uq_credit_notes_invoice_id_refund_id``
    at the insert: ``ConcurrencyError``, as the in-memory repository says it.
    """

    table = t.credit_notes
    entity = "credit_note"

    def _to_row(self, aggregate: CreditNote) -> dict[str, Any]:
        return m.credit_note_to_row(aggregate, self._session.cipher)

    def _from_row(self, row: RowMapping) -> CreditNote:
        return m.credit_note_from_row(row, self._session.cipher)

    async def get(self, credit_note_id: UUID) -> CreditNote | None:
        return await self._get(credit_note_id, False)

    async def list_by_invoice(self, invoice_id: UUID, page: PageRequest) -> Page[CreditNote]:
        return await self._page(t.credit_notes.c.invoice_id == invoice_id, page)

    async def list_by_refund(self, refund_id: UUID) -> Sequence[CreditNote]:
        return await self._all(
            select(t.credit_notes)
            .where(t.credit_notes.c.refund_id == refund_id)
            .order_by(*self._ordered())
        )

    async def refund_credited(self, invoice_id: UUID) -> int:
        c = t.credit_notes.c
        stmt = select(func.coalesce(func.sum(c.amount), 0)).where(
            c.invoice_id == invoice_id, c.refund_id.is_not(None)
        )
        return int((await self._session.execute(stmt)).scalar_one())


class SqlAlchemyCreditNoteNumberAllocator(SqlAlchemyInvoiceNumberAllocator):
    """Gap-free yearly credit note numbers, on a counter table of their own."""

    counters = t.credit_note_number_counters

"""The in-memory credit note repository."""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from uuid import UUID

from payment_core.errors import ConcurrencyError
from payment_core.model._copy import copy_aggregate
from payment_core.model.credit_note import CreditNote
from payment_core.pagination import Page, PageRequest
from payment_core.testing._memory_repositories import Repo
from payment_core.testing._memory_store import page_of

__all__ = ["InMemoryCreditNoteRepository"]


class InMemoryCreditNoteRepository(Repo[CreditNote]):
    entity = "credit_note"

    def _taken(self, note: CreditNote, notes: Iterable[CreditNote]) -> bool:
        """Whether another note documents the same refund on the same invoice (the SQL
        tables' unique index), or has the same number."""
        return any(
            other.id != note.id
            and (
                other.number == note.number
                or (
                    note.refund_id is not None
                    and (other.invoice_id, other.refund_id) == (note.invoice_id, note.refund_id)
                )
            )
            for other in notes
        )

    async def add(self, aggregate: CreditNote) -> None:
        if self._taken(aggregate, self._all()):
            raise ConcurrencyError(entity=self.entity, entity_id=aggregate.id)
        await super().add(aggregate)

    def check(self) -> None:
        super().check()
        for note in self.staged.values():
            if self._taken(note, self._table.values()):
                raise ConcurrencyError(entity=self.entity, entity_id=note.id)

    async def get(self, credit_note_id: UUID) -> CreditNote | None:
        return await self._get(credit_note_id, False)

    async def list_by_invoice(self, invoice_id: UUID, page: PageRequest) -> Page[CreditNote]:
        items = [copy_aggregate(n) for n in self._all() if n.invoice_id == invoice_id]
        return page_of(items, page, lambda n: (n.created_at, n.id))

    async def list_by_refund(self, refund_id: UUID) -> Sequence[CreditNote]:
        items = [copy_aggregate(n) for n in self._all() if n.refund_id == refund_id]
        return sorted(items, key=lambda n: (n.created_at, n.id))

    async def refund_credited(self, invoice_id: UUID) -> int:
        return sum(
            n.amount.amount
            for n in self._all()
            if n.invoice_id == invoice_id and n.refund_id is not None
        )

"""The in-memory dispute repository (held to the SQL one's answers by ``tests/contract``)."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from uuid import UUID

from payment_core.errors import ConcurrencyError
from payment_core.model._copy import copy_aggregate
from payment_core.model.dispute import Dispute, DisputeStatus
from payment_core.pagination import Page, PageRequest
from payment_core.testing._memory_repositories import Repo
from payment_core.testing._memory_store import page_of

__all__ = ["InMemoryDisputeRepository"]


class InMemoryDisputeRepository(Repo[Dispute]):
    entity = "dispute"

    def _taken(self, dispute: Dispute, disputes: list[Dispute]) -> bool:
        # One dispute per provider id, as the SQL unique index says.
        return any(
            d.provider == dispute.provider
            and d.provider_dispute_id == dispute.provider_dispute_id
            and d.id != dispute.id
            for d in disputes
        )

    async def add(self, aggregate: Dispute) -> None:
        if self._taken(aggregate, self._all()):
            raise ConcurrencyError(entity=self.entity, entity_id=aggregate.id)
        await super().add(aggregate)

    def check(self) -> None:
        super().check()
        committed = list(self._table.values())
        for dispute in self.staged.values():
            if self._taken(dispute, committed):
                raise ConcurrencyError(entity=self.entity, entity_id=dispute.id)

    async def get(self, dispute_id: UUID, *, for_update: bool = False) -> Dispute | None:
        return await self._get(dispute_id, for_update)

    async def get_by_provider_id(self, provider: str, provider_dispute_id: str) -> Dispute | None:
        for dispute in self._all():
            if dispute.provider == provider and dispute.provider_dispute_id == provider_dispute_id:
                return copy_aggregate(dispute)
        return None

    async def list_by_payment(self, payment_id: UUID, page: PageRequest) -> Page[Dispute]:
        items = [copy_aggregate(d) for d in self._all() if d.payment_id == payment_id]
        return page_of(items, page, lambda d: (d.created_at, d.id))

    async def list_by_status(
        self, status: DisputeStatus | None, page: PageRequest
    ) -> Page[Dispute]:
        items = [copy_aggregate(d) for d in self._all() if status in (None, d.status)]
        return page_of(items, page, lambda d: (d.created_at, d.id))

    async def amount_open(self, payment_ids: Sequence[UUID]) -> dict[UUID, int]:
        wanted = set(payment_ids)
        totals: dict[UUID, int] = {}
        for dispute in self._all():
            if dispute.payment_id in wanted and dispute.is_open:
                totals[dispute.payment_id] = (
                    totals.get(dispute.payment_id, 0) + dispute.amount.amount
                )
        return totals

    async def list_due_for_check(self, now: datetime, limit: int) -> Sequence[Dispute]:
        due = [
            d
            for d in self._all()
            if d.is_open and d.next_check_at is not None and d.next_check_at <= now
        ]
        due.sort(key=lambda d: (d.next_check_at or now, d.id))
        return [copy_aggregate(d) for d in due[:limit]]

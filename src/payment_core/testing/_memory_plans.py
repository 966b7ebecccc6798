"""The in-memory repository of payment plans, held to the same contract tests as SQL's."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from uuid import UUID

from payment_core.model._copy import copy_aggregate
from payment_core.model.plan import PaymentPlan
from payment_core.pagination import Page, PageRequest
from payment_core.testing._memory_repositories import Repo
from payment_core.testing._memory_store import page_of

__all__ = ["InMemoryPaymentPlanRepository"]


class InMemoryPaymentPlanRepository(Repo[PaymentPlan]):
    entity = "payment_plan"

    async def get(self, plan_id: UUID, *, for_update: bool = False) -> PaymentPlan | None:
        return await self._get(plan_id, for_update)

    async def list_by_booking(self, booking_id: UUID, page: PageRequest) -> Page[PaymentPlan]:
        items = [copy_aggregate(p) for p in self._all() if p.booking_id == booking_id]
        return page_of(items, page, lambda p: (p.created_at, p.id))

    async def list_due(self, now: datetime, limit: int) -> Sequence[PaymentPlan]:
        due = [(w, p) for p in self._all() if (w := p.wake_at) is not None and w <= now]
        due.sort(key=lambda pair: (pair[0], pair[1].id))
        return [copy_aggregate(p) for _, p in due[:limit]]

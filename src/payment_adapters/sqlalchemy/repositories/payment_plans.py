"""Payment plans (``payment_core.ports.PaymentPlanRepository``): one row each, installments
in it; the plan loop's query reads the partial ``wake_at`` index."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from typing import TYPE_CHECKING, Any
from uuid import UUID

from sqlalchemy import Select, literal_column, select

from payment_adapters.sqlalchemy._plan_mapping import plan_from_row, plan_to_row
from payment_adapters.sqlalchemy.repositories._base import AggregateRepository
from payment_adapters.sqlalchemy.tables import PLANS_AWAKE, payment_plans
from payment_core.model.plan import PaymentPlan
from payment_core.pagination import Page, PageRequest

if TYPE_CHECKING:
    from sqlalchemy.engine import RowMapping

__all__ = ["SqlAlchemyPaymentPlanRepository", "due_query"]


class SqlAlchemyPaymentPlanRepository(AggregateRepository[PaymentPlan]):
    """Payment plans (``payment_core.ports.PaymentPlanRepository``)."""

    table = payment_plans
    entity = "payment_plan"

    def _to_row(self, aggregate: PaymentPlan) -> dict[str, Any]:
        return plan_to_row(aggregate, self._session.cipher)

    def _from_row(self, row: RowMapping) -> PaymentPlan:
        return plan_from_row(row, self._session.cipher)

    async def get(self, plan_id: UUID, *, for_update: bool = False) -> PaymentPlan | None:
        return await self._get(plan_id, for_update)

    async def list_by_booking(self, booking_id: UUID, page: PageRequest) -> Page[PaymentPlan]:
        return await self._page(payment_plans.c.booking_id == booking_id, page)

    async def list_due(self, now: datetime, limit: int) -> Sequence[PaymentPlan]:
        return await self._all(due_query(now, limit))


def due_query(now: datetime, limit: int) -> Select[Any]:
    """Plans whose ``wake_at`` has come, soonest first, from the partial ``wake_at`` index."""
    c = payment_plans.c
    # The index's predicate spelled out, so that SQLite's planner takes the partial index.
    return (
        select(payment_plans)
        .where(literal_column(PLANS_AWAKE), c.wake_at <= now)
        .order_by(c.wake_at, c.id)
        .limit(limit)
    )

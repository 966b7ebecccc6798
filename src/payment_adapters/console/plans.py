"""The console's read of payment plans: those in default, newest first, as summaries without
the deposit's token (a plan's own page reads it through the use case)."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from typing import TYPE_CHECKING, Any
from uuid import UUID

import attrs
from sqlalchemy import Select, select

from payment_adapters.sqlalchemy._plan_mapping import plan_from_row
from payment_adapters.sqlalchemy.tables import DEFAULTED, payment_plans
from payment_core.model.plan import InstallmentStatus, PaymentPlan, PlanStatus

if TYPE_CHECKING:
    from payment_adapters.sqlalchemy import Database
    from payment_core.testing import InMemoryStore

__all__ = [
    "PlanSummary",
    "defaulted_query",
    "memory_defaulted_plans",
    "plan_summary",
    "sql_defaulted_plans",
]


@attrs.frozen(slots=True)
class PlanSummary:
    id: UUID
    booking_id: UUID
    guest_id: UUID
    total_amount: int
    amount_paid: int
    currency: str
    status: str
    #: Why the installment that failed last failed.
    failure_code: str | None
    updated_at: datetime


def plan_summary(plan: PaymentPlan) -> PlanSummary:
    failed = [i for i in plan.installments if i.status is InstallmentStatus.FAILED]
    return PlanSummary(
        id=plan.id,
        booking_id=plan.booking_id,
        guest_id=plan.guest_id,
        total_amount=plan.total_amount.amount,
        amount_paid=plan.amount_paid,
        currency=plan.currency.code,
        status=plan.status.value,
        failure_code=failed[-1].failure_code if failed else None,
        updated_at=plan.updated_at,
    )


def defaulted_query(limit: int) -> Select[Any]:
    """Plans in default, most recently changed first, from their partial index."""
    c = payment_plans.c
    return (
        select(payment_plans)
        .where(c.status == DEFAULTED)
        .order_by(c.updated_at.desc(), c.id.desc())
        .limit(limit)
    )


async def sql_defaulted_plans(database: Database, limit: int) -> Sequence[PlanSummary]:
    async with database.engine.connect() as conn:
        rows = (await conn.execute(defaulted_query(limit))).mappings().all()
    return [plan_summary(plan_from_row(r, database.cipher)) for r in rows]


def memory_defaulted_plans(store: InMemoryStore, limit: int) -> Sequence[PlanSummary]:
    found = [p for p in store.payment_plans.values() if p.status is PlanStatus.DEFAULTED]
    found.sort(key=lambda p: (p.updated_at, p.id), reverse=True)
    return [plan_summary(p) for p in found[:limit]]

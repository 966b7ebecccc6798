"""Storage of payment plans: what the plan use cases and the plan loop read and write."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from typing import Protocol
from uuid import UUID

from payment_core.model.plan import PaymentPlan
from payment_core.pagination import Page, PageRequest

__all__ = ["PaymentPlanRepository"]


class PaymentPlanRepository(Protocol):
    """Payment plans with their installments. ``update`` is optimistic: it fails with
    ``ConcurrencyError`` on a stale version, which is what makes claiming an installment
    (``SCHEDULED -> PROCESSING``) something only one worker can do."""

    async def add(self, plan: PaymentPlan) -> None:
        """Insert a new plan (``ConcurrencyError`` when its id is taken)."""
        ...

    async def get(self, plan_id: UUID, *, for_update: bool = False) -> PaymentPlan | None:
        """The plan, locked until commit when ``for_update`` (where the database can)."""
        ...

    async def update(self, plan: PaymentPlan) -> None:
        """Save changes; raise ``ConcurrencyError`` if someone else saved it since we read it."""
        ...

    async def list_by_booking(self, booking_id: UUID, page: PageRequest) -> Page[PaymentPlan]:
        """A booking's plans, oldest first."""
        ...

    async def list_due(self, now: datetime, limit: int) -> Sequence[PaymentPlan]:
        """Plans whose :attr:`~PaymentPlan.wake_at` has come, soonest first (an installment
        due, a retry due, or a claim run out). Served by an index, never a scan."""
        ...

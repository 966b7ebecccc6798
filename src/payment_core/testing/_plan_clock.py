"""The harness's clock, moved by a plan's own calendar: "14 days before check-in" is 00:00 on
that date in the property's time zone, where the balance falls due."""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Protocol
from uuid import UUID

from payment_core.model._plan_schedule import start_of_local_day, zone_of
from payment_core.model.plan import PaymentPlan
from payment_core.services import Services

__all__ = ["move_to_days_before_check_in"]


class _Clock(Protocol):
    def now(self) -> datetime: ...

    def set(self, now: datetime) -> None: ...


async def move_to_days_before_check_in(
    services: Services, clock: _Clock, plan_id: UUID, days: int
) -> PaymentPlan:
    """Set ``clock`` to the start of ``check_in - days`` in the plan's time zone (unless it is
    past that already), run the plan loop once, and return the plan as it is then."""
    plan = await services.plans.get(plan_id)
    moment = start_of_local_day(plan.check_in - timedelta(days=days), zone_of(plan.time_zone))
    if moment > clock.now():
        clock.set(moment)
    await services.plans.run_due()
    return await services.plans.get(plan_id)

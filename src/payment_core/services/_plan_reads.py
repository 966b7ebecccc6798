"""Reading payment plans by id (``NotFoundError`` when there is none)."""

from __future__ import annotations

from typing import Final

from payment_core.model.plan import PaymentPlan
from payment_core.services._reads import Aggregate

__all__ = ["PLANS"]

PLANS: Final[Aggregate[PaymentPlan]] = Aggregate("payment_plan", lambda uow: uow.payment_plans)

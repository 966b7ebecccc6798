"""The plan loop of the background work: charge the installments that fell due, try failed
balances again on ``PLAN_RETRY_SCHEDULE_SECONDS``, and take over attempts whose worker died.

Safe with any number of processes: an installment is claimed under its plan's optimistic
version before it is charged, so one worker charges it; a claim that ran out (its worker was
killed) is taken over and the same attempt run again under the same idempotency key, so the
guest is charged once. Due times are rows (``payment_plans.wake_at``), so they survive
restarts.
"""

from __future__ import annotations

import logging
from typing import Final

from payment_core.services import PaymentPlanService

__all__ = ["PLAN_BATCH", "charge_due_plans"]

logger = logging.getLogger(__name__)

#: Plans looked at per round; rounds follow one another while a round finds a full batch.
PLAN_BATCH: Final = 100
#: At most this many rounds at once, so the other loops get their turn under a backlog.
_MAX_ROUNDS: Final = 10


async def charge_due_plans(plans: PaymentPlanService) -> int:
    """One turn of the plan loop; how many installments were attempted."""
    attempted = 0
    for _ in range(_MAX_ROUNDS):
        report = await plans.run_due(PLAN_BATCH)
        attempted += report.attempted
        if report.attempted < PLAN_BATCH:
            break
    if attempted:
        logger.info("payment plans: %d installments attempted", attempted)
    return attempted

"""The reconciliation sweep: ask providers about payments and refunds left unsettled."""

from __future__ import annotations

import logging
from collections.abc import Callable

import attrs

from payment_core.services._deps import Dependencies
from payment_core.services.payments import PaymentService, SettleOutcome
from payment_core.services.refunds import RefundService

__all__ = ["ReconciliationReport", "ReconciliationService"]

logger = logging.getLogger(__name__)


@attrs.define(slots=True)
class ReconciliationReport:
    """What one sweep found."""

    examined: int = 0
    settled: int = 0
    still_unknown: int = 0
    mismatches: int = 0
    #: Still unknown after a whole schedule (a day, by default): for a person to look into.
    flagged: int = 0

    def count(self, outcome: str) -> None:
        self.examined += 1
        if outcome == SettleOutcome.SETTLED:
            self.settled += 1
        elif outcome == SettleOutcome.MISMATCH:
            self.mismatches += 1
        else:
            self.still_unknown += 1
            if outcome == SettleOutcome.FLAGGED:
                self.flagged += 1


class ReconciliationService:
    """Settles what an unknown outcome left ``PROCESSING``, on a growing schedule."""

    def __init__(
        self, deps: Dependencies, payments: PaymentService, refunds: RefundService
    ) -> None:
        self._deps = deps
        self._payments = payments
        self._refunds = refunds

    async def sweep(
        self,
        limit: int = 500,
        progress: Callable[[int], None] | None = None,
        *,
        total: Callable[[int], None] | None = None,
    ) -> ReconciliationReport:
        """One pass over every payment due for a check and every refund stuck in flight.

        ``total`` is told how many there are before the first is asked about; ``progress``
        after each one.
        """
        deps = self._deps
        report = ReconciliationReport()
        now = deps.clock.now()
        async with deps.uow() as uow:
            payments = await uow.payments.list_due_for_reconciliation(now, limit)
            # A refund asked about before waits for its turn (see RefundService.reconcile).
            refunds = await uow.refunds.list_stuck(
                now - deps.config.reconcile_after, limit, due_by=now
            )
        if total is not None:
            total(len(payments) + len(refunds))
        for payment in payments:
            _, outcome = await self._payments.reconcile(payment)
            report.count(outcome)
            if progress is not None:
                progress(1)
        for refund in refunds:
            _, outcome = await self._refunds.reconcile(refund)
            report.count(outcome)
            if progress is not None:
                progress(1)
        if report.examined:
            log = logger.warning if report.flagged else logger.info
            log(
                "reconciliation: %d examined, %d settled, %d unknown (%d flagged), %d mismatches",
                report.examined,
                report.settled,
                report.still_unknown,
                report.flagged,
                report.mismatches,
            )
        return report

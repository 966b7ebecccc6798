"""Hold use cases: capture (whole or part), incremental authorization, and the sweep that
warns about holds near their expiry (and captures them, when so configured) and expires those
past it.

The sweep is safe with any number of workers: each hold is re-checked under its row lock
before it is warned or expired, the warning is told once (``expiry_warned_at``), and an
auto-capture is started in the transaction that tells the warning, so that it happens once and
survives a crash (reconciliation finishes a capture in flight).
"""

from __future__ import annotations

import logging
from uuid import UUID

import attrs

from payment_core.errors import PaymentError
from payment_core.model.payment import Payment, PaymentStatus
from payment_core.money import Money
from payment_core.services._deps import Dependencies, ExpiryAction
from payment_core.services._holding import (
    capture,
    expire_hold,
    holds_due,
    increment,
    send_capture,
)
from payment_core.services._reads import PAYMENTS

__all__ = ["HoldService", "HoldSweepReport"]

logger = logging.getLogger(__name__)


@attrs.define(slots=True)
class HoldSweepReport:
    """What one sweep of the holds did."""

    warned: int = 0
    captured: int = 0
    expired: int = 0


class HoldService:
    """Capture, increase and sweep holds (``capture_method=manual`` payments)."""

    def __init__(self, deps: Dependencies) -> None:
        self._deps = deps

    async def capture(
        self, payment_id: UUID, amount: int | None = None, *, idempotency_key: str | None = None
    ) -> Payment:
        """Capture ``amount`` of an ``AUTHORIZED`` payment (all it holds when ``None``); it
        becomes ``COMPLETED`` and the rest of the hold is released.

        ``InvalidTransitionError`` in another state (a capture in flight:
        ``CaptureInProgressError``), ``CaptureExceedsAuthorizedError`` above what is held,
        ``NotSupportedByProviderError`` for a partial capture its provider cannot make. A
        capture whose outcome is unknown leaves it ``AUTHORIZED`` with
        ``amount_capture_pending`` set until reconciliation settles it. With
        ``idempotency_key`` the same capture again answers as the first did.
        """
        return await capture(self._deps, payment_id, amount, idempotency_key=idempotency_key)

    async def increment(
        self, payment_id: UUID, amount: int, *, idempotency_key: str | None = None
    ) -> Payment:
        """Raise an ``AUTHORIZED`` payment's hold to ``amount`` (the new total, larger than
        its amount). Declined: ``CardDeclinedError``, and the hold stays as it was."""
        return await increment(self._deps, payment_id, amount, idempotency_key=idempotency_key)

    async def sweep(self, limit: int = 100) -> HoldSweepReport:
        """Warn about holds whose expiry is within ``AUTHORIZATION_EXPIRY_WARNING_SECONDS``
        (once each; with ``AUTHORIZATION_EXPIRY_ACTION=capture`` they are captured whole
        then), and expire holds past their expiry."""
        deps = self._deps
        report = HoldSweepReport()
        to_warn, expired = await holds_due(deps, limit)
        for payment in to_warn:
            warned = await self._warn(payment.id)
            if warned is None:
                continue  # another worker told it, or it moved meanwhile
            report.warned += 1
            if warned.capture_in_flight:
                try:
                    done = await send_capture(deps, warned)
                except PaymentError as exc:
                    logger.warning(
                        "automatic capture of payment %s before its hold expires failed: %s",
                        warned.id,
                        exc.code,
                    )
                    continue
                report.captured += done.status is PaymentStatus.COMPLETED
        for payment in expired:
            if await expire_hold(deps, payment.id) is not None:
                report.expired += 1
        if report.warned or report.expired:
            logger.info(
                "holds: %d warned of expiry, %d captured, %d expired",
                report.warned,
                report.captured,
                report.expired,
            )
        return report

    async def _warn(self, payment_id: UUID) -> Payment | None:
        """Tell the hold's warning once, under its lock, and start its capture in the same
        transaction when so configured; ``None`` when there was nothing to tell."""
        deps = self._deps
        config = deps.config

        async def run() -> Payment | None:
            async with deps.uow() as uow:
                payment = await PAYMENTS.require(uow, payment_id, lock=True)
                now = deps.clock.now()
                expires = payment.authorization_expires_at
                if (
                    payment.status is not PaymentStatus.AUTHORIZED
                    or payment.capture_in_flight
                    or expires is None
                    or expires > now + config.authorization_expiry_warning
                    or not payment.warn_expiry(now=now, event_id=deps.ids.new_id())
                ):
                    return None
                if config.authorization_expiry_action is ExpiryAction.CAPTURE and now < expires:
                    payment.start_capture(
                        now=now,
                        amount=Money(payment.amount_capturable, payment.amount.currency),
                        reconcile_after=config.reconcile_after,
                    )
                await uow.payments.update(payment)
                await uow.commit()
                return payment

        return await deps.retrying(run)

"""Settling a refund from a provider's account of it, failing or retrying it after a refused
attempt, and reversing one that failed after it completed."""

from __future__ import annotations

import logging
from uuid import UUID

from payment_core.model.billing import BillingRecordType
from payment_core.model.refund import Refund, RefundStatus
from payment_core.money import Money
from payment_core.ports import ProviderRefund, ProviderRefundStatus, UnitOfWork
from payment_core.services._deps import Dependencies
from payment_core.services._reads import REFUNDS
from payment_core.services.billing import append_record

__all__ = [
    "after_refund_failure",
    "apply_refund_reply",
    "complete_refund_in",
    "refund_mismatch_in",
    "reverse_refund",
    "reverse_refund_in",
]

logger = logging.getLogger(__name__)


async def apply_refund_reply(deps: Dependencies, refund_id: UUID, reply: ProviderRefund) -> Refund:
    """Record a provider's account of a refund that is being processed."""
    if reply.status is ProviderRefundStatus.FAILED:
        return await after_refund_failure(
            deps,
            refund_id,
            reply.failure_reason or "refund_failed",
            definite=True,
            provider_refund_id=reply.provider_refund_id,
        )

    async def run() -> Refund:
        async with deps.uow() as uow:
            refund = await REFUNDS.require(uow, refund_id, lock=True)
            if refund.status is not RefundStatus.PROCESSING:
                return refund
            if reply.amount != refund.amount:
                await refund_mismatch_in(deps, uow, refund, reply.amount)
                await uow.commit()
                return refund
            if reply.status is ProviderRefundStatus.PENDING:
                # Accepted, not final yet: a webhook or reconciliation completes it. The
                # same answer again changes nothing (updated_at says since when it waits).
                if refund.provider_refund_id != reply.provider_refund_id:
                    refund.provider_refund_id = reply.provider_refund_id
                    refund.updated_at = deps.clock.now()
                    await uow.refunds.update(refund)
                    await uow.commit()
                return refund
            await complete_refund_in(deps, uow, refund, reply.provider_refund_id)
            await uow.commit()
            return refund

    return await deps.retrying(run)


async def refund_mismatch_in(
    deps: Dependencies, uow: UnitOfWork, refund: Refund, reported: Money | None
) -> None:
    """The provider reports another amount for ``refund``, or none (``reported`` is
    ``None``): counted and logged, never settled; a refund still in flight says so in
    ``last_error`` (in the caller's transaction)."""
    deps.observer.amount_mismatch(refund.provider)
    logger.warning(
        "provider %s reports %s for refund %s, expected %s %s",
        refund.provider,
        "no amount" if reported is None else f"{reported.amount} {reported.currency.code}",
        refund.id,
        refund.amount.amount,
        refund.amount.currency.code,
    )
    if refund.status in (RefundStatus.PENDING, RefundStatus.PROCESSING):
        refund.last_error = "provider_amount_mismatch"
        await uow.refunds.update(refund)


async def complete_refund_in(
    deps: Dependencies, uow: UnitOfWork, refund: Refund, provider_refund_id: str | None
) -> None:
    """Complete a processing refund inside the caller's transaction."""
    payment = await uow.payments.get(refund.payment_id, for_update=True)
    assert payment is not None, "a refund's payment is never deleted"
    refund.complete(
        now=deps.clock.now(), event_id=deps.ids.new_id(), provider_refund_id=provider_refund_id
    )
    payment.settle_refund(now=deps.clock.now(), amount=refund.amount)
    await uow.refunds.update(refund)
    await uow.payments.update(payment)
    await append_record(
        deps,
        uow,
        type=BillingRecordType.REFUND,
        booking_id=refund.booking_id,
        guest_id=refund.guest_id,
        amount=refund.amount,
        description=f"Refund {refund.reference}",
        payment_id=refund.payment_id,
        refund_id=refund.id,
    )
    deps.observer.refund_outcome(refund.provider, refund.status.value)


async def after_refund_failure(
    deps: Dependencies,
    refund_id: UUID,
    error: str,
    *,
    definite: bool,
    final: bool = False,
    provider_refund_id: str | None = None,
) -> Refund:
    policy = deps.config.refund_retry

    async def run() -> Refund:
        async with deps.uow() as uow:
            refund = await REFUNDS.require(uow, refund_id, lock=True)
            if refund.status is not RefundStatus.PROCESSING:
                return refund
            now = deps.clock.now()
            if provider_refund_id is not None:
                refund.provider_refund_id = provider_refund_id
            exhausted = final or policy.exhausted(refund.attempts)
            if exhausted and definite:
                refund.fail(now=now, event_id=deps.ids.new_id(), reason=error)
                payment = await uow.payments.get(refund.payment_id, for_update=True)
                assert payment is not None
                payment.release_refund(now=now, amount=refund.amount)
                await uow.payments.update(payment)
                deps.observer.refund_outcome(refund.provider, refund.status.value)
            elif exhausted:
                # Unknown outcome and no attempts left: never guess. It stays PROCESSING
                # and reconciliation asks the provider with the same key.
                refund.last_error = error
                refund.updated_at = now
            else:
                refund.retry_later(
                    now=now,
                    at=now + policy.delay(refund.attempts, deps.randbelow),
                    error=error,
                    definite=definite,
                )
            await uow.refunds.update(refund)
            await uow.commit()
            return refund

    return await deps.retrying(run)


async def reverse_refund(deps: Dependencies, refund_id: UUID, reason: str) -> Refund:
    """A ``COMPLETED`` refund failed later: reverse it (``REFUND_REVERSED`` record)."""

    async def run() -> Refund:
        async with deps.uow() as uow:
            refund = await REFUNDS.require(uow, refund_id, lock=True)
            await reverse_refund_in(deps, uow, refund, reason)
            await uow.commit()
            return refund

    return await deps.retrying(run)


async def reverse_refund_in(
    deps: Dependencies, uow: UnitOfWork, refund: Refund, reason: str
) -> None:
    """The reversal, inside the caller's transaction."""
    now = deps.clock.now()
    payment = await uow.payments.get(refund.payment_id, for_update=True)
    assert payment is not None
    refund.reverse(
        now=now, event_id=deps.ids.new_id(), failed_event_id=deps.ids.new_id(), reason=reason
    )
    payment.reverse_refund(now=now, amount=refund.amount)
    await uow.refunds.update(refund)
    await uow.payments.update(payment)
    await append_record(
        deps,
        uow,
        type=BillingRecordType.REFUND_REVERSED,
        booking_id=refund.booking_id,
        guest_id=refund.guest_id,
        amount=refund.amount,
        description=f"Refund {refund.reference} reversed: {reason}"[:500],
        payment_id=refund.payment_id,
        refund_id=refund.id,
    )
    deps.observer.refund_outcome(refund.provider, "REVERSED")

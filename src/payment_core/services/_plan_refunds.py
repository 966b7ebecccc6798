"""The refunds a cancelled plan owes, opened in the caller's transaction from its paid
payments, the latest first, and attempted after it commits."""

from __future__ import annotations

import logging

from payment_core.errors import PaymentError
from payment_core.model._cancellation import split_refund
from payment_core.model.payment import Payment
from payment_core.model.plan import InstallmentStatus, PaymentPlan
from payment_core.model.refund import Refund
from payment_core.ports import UnitOfWork
from payment_core.services._deps import Dependencies
from payment_core.services._refunding import open_refund
from payment_core.services.refunds import RefundService

__all__ = ["open_owed_refunds", "process_refunds"]

logger = logging.getLogger(__name__)


async def open_owed_refunds(deps: Dependencies, uow: UnitOfWork, plan: PaymentPlan) -> list[Refund]:
    """Open what ``plan`` (cancelled, locked by the caller) still owes back as refunds of its
    paid installments' payments, latest first, each within what its payment may refund (nothing
    of one under dispute); the plan notes what was opened. Nothing for a plan that owes nothing."""
    owed = plan.refund_owed
    if owed <= 0:
        return []
    paid = sorted(
        (i for i in plan.installments if i.status is InstallmentStatus.PAID and i.payment_id),
        key=lambda i: (i.paid_at or plan.created_at, i.id),
    )
    locked: dict[object, Payment] = {}
    payments: list[Payment] = []
    for item in paid:
        assert item.payment_id is not None
        payment = await uow.payments.get(item.payment_id, for_update=True)
        if payment is None:
            continue
        locked[payment.id] = payment
        payments.append(payment)
    # A payment the guest's bank is disputing is not refunded as well (that would pay the
    # guest twice), as a cancelled booking's whole-amount refund skips it too. One query for
    # all, once each is locked (as a dispute's opening locks its payment).
    disputed = await uow.disputes.amount_open([p.id for p in payments])
    refundable = [(p.id, 0 if disputed.get(p.id) else p.refundable) for p in payments]
    opened: list[Refund] = []
    for payment_id, amount in split_refund(owed, refundable):
        payment = locked[payment_id]
        refund = open_refund(deps, payment, amount, "booking_cancelled")
        await uow.payments.update(payment)
        await uow.refunds.add(refund)
        opened.append(refund)
    taken = sum(r.amount.amount for r in opened)
    if taken:
        plan.note_refunded(taken, now=deps.clock.now())
    if taken < owed:
        logger.warning("plan %s owes %d back but its payments allow only %d", plan.id, owed, taken)
    return opened


async def process_refunds(refunds: RefundService, opened: list[Refund]) -> None:
    """Attempt each refund now (as Stripe does); a failure is left to the background retries."""
    for refund in opened:
        try:
            await refunds.process(refund.id)
        except PaymentError as exc:
            logger.warning("refund %s of a cancelled plan: %s", refund.id, exc.code)

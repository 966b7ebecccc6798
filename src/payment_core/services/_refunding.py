"""Opening a refund inside the caller's transaction (shared by refunds and payments), and the
refusal of one while the payment is disputed."""

from __future__ import annotations

from uuid import UUID

from payment_core.dispute_errors import PaymentDisputedError
from payment_core.errors import RefundExceedsRefundableError, ValidationError
from payment_core.model.payment import Payment, PaymentStatus
from payment_core.model.refund import Refund
from payment_core.money import Money
from payment_core.ports import UnitOfWork
from payment_core.services._deps import Dependencies

__all__ = ["amount_disputed", "open_refund", "refuse_if_disputed"]


async def amount_disputed(uow: UnitOfWork, payment: Payment) -> int:
    """The amount under open disputes of ``payment`` (locked by the caller, as a dispute's
    opening locks it too, so neither overtakes the other)."""
    return (await uow.disputes.amount_open([payment.id])).get(payment.id, 0)


async def refuse_if_disputed(uow: UnitOfWork, payment: Payment) -> None:
    """Raise :class:`PaymentDisputedError` while a dispute of ``payment`` is open: the bank is
    taking the money back already, and a refund too would pay the guest twice."""
    disputed = await amount_disputed(uow, payment)
    if disputed > 0:
        raise PaymentDisputedError(payment_id=payment.id, amount_disputed=disputed)


def open_refund(
    deps: Dependencies,
    payment: Payment,
    amount: int | None,
    reason: str | None,
    refund_id: UUID | None = None,
) -> Refund:
    """Hold the amount on ``payment`` (locked by the caller) and build its ``PENDING`` refund,
    due now; ``amount`` ``None`` is the whole refundable remainder; ``refund_id`` ``None`` is
    a new id."""
    if amount is not None and (type(amount) is not int or amount <= 0):
        raise ValidationError(field="amount", reason="must be a positive integer")
    now = deps.clock.now()
    value = payment.refundable if amount is None else amount
    if value == 0 and payment.status is PaymentStatus.COMPLETED:
        # Nothing is left to refund: say that, not "the amount must be positive".
        raise RefundExceedsRefundableError(payment_id=payment.id, requested=0, refundable=0)
    money = Money(value, payment.amount.currency)
    payment.reserve_refund(now=now, amount=money)
    return Refund.create(
        id=deps.ids.new_id() if refund_id is None else refund_id,
        reference=deps.ids.new_reference("re"),
        payment_id=payment.id,
        booking_id=payment.booking_id,
        guest_id=payment.guest_id,
        amount=money,
        provider=payment.provider,
        reason=reason,
        now=now,
        event_id=deps.ids.new_id(),
    )

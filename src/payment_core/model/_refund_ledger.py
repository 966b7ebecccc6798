"""A payment's refund bookkeeping: what is refundable, held for refunds in flight, refunded,
as a part of :class:`~payment_core.model.payment.Payment`. Concurrent refunds cannot oversell:
each holds its amount first (``amount_refund_pending``) in the transaction that locks the payment.
"""

from __future__ import annotations

from datetime import datetime
from typing import TYPE_CHECKING
from uuid import UUID

from payment_core.errors import (
    InvalidTransitionError,
    RefundExceedsRefundableError,
    ValidationError,
)
from payment_core.model._payment_status import PaymentStatus
from payment_core.money import Money

__all__ = ["RefundLedger"]


class RefundLedger:
    """The refund bookkeeping's behaviour; its state is the payment's own fields."""

    if TYPE_CHECKING:
        # The payment's fields it reads and moves (declared by Payment).
        id: UUID
        status: PaymentStatus
        amount: Money
        amount_captured: int
        amount_refunded: int
        amount_refund_pending: int
        updated_at: datetime
    else:
        # No instance dictionary for Payment's slotted instances.
        __slots__ = ()

    @property
    def refundable(self) -> int:
        """Minor units that may still be refunded (of what was captured): never below zero."""
        return max(0, self.amount_captured - self.amount_refunded - self.amount_refund_pending)

    def reserve_refund(self, *, now: datetime, amount: Money) -> None:
        """Hold ``amount`` for a new refund; raise if it exceeds what is refundable."""
        if self.status is not PaymentStatus.COMPLETED:
            raise InvalidTransitionError(
                entity="payment",
                entity_id=self.id,
                current=self.status.value,
                requested="REFUNDED",
            )
        self.amount.require_same_currency(amount)
        if amount.amount <= 0:
            raise ValidationError(field="amount", reason="must be positive")
        if amount.amount > self.refundable:
            raise RefundExceedsRefundableError(
                payment_id=self.id, requested=amount.amount, refundable=self.refundable
            )
        self.amount_refund_pending += amount.amount
        self.updated_at = now

    def settle_refund(self, *, now: datetime, amount: Money) -> None:
        """A held refund completed: the money left us."""
        self._release(amount)
        self.amount_refunded += amount.amount
        self.updated_at = now

    def release_refund(self, *, now: datetime, amount: Money) -> None:
        """A held refund failed for good: the amount is refundable again."""
        self._release(amount)
        self.updated_at = now

    def reverse_refund(self, *, now: datetime, amount: Money) -> None:
        """A completed refund failed later: give its amount back to the refundable remainder."""
        self.amount.require_same_currency(amount)
        if amount.amount > self.amount_refunded:
            raise ValidationError(field="amount", reason="reversal exceeds the refunded amount")
        self.amount_refunded -= amount.amount
        self.updated_at = now

    def _release(self, amount: Money) -> None:
        self.amount.require_same_currency(amount)
        if amount.amount > self.amount_refund_pending:
            raise ValidationError(field="amount", reason="more than is held for refunds")
        self.amount_refund_pending -= amount.amount

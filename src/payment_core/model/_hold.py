"""A payment's hold: what happens between ``AUTHORIZED`` and its end (captured, released or
expired), as a part of :class:`~payment_core.model.payment.Payment`.

A capture is two steps around the provider call: :meth:`Hold.start_capture` marks the hold
(``amount_capture_pending``) in the transaction that locks it, so that no second capture and
no release can start, and :meth:`Hold.complete_capture` (or :meth:`Hold.abandon_capture`)
settles it once the provider has answered. A capture whose outcome is unknown keeps the mark
until reconciliation has asked the provider: it is never guessed.
"""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import TYPE_CHECKING
from uuid import UUID

from payment_core.errors import (
    CaptureExceedsAuthorizedError,
    CaptureInProgressError,
    InvalidTransitionError,
    ValidationError,
)
from payment_core.model._base import check_transition
from payment_core.model._payment_status import (
    AMOUNT_MISMATCH,
    PAYMENT_TRANSITIONS,
    CaptureMethod,
    PaymentStatus,
)
from payment_core.model.card import Card, NextAction
from payment_core.money import Money

__all__ = ["Hold"]


class Hold:
    """The hold's behaviour; its state is the payment's own fields."""

    if TYPE_CHECKING:
        # The payment's fields it reads and moves (declared by Payment).
        id: UUID
        status: PaymentStatus
        amount: Money
        capture_method: CaptureMethod
        amount_capturable: int
        amount_captured: int
        amount_capture_pending: int
        authorization_expires_at: datetime | None
        expiry_warned_at: datetime | None
        hold_moved_by_request: UUID | None
        card: Card | None
        failure_code: str | None
        failure_message: str | None
        next_action: NextAction | None
        reconcile_at: datetime | None
        reconcile_attempts: int
        updated_at: datetime

        def _record(self, kind: str, *, event_id: UUID, now: datetime) -> None:
            """Append the payment's event of type ``kind`` (declared by Payment)."""
    else:
        # No instance dictionary for Payment's slotted instances.
        __slots__ = ()

    @property
    def capture_in_flight(self) -> bool:
        """A capture was sent and its outcome is not settled yet."""
        return self.amount_capture_pending > 0

    # ------------------------------------------------------------------ placing it
    def authorize(
        self,
        *,
        now: datetime,
        event_id: UUID,
        amount_capturable: int,
        expires_at: datetime,
        card: Card | None = None,
    ) -> None:
        """``PROCESSING -> AUTHORIZED``: the provider holds ``amount_capturable`` until
        ``expires_at``."""
        if self.capture_method is not CaptureMethod.MANUAL:
            raise InvalidTransitionError(
                entity="payment",
                entity_id=self.id,
                current=self.status.value,
                requested=PaymentStatus.AUTHORIZED.value,
            )
        if not 0 < amount_capturable <= self.amount.amount:
            raise ValidationError(field="amount_capturable", reason="outside the payment's amount")
        check_transition(
            PAYMENT_TRANSITIONS, "payment", self.id, self.status, PaymentStatus.AUTHORIZED
        )
        self.status = PaymentStatus.AUTHORIZED
        self.amount_capturable = amount_capturable
        self.authorization_expires_at = expires_at
        if card is not None:
            self.card = card
        self.failure_code = None
        self.failure_message = None
        self.next_action = None
        self.reconcile_at = None
        self.updated_at = now
        self._record("payment.authorized", event_id=event_id, now=now)

    # ------------------------------------------------------------------ capture
    def check_hold_movable(self, requested: PaymentStatus) -> None:
        """Raise unless the hold may move now: ``AUTHORIZED``, and no capture in flight."""
        if self.status is not PaymentStatus.AUTHORIZED:
            raise InvalidTransitionError(
                entity="payment",
                entity_id=self.id,
                current=self.status.value,
                requested=requested.value,
            )
        if self.capture_in_flight:
            raise CaptureInProgressError(
                entity="payment",
                entity_id=self.id,
                current=self.status.value,
                requested=requested.value,
            )

    def is_past_expiry(self, now: datetime) -> bool:
        expires = self.authorization_expires_at
        return self.status is PaymentStatus.AUTHORIZED and expires is not None and now >= expires

    def start_capture(
        self,
        *,
        now: datetime,
        amount: Money,
        reconcile_after: timedelta,
        request: UUID | None = None,
    ) -> None:
        """Mark ``amount`` as being captured: no other capture or release may start until it
        is settled. ``CaptureExceedsAuthorizedError`` above what the hold holds."""
        self.check_hold_movable(PaymentStatus.COMPLETED)
        self.amount.require_same_currency(amount)
        if amount.amount <= 0:
            raise ValidationError(field="amount", reason="must be positive")
        if amount.amount > self.amount_capturable:
            raise CaptureExceedsAuthorizedError(
                payment_id=self.id, requested=amount.amount, capturable=self.amount_capturable
            )
        self.amount_capture_pending = amount.amount
        self.hold_moved_by_request = request
        self.reconcile_at = now + reconcile_after
        self.reconcile_attempts = 0
        self.updated_at = now

    def complete_capture(self, *, now: datetime, event_id: UUID) -> None:
        """``AUTHORIZED -> COMPLETED``: the provider took the amount being captured; the rest
        of the hold is released."""
        if not self.capture_in_flight:
            raise InvalidTransitionError(
                entity="payment",
                entity_id=self.id,
                current=self.status.value,
                requested=PaymentStatus.COMPLETED.value,
            )
        check_transition(
            PAYMENT_TRANSITIONS, "payment", self.id, self.status, PaymentStatus.COMPLETED
        )
        self.status = PaymentStatus.COMPLETED
        self.amount_captured = self.amount_capture_pending
        self.amount_capture_pending = 0
        self.amount_capturable = 0
        self.authorization_expires_at = None
        self.failure_code = None
        self.failure_message = None
        self.reconcile_at = None
        self.updated_at = now
        self._record("payment.completed", event_id=event_id, now=now)

    def abandon_capture(self, *, now: datetime) -> None:
        """The provider definitely refused the capture: the hold is as it was (and the
        request that asked may ask again)."""
        self.amount_capture_pending = 0
        self.hold_moved_by_request = None
        self.reconcile_at = None
        self.updated_at = now

    def flag_capture_mismatch(self, *, now: datetime, message: str) -> None:
        """The provider's capture reply disagreed with us: never complete, keep the capture
        in flight for reconciliation to settle."""
        if not self.capture_in_flight:
            raise InvalidTransitionError(
                entity="payment",
                entity_id=self.id,
                current=self.status.value,
                requested=PaymentStatus.COMPLETED.value,
            )
        self.failure_code = AMOUNT_MISMATCH
        self.failure_message = message
        self.updated_at = now

    # ------------------------------------------------------------------ increment
    def increment_authorization(
        self, *, now: datetime, amount: Money, request: UUID | None = None
    ) -> None:
        """The provider approved a larger hold: ``amount`` is the new total."""
        self.check_hold_movable(PaymentStatus.AUTHORIZED)
        self.amount.require_same_currency(amount)
        if amount.amount <= self.amount.amount:
            raise ValidationError(field="amount", reason="must be larger than the amount held")
        self.amount_capturable += amount.amount - self.amount.amount
        self.amount = amount
        self.hold_moved_by_request = request
        self.updated_at = now

    # ------------------------------------------------------------------ expiry
    def warn_expiry(self, *, now: datetime, event_id: UUID) -> bool:
        """Tell once that the hold expires soon; whether this was the first time."""
        if self.status is not PaymentStatus.AUTHORIZED or self.expiry_warned_at is not None:
            return False
        self.expiry_warned_at = now
        self.updated_at = now
        self._record("payment.authorization_expiring", event_id=event_id, now=now)
        return True

    def expire(self, *, now: datetime, event_id: UUID) -> None:
        """``AUTHORIZED -> EXPIRED``: nobody captured it in time; nothing was taken."""
        self.check_hold_movable(PaymentStatus.EXPIRED)
        check_transition(
            PAYMENT_TRANSITIONS, "payment", self.id, self.status, PaymentStatus.EXPIRED
        )
        self.status = PaymentStatus.EXPIRED
        self.amount_capturable = 0
        self.authorization_expires_at = None
        self.reconcile_at = None
        self.updated_at = now
        self._record("payment.expired", event_id=event_id, now=now)

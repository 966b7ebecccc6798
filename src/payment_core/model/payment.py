"""The payment aggregate and its state machine.

``PENDING -> PROCESSING -> COMPLETED | FAILED`` and ``PENDING -> CANCELLED``; with
``capture_method=manual``, ``PROCESSING -> AUTHORIZED -> COMPLETED | CANCELLED | EXPIRED``
(the hold's part is :class:`~payment_core.model._hold.Hold`). An unknown provider outcome
leaves a payment ``PROCESSING`` (or a capture in flight): it is never guessed; the webhook or
the reconciliation sweep settles it later.
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import datetime, timedelta
from typing import ClassVar, Final
from uuid import UUID

import attrs

from payment_core.errors import (
    InvalidTransitionError,
    ValidationError,
)
from payment_core.model._base import check_transition, snapshot
from payment_core.model._hold import Hold
from payment_core.model._payment_status import (
    AMOUNT_MISMATCH,
    PAYMENT_TRANSITIONS,
    CaptureMethod,
    PaymentStatus,
)
from payment_core.model._refund_ledger import RefundLedger
from payment_core.model.card import MAX_BRAND, Card, NextAction
from payment_core.money import Money

__all__ = [
    "AMOUNT_MISMATCH",
    "MAX_BRAND",
    "PAYMENT_TRANSITIONS",
    "SETUP_FUTURE_USAGE",
    "CaptureMethod",
    "Card",
    "NextAction",
    "Payment",
    "PaymentAuthorizationExpiring",
    "PaymentAuthorized",
    "PaymentCancelled",
    "PaymentCompleted",
    "PaymentEvent",
    "PaymentExpired",
    "PaymentFailed",
    "PaymentInitiated",
    "PaymentStatus",
]

# ------------------------------------------------------------------------------ events
# In the aggregate's module: an event carries the payment's snapshot, and the payment (with
# its hold) records them; payment_core.events gathers every event.


@attrs.frozen(slots=True)
class PaymentEvent:
    """Something happened to a payment; ``payment`` is its snapshot at that moment."""

    type: ClassVar[str]
    event_id: UUID
    occurred_at: datetime
    payment: Payment = attrs.field(repr=False)

    @property
    def stream_id(self) -> UUID:
        """Events of one stream are published in commit order."""
        return self.payment.id


@attrs.frozen(slots=True)
class PaymentInitiated(PaymentEvent):
    type: ClassVar[str] = "payment.initiated"


@attrs.frozen(slots=True)
class PaymentAuthorized(PaymentEvent):
    type: ClassVar[str] = "payment.authorized"


@attrs.frozen(slots=True)
class PaymentAuthorizationExpiring(PaymentEvent):
    type: ClassVar[str] = "payment.authorization_expiring"


@attrs.frozen(slots=True)
class PaymentCompleted(PaymentEvent):
    type: ClassVar[str] = "payment.completed"


@attrs.frozen(slots=True)
class PaymentFailed(PaymentEvent):
    type: ClassVar[str] = "payment.failed"


@attrs.frozen(slots=True)
class PaymentCancelled(PaymentEvent):
    type: ClassVar[str] = "payment.cancelled"


@attrs.frozen(slots=True)
class PaymentExpired(PaymentEvent):
    type: ClassVar[str] = "payment.expired"


#: Each event type by its name, for the parts that record them (:meth:`Payment._record`).
_EVENTS: Final[Mapping[str, type[PaymentEvent]]] = {
    e.type: e
    for e in (
        PaymentInitiated,
        PaymentAuthorized,
        PaymentAuthorizationExpiring,
        PaymentCompleted,
        PaymentFailed,
        PaymentCancelled,
        PaymentExpired,
    )
}

#: ``setup_future_usage``: save the card, once the payment succeeds, for charges without the
#: guest (the only use the contract knows).
SETUP_FUTURE_USAGE = "off_session"


@attrs.define(slots=True, eq=False)
class Payment(Hold, RefundLedger):
    """Money taken from a guest for a booking, through one provider."""

    id: UUID
    reference: str
    booking_id: UUID
    guest_id: UUID
    amount: Money
    provider: str
    status: PaymentStatus
    created_at: datetime
    updated_at: datetime
    payment_method: str | None = None
    provider_payment_id: str | None = None
    client_secret: str | None = attrs.field(default=None, repr=False)
    amount_refunded: int = 0
    #: Held by refunds that are pending or processing, so concurrent refunds cannot oversell.
    amount_refund_pending: int = 0
    card: Card | None = None
    failure_code: str | None = None
    failure_message: str | None = None
    next_action: NextAction | None = None
    description: str | None = None
    metadata: Mapping[str, str] = attrs.field(factory=dict)
    #: When the reconciliation sweep should next ask the provider (PROCESSING only).
    reconcile_at: datetime | None = None
    reconcile_attempts: int = 0
    #: Its booking was cancelled while it was in flight: refund it whole once it completes.
    refund_on_completion: bool = False
    #: The idempotent request (:func:`payment_core.ids.id_for_request`) that confirmed or
    #: cancelled it, so that the same request again answers as it did instead of 409.
    moved_by_request: UUID | None = None
    capture_method: CaptureMethod = CaptureMethod.AUTOMATIC
    #: Held on the card and not captured yet (``AUTHORIZED`` only).
    amount_capturable: int = 0
    #: Taken from the card: the whole amount of a completed automatic payment, what a capture
    #: took of a hold. What can be refunded comes out of it.
    amount_captured: int = 0
    #: A capture sent to the provider whose outcome is not settled yet (0: none).
    amount_capture_pending: int = 0
    authorization_expires_at: datetime | None = None
    #: When ``payment.authorization_expiring`` was told (once).
    expiry_warned_at: datetime | None = None
    #: The idempotent request that last captured or incremented the hold.
    hold_moved_by_request: UUID | None = None
    #: The saved payment method it charges, or that its success saved.
    payment_method_id: UUID | None = None
    #: Charged without the guest (merchant-initiated), with a saved method.
    off_session: bool = False
    #: ``off_session``: save the card when the payment succeeds.
    setup_future_usage: str | None = None
    version: int = 0
    events: list[PaymentEvent] = attrs.field(factory=list, repr=False)

    # ------------------------------------------------------------------ creation
    @classmethod
    def initiate(
        cls,
        *,
        id: UUID,
        reference: str,
        booking_id: UUID,
        guest_id: UUID,
        amount: Money,
        provider: str,
        now: datetime,
        event_id: UUID,
        payment_method: str | None = None,
        provider_payment_id: str | None = None,
        client_secret: str | None = None,
        description: str | None = None,
        metadata: Mapping[str, str] | None = None,
        capture_method: CaptureMethod = CaptureMethod.AUTOMATIC,
        payment_method_id: UUID | None = None,
        off_session: bool = False,
        setup_future_usage: str | None = None,
    ) -> Payment:
        """A new ``PENDING`` payment, with its ``PaymentInitiated`` event."""
        if not amount.is_positive:
            raise ValidationError(field="amount", reason="must be positive")
        payment = cls(
            id=id,
            reference=reference,
            booking_id=booking_id,
            guest_id=guest_id,
            amount=amount,
            provider=provider,
            status=PaymentStatus.PENDING,
            created_at=now,
            updated_at=now,
            payment_method=payment_method,
            provider_payment_id=provider_payment_id,
            client_secret=client_secret,
            description=description,
            metadata=dict(metadata or {}),
            capture_method=capture_method,
            payment_method_id=payment_method_id,
            off_session=off_session,
            setup_future_usage=setup_future_usage,
        )
        payment.events.append(PaymentInitiated(event_id, now, snapshot(payment)))
        return payment

    # ------------------------------------------------------------------ queries
    @property
    def is_settled(self) -> bool:
        """Whether the provider's replies may no longer move it (``AUTHORIZED`` moves by our
        own capture, release and expiry)."""
        return self.status not in (PaymentStatus.PENDING, PaymentStatus.PROCESSING)

    def _move(self, to: PaymentStatus, now: datetime) -> None:
        check_transition(PAYMENT_TRANSITIONS, "payment", self.id, self.status, to)
        self.status = to
        self.updated_at = now

    # ------------------------------------------------------------------ commands
    def start_processing(
        self,
        *,
        now: datetime,
        payment_method: str | None,
        reconcile_after: timedelta,
        request: UUID | None = None,
    ) -> None:
        """``PENDING -> PROCESSING``: we are about to ask the provider to confirm."""
        self._move(PaymentStatus.PROCESSING, now)
        self.moved_by_request = request
        self.payment_method = payment_method
        self.reconcile_at = now + reconcile_after
        self.reconcile_attempts = 0

    def retry_verified(
        self,
        *,
        now: datetime,
        payment_method: str | None,
        reconcile_after: timedelta,
        request: UUID | None = None,
    ) -> None:
        """A new attempt of a ``PROCESSING`` payment that waits for the buyer, who has verified
        (Strong Customer Authentication): it stays ``PROCESSING``, no longer waiting."""
        if self.status is not PaymentStatus.PROCESSING or self.next_action is None:
            raise InvalidTransitionError(
                entity="payment",
                entity_id=self.id,
                current=self.status.value,
                requested=PaymentStatus.PROCESSING.value,
            )
        self.moved_by_request = request
        self.payment_method = payment_method
        self.next_action = None
        self.reconcile_at = now + reconcile_after
        self.reconcile_attempts = 0
        self.updated_at = now

    def complete(self, *, now: datetime, event_id: UUID, card: Card | None) -> None:
        """``PROCESSING -> COMPLETED``: the provider captured the money."""
        self._move(PaymentStatus.COMPLETED, now)
        if card is not None:
            self.card = card
        self.amount_captured = self.amount.amount
        self.amount_capturable = 0
        self.failure_code = None
        self.failure_message = None
        self.next_action = None
        self.reconcile_at = None
        self.events.append(PaymentCompleted(event_id, now, snapshot(self)))

    def fail(
        self,
        *,
        now: datetime,
        event_id: UUID,
        code: str,
        message: str | None,
        card: Card | None = None,
    ) -> None:
        """``PROCESSING -> FAILED`` with the provider's reason (a decline is an outcome)."""
        self._move(PaymentStatus.FAILED, now)
        if card is not None:
            self.card = card
        self.failure_code = code
        self.failure_message = message
        self.next_action = None
        self.reconcile_at = None
        self.events.append(PaymentFailed(event_id, now, snapshot(self)))

    def cancel(self, *, now: datetime, event_id: UUID, request: UUID | None = None) -> None:
        """``PENDING -> CANCELLED``, or ``AUTHORIZED -> CANCELLED``: the hold is released."""
        if self.status is PaymentStatus.AUTHORIZED:
            self.check_hold_movable(PaymentStatus.CANCELLED)
            self.amount_capturable = 0
            self.authorization_expires_at = None
        self._move(PaymentStatus.CANCELLED, now)
        self.moved_by_request = request
        self.events.append(PaymentCancelled(event_id, now, snapshot(self)))

    def require_action(self, *, now: datetime, next_action: NextAction) -> None:
        """Stay ``PROCESSING`` until the customer acts (3-D Secure)."""
        self._require(PaymentStatus.PROCESSING, "PROCESSING")
        self.next_action = next_action
        self.updated_at = now

    def flag_amount_mismatch(self, *, now: datetime, message: str) -> None:
        """The provider's reply disagreed with us: never complete, keep ``PROCESSING``."""
        self._require(PaymentStatus.PROCESSING, "PROCESSING")
        self.failure_code = AMOUNT_MISMATCH
        self.failure_message = message
        self.updated_at = now

    @property
    def awaits_provider(self) -> bool:
        """Confirmed or captured, with the provider's answer not known yet."""
        return self.status is PaymentStatus.PROCESSING or self.capture_in_flight

    def schedule_reconciliation(self, *, now: datetime, after: timedelta) -> None:
        """The provider could not say yet; ask again later."""
        if not self.awaits_provider:
            self._require(PaymentStatus.PROCESSING, "PROCESSING")
        self.reconcile_attempts += 1
        self.reconcile_at = now + after
        self.updated_at = now

    def refund_once_completed(self, *, now: datetime) -> None:
        """Its booking is cancelled but the provider has not answered yet (a confirm, or a
        capture): should the money be taken after all, it goes back in full (the completing
        transaction opens the refund)."""
        if not self.awaits_provider:
            self._require(PaymentStatus.PROCESSING, "PROCESSING")
        self.refund_on_completion = True
        self.updated_at = now

    def attach_card(self, *, now: datetime, card: Card) -> None:
        self.card = card
        self.updated_at = now

    def _record(self, kind: str, *, event_id: UUID, now: datetime) -> None:
        self.events.append(_EVENTS[kind](event_id, now, snapshot(self)))

    def _require(self, status: PaymentStatus, requested: str) -> None:
        if self.status is not status:
            raise InvalidTransitionError(
                entity="payment", entity_id=self.id, current=self.status.value, requested=requested
            )

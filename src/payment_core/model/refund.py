"""The refund aggregate and its state machine.

``PENDING -> PROCESSING -> COMPLETED | FAILED``; a failed or unknown attempt goes back to
``PENDING`` with ``next_retry_at``; a provider's late report that a ``COMPLETED`` refund failed
after all moves it to ``FAILED`` (a reversal).
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import datetime
from enum import StrEnum
from typing import ClassVar, Final
from uuid import UUID

import attrs

from payment_core.errors import ValidationError
from payment_core.model._base import check_transition, snapshot
from payment_core.money import Money

__all__ = [
    "REFUND_REASONS",
    "REFUND_TRANSITIONS",
    "Refund",
    "RefundCompleted",
    "RefundEvent",
    "RefundFailed",
    "RefundInitiated",
    "RefundReversed",
    "RefundStatus",
]


class RefundStatus(StrEnum):
    PENDING = "PENDING"
    PROCESSING = "PROCESSING"
    COMPLETED = "COMPLETED"
    FAILED = "FAILED"


REFUND_TRANSITIONS: Final[Mapping[RefundStatus, frozenset[RefundStatus]]] = {
    RefundStatus.PENDING: frozenset({RefundStatus.PROCESSING}),
    RefundStatus.PROCESSING: frozenset(
        {RefundStatus.COMPLETED, RefundStatus.FAILED, RefundStatus.PENDING}
    ),
    # A completed refund can only fail later (a reversal reported by the provider).
    RefundStatus.COMPLETED: frozenset({RefundStatus.FAILED}),
    RefundStatus.FAILED: frozenset(),
}

#: Stripe's reasons, and ours for refunds we start ourselves.
REFUND_REASONS: Final = frozenset(
    {"requested_by_customer", "duplicate", "fraudulent", "booking_cancelled", "other"}
)


@attrs.define(slots=True, eq=False)
class Refund:
    """Money given back to a guest from one completed payment."""

    id: UUID
    reference: str
    payment_id: UUID
    booking_id: UUID
    guest_id: UUID
    amount: Money
    provider: str
    status: RefundStatus
    created_at: datetime
    updated_at: datetime
    reason: str | None = None
    attempts: int = 0
    next_retry_at: datetime | None = None
    failure_reason: str | None = None
    last_error: str | None = None
    provider_refund_id: str | None = None
    #: Bumped after a definite provider failure, so the next attempt uses a fresh provider
    #: idempotency key; an unknown outcome keeps it, so a retry can never refund twice.
    key_generation: int = 0
    #: The idempotent request (:func:`payment_core.ids.id_for_request`) that made its latest
    #: attempt; ``None`` when the background retries made it.
    attempted_by_request: UUID | None = None
    version: int = 0
    events: list[RefundEvent] = attrs.field(factory=list, repr=False)

    @classmethod
    def create(
        cls,
        *,
        id: UUID,
        reference: str,
        payment_id: UUID,
        booking_id: UUID,
        guest_id: UUID,
        amount: Money,
        provider: str,
        reason: str | None,
        now: datetime,
        event_id: UUID,
    ) -> Refund:
        """A new ``PENDING`` refund, due now, with its ``RefundInitiated`` event."""
        if not amount.is_positive:
            raise ValidationError(field="amount", reason="must be positive")
        if reason is not None and reason not in REFUND_REASONS:
            raise ValidationError(
                field="reason", reason=f"must be one of {', '.join(sorted(REFUND_REASONS))}"
            )
        refund = cls(
            id=id,
            reference=reference,
            payment_id=payment_id,
            booking_id=booking_id,
            guest_id=guest_id,
            amount=amount,
            provider=provider,
            status=RefundStatus.PENDING,
            created_at=now,
            updated_at=now,
            reason=reason,
            next_retry_at=now,
        )
        refund.events.append(RefundInitiated(event_id, now, snapshot(refund)))
        return refund

    @property
    def provider_idempotency_key(self) -> str:
        """The key every provider call for this refund carries (see ``key_generation``)."""
        return f"refund-{self.id}-{self.key_generation}"

    def _move(self, to: RefundStatus, now: datetime) -> None:
        check_transition(REFUND_TRANSITIONS, "refund", self.id, self.status, to)
        self.status = to
        self.updated_at = now

    def start_attempt(self, *, now: datetime, request: UUID | None = None) -> None:
        """``PENDING -> PROCESSING``: one more call to the provider is about to happen."""
        self._move(RefundStatus.PROCESSING, now)
        self.attempted_by_request = request
        self.attempts += 1
        self.next_retry_at = None

    def complete(self, *, now: datetime, event_id: UUID, provider_refund_id: str | None) -> None:
        """``PROCESSING -> COMPLETED``."""
        self._move(RefundStatus.COMPLETED, now)
        if provider_refund_id is not None:
            self.provider_refund_id = provider_refund_id
        self.last_error = None
        self.events.append(RefundCompleted(event_id, now, snapshot(self)))

    def retry_later(self, *, now: datetime, at: datetime, error: str, definite: bool) -> None:
        """``PROCESSING -> PENDING`` due again at ``at``.

        ``definite`` says the provider answered with a failure (the next attempt may use a new
        key); otherwise the outcome is unknown and the same key must be reused.
        """
        self._move(RefundStatus.PENDING, now)
        self.next_retry_at = at
        self.last_error = error
        if definite:
            self.key_generation += 1

    def fail(self, *, now: datetime, event_id: UUID, reason: str) -> None:
        """``PROCESSING -> FAILED`` for good."""
        self._move(RefundStatus.FAILED, now)
        self.failure_reason = reason
        self.next_retry_at = None
        self.events.append(RefundFailed(event_id, now, snapshot(self)))

    def reverse(self, *, now: datetime, event_id: UUID, failed_event_id: UUID, reason: str) -> None:
        """``COMPLETED -> FAILED``: the provider reports the refund failed after all.

        Emits ``refund.reversed`` and, for consumers that only know the contract's event types,
        ``refund.failed``.
        """
        self._move(RefundStatus.FAILED, now)
        self.failure_reason = reason
        self.events.append(RefundReversed(event_id, now, snapshot(self)))
        self.events.append(RefundFailed(failed_event_id, now, snapshot(self)))


# ---------------------------------------------------------------------------- events
# Beside the aggregate whose snapshot they carry, so the two need no import of each other;
# payment_core.events gathers every event.


@attrs.frozen(slots=True)
class RefundEvent:
    """Something happened to a refund; ``refund`` is its snapshot at that moment."""

    type: ClassVar[str]
    event_id: UUID
    occurred_at: datetime
    refund: Refund = attrs.field(repr=False)

    @property
    def stream_id(self) -> UUID:
        # Refunds share their payment's stream so consumers see a payment's story in order.
        return self.refund.payment_id


@attrs.frozen(slots=True)
class RefundInitiated(RefundEvent):
    type: ClassVar[str] = "refund.initiated"


@attrs.frozen(slots=True)
class RefundCompleted(RefundEvent):
    type: ClassVar[str] = "refund.completed"


@attrs.frozen(slots=True)
class RefundFailed(RefundEvent):
    """The refund failed for good: retries exhausted, or rejected by the provider."""

    type: ClassVar[str] = "refund.failed"


@attrs.frozen(slots=True)
class RefundReversed(RefundEvent):
    """A refund reported completed failed later at the provider; the money was not returned."""

    type: ClassVar[str] = "refund.reversed"

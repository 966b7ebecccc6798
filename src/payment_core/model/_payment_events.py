"""The payment's events, beside the aggregate whose snapshot they carry (payment_core.events
gathers every event)."""

from __future__ import annotations

from datetime import datetime
from typing import TYPE_CHECKING, ClassVar
from uuid import UUID

import attrs

if TYPE_CHECKING:
    from payment_core.model.payment import Payment

__all__ = [
    "PaymentAuthorizationExpiring",
    "PaymentAuthorized",
    "PaymentCancelled",
    "PaymentCompleted",
    "PaymentEvent",
    "PaymentExpired",
    "PaymentFailed",
    "PaymentInitiated",
]


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

"""What the fake provider remembers of each payment (its intents), shared by its parts."""

from __future__ import annotations

from datetime import datetime
from typing import Any
from uuid import UUID

import attrs

from payment_core.model.payment import CaptureMethod
from payment_core.money import Money
from payment_core.ports import ProviderPaymentStatus, SavedPaymentMethod

__all__ = ["Intent", "forget_oldest", "suffix"]


@attrs.define(slots=True)
class Intent:
    """One payment at the fake provider, as Stripe keeps a PaymentIntent."""

    id: str
    payment_id: UUID
    amount: Money
    status: ProviderPaymentStatus
    payment_method: str | None = None
    refunded: int = 0
    capture_method: CaptureMethod = CaptureMethod.AUTOMATIC
    amount_capturable: int = 0
    amount_received: int = 0
    expires_at: datetime | None = None
    setup_future_usage: str | None = None
    customer_id: str | None = attrs.field(default=None, repr=False)
    off_session: bool = False
    saved: SavedPaymentMethod | None = None
    #: The key of the capture that took it (a retry under it gets the same answer).
    capture_key: str | None = None
    #: The keys of the increases made, and the total each asked for.
    increments: dict[str, int] = attrs.field(factory=dict)


def suffix(value: UUID) -> str:
    return value.hex


def forget_oldest(memory: dict[str, Any], limit: int) -> None:
    # Dicts keep insertion order: the first key is the oldest.
    while len(memory) > limit:
        del memory[next(iter(memory))]

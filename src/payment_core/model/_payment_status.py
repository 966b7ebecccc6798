"""A payment's states, the moves between them, and how it is captured."""

from __future__ import annotations

from collections.abc import Mapping
from enum import StrEnum
from typing import Final

__all__ = ["AMOUNT_MISMATCH", "PAYMENT_TRANSITIONS", "CaptureMethod", "PaymentStatus"]

AMOUNT_MISMATCH: Final = "provider_amount_mismatch"


class PaymentStatus(StrEnum):
    PENDING = "PENDING"
    PROCESSING = "PROCESSING"
    #: The money is held on the card, not taken (``capture_method=manual``).
    AUTHORIZED = "AUTHORIZED"
    COMPLETED = "COMPLETED"
    FAILED = "FAILED"
    CANCELLED = "CANCELLED"
    #: A hold nobody captured before its deadline: nothing was taken.
    EXPIRED = "EXPIRED"


class CaptureMethod(StrEnum):
    """Take the money when the provider confirms (``automatic``), or hold it and take it
    later (``manual``)."""

    AUTOMATIC = "automatic"
    MANUAL = "manual"


PAYMENT_TRANSITIONS: Final[Mapping[PaymentStatus, frozenset[PaymentStatus]]] = {
    PaymentStatus.PENDING: frozenset({PaymentStatus.PROCESSING, PaymentStatus.CANCELLED}),
    PaymentStatus.PROCESSING: frozenset(
        {PaymentStatus.COMPLETED, PaymentStatus.FAILED, PaymentStatus.AUTHORIZED}
    ),
    PaymentStatus.AUTHORIZED: frozenset(
        {PaymentStatus.COMPLETED, PaymentStatus.CANCELLED, PaymentStatus.EXPIRED}
    ),
    PaymentStatus.COMPLETED: frozenset(),
    PaymentStatus.FAILED: frozenset(),
    PaymentStatus.CANCELLED: frozenset(),
    PaymentStatus.EXPIRED: frozenset(),
}

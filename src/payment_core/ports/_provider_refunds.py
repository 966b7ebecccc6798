"""The refund operations of a provider: their requests and the provider's account of a
refund (re-exported by :mod:`payment_core.ports.providers`)."""

from __future__ import annotations

from enum import StrEnum
from uuid import UUID

import attrs

from payment_core.money import Money
from payment_core.outside_text import screen_text

__all__ = [
    "ProviderRefund",
    "ProviderRefundStatus",
    "RefundRequest",
    "RetrieveRefundRequest",
]


class ProviderRefundStatus(StrEnum):
    PENDING = "pending"
    SUCCEEDED = "succeeded"
    FAILED = "failed"


@attrs.frozen(slots=True)
class RefundRequest:
    """Ask a provider to give money back from a payment."""

    refund_id: UUID
    payment_id: UUID
    provider_payment_id: str | None
    amount: Money
    idempotency_key: str
    reason: str | None = None
    payment_method: str | None = None


@attrs.frozen(slots=True)
class RetrieveRefundRequest:
    """Ask a provider where a refund stands; an attempt that never reached it is made again.

    ``payment_id`` and ``reason`` are those of the attempt's :class:`RefundRequest`: a refund
    made again under the attempt's idempotency key must be exactly the same request.
    """

    refund_id: UUID
    provider_refund_id: str | None
    provider_payment_id: str | None
    amount: Money
    idempotency_key: str
    payment_method: str | None = None
    payment_id: UUID | None = None
    reason: str | None = None


@attrs.frozen(slots=True)
class ProviderRefund:
    """A provider's account of a refund."""

    provider_refund_id: str
    status: ProviderRefundStatus
    amount: Money
    #: A code or a short text from the provider, screened as it is set.
    failure_reason: str | None = attrs.field(default=None, converter=screen_text)

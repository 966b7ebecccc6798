"""A saved payment method: a guest's card kept at a provider for charges without the guest.

It is saved when a payment made with ``setup_future_usage="off_session"`` succeeds, in the
transaction that records the success. What the provider needs to charge it again (its token
and customer id) is stored encrypted and never shown; what a person may see of it is the
card's brand, last four digits and expiry. ``ACTIVE -> DETACHED``, once: a detached method is
never charged again.
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import datetime
from enum import StrEnum
from typing import Any, Final
from uuid import UUID

import attrs

from payment_core.errors import PaymentMethodDetachedError
from payment_core.model._base import check_transition
from payment_core.model.card import Card

__all__ = ["PAYMENT_METHOD_TRANSITIONS", "PaymentMethod", "PaymentMethodStatus"]


class PaymentMethodStatus(StrEnum):
    ACTIVE = "ACTIVE"
    DETACHED = "DETACHED"


PAYMENT_METHOD_TRANSITIONS: Final[Mapping[PaymentMethodStatus, frozenset[PaymentMethodStatus]]] = {
    PaymentMethodStatus.ACTIVE: frozenset({PaymentMethodStatus.DETACHED}),
    PaymentMethodStatus.DETACHED: frozenset(),
}


@attrs.define(slots=True, eq=False)
class PaymentMethod:
    """A card saved at a provider for one guest."""

    id: UUID
    guest_id: UUID
    provider: str
    #: The provider's id of the saved card (Stripe's ``pm_…``, PayPal's vault token, Square's
    #: card on file): what it charges. Encrypted at rest, never shown.
    provider_token: str = attrs.field(repr=False)
    status: PaymentMethodStatus
    created_at: datetime
    updated_at: datetime
    #: The provider's customer the card belongs to, where it has customers.
    provider_customer_id: str | None = attrs.field(default=None, repr=False)
    card: Card | None = None
    type: str = "card"
    #: The payment whose success saved it.
    payment_id: UUID | None = None
    version: int = 0
    #: No events of its own; the unit of work collects them like any aggregate's.
    events: list[Any] = attrs.field(factory=list, repr=False)

    @classmethod
    def save(
        cls,
        *,
        id: UUID,
        guest_id: UUID,
        provider: str,
        provider_token: str,
        provider_customer_id: str | None,
        card: Card | None,
        payment_id: UUID | None,
        now: datetime,
    ) -> PaymentMethod:
        """A new ``ACTIVE`` method."""
        return cls(
            id=id,
            guest_id=guest_id,
            provider=provider,
            provider_token=provider_token,
            status=PaymentMethodStatus.ACTIVE,
            created_at=now,
            updated_at=now,
            provider_customer_id=provider_customer_id,
            card=card,
            payment_id=payment_id,
        )

    @property
    def is_active(self) -> bool:
        return self.status is PaymentMethodStatus.ACTIVE

    def require_active(self) -> None:
        """Raise :class:`PaymentMethodDetachedError` unless it may be charged."""
        if not self.is_active:
            raise PaymentMethodDetachedError(payment_method_id=self.id)

    def detach(self, *, now: datetime) -> bool:
        """``ACTIVE -> DETACHED``; ``False`` when it was detached already (nothing changes)."""
        if self.status is PaymentMethodStatus.DETACHED:
            return False
        check_transition(
            PAYMENT_METHOD_TRANSITIONS,
            "payment_method",
            self.id,
            self.status,
            PaymentMethodStatus.DETACHED,
        )
        self.status = PaymentMethodStatus.DETACHED
        self.updated_at = now
        return True

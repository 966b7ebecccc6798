"""Saved payment methods: their view, declared once and built once.

Never the provider's token or customer id: a saved card is shown as its brand, last four
digits and expiry.
"""

from __future__ import annotations

from typing import Literal

from typing_extensions import TypedDict

from payment_adapters.wire._common import Id, Timestamp, rfc3339
from payment_adapters.wire.payments import Card
from payment_core.model.payment_method import PaymentMethod

__all__ = ["PaymentMethodView", "payment_method_view"]


class PaymentMethodView(TypedDict):
    """A saved payment method (its provider token and customer are never shown)."""

    id: Id
    guest_id: Id
    provider: str
    type: Literal["card"]
    card: Card | None
    status: Literal["ACTIVE", "DETACHED"]
    created_at: Timestamp
    updated_at: Timestamp


def payment_method_view(method: PaymentMethod) -> PaymentMethodView:
    card = method.card
    return {
        "id": str(method.id),
        "guest_id": str(method.guest_id),
        "provider": method.provider,
        "type": "card",
        "card": None
        if card is None
        else {
            "brand": card.brand,
            "last4": card.last4,
            "exp_month": card.exp_month,
            "exp_year": card.exp_year,
        },
        "status": method.status.value,
        "created_at": rfc3339(method.created_at),
        "updated_at": rfc3339(method.updated_at),
    }

"""What a provider tells about a card, and what it asks of the customer: shared by payments
and saved payment methods."""

from __future__ import annotations

from typing import Final

import attrs

from payment_core.errors import ValidationError
from payment_core.outside_text import screen_code

__all__ = ["MAX_BRAND", "Card", "NextAction"]

#: The longest card brand kept (the width of its column).
MAX_BRAND: Final = 32


def _brand(value: object) -> str:
    # The provider's word for it, kept to what the brand column holds.
    return screen_code(value, limit=MAX_BRAND) or "unknown"


def _month(value: object) -> int | None:
    return value if type(value) is int and 1 <= value <= 12 else None


def _year(value: object) -> int | None:
    return value if type(value) is int and 1900 <= value <= 9999 else None


@attrs.frozen(slots=True)
class Card:
    """What a provider tells about the card: never the number, never the security code.

    It comes from providers and webhooks: a brand that is not a short code is ``unknown``, an
    expiry month or year out of range is unknown (``None``), and ``last4`` must be four ASCII
    digits.
    """

    brand: str = attrs.field(converter=_brand)
    last4: str
    exp_month: int | None = attrs.field(default=None, converter=_month)
    exp_year: int | None = attrs.field(default=None, converter=_year)

    def __attrs_post_init__(self) -> None:
        if (
            not isinstance(self.last4, str)
            or len(self.last4) != 4
            or not (self.last4.isascii() and self.last4.isdigit())
        ):
            raise ValidationError(field="card.last4", reason="must be four digits")


@attrs.frozen(slots=True)
class NextAction:
    """What the customer must do before the provider can finish (3-D Secure)."""

    type: str
    url: str

"""Who an invoice is made out to: a name, an e-mail, a tax id and a postal address.

Every field is optional (a guest may be invoiced by booking alone) and checked when the value
is built: lengths, the shape of an e-mail address, an ISO 3166-1 alpha-2 country, no blank or
control-character text, and no raw card data (a card number typed into a name or an address
line is refused like anywhere else). It is personal data: stored encrypted at rest.
"""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Mapping
from typing import Any, Final

import attrs

from payment_core.card_data import find_raw_card_data
from payment_core.country_table import ISO_3166_ALPHA2, USER_ASSIGNED
from payment_core.errors import RawCardDataError, ValidationError

__all__ = ["LIMITS", "Address", "Customer", "is_country"]

#: Longest value of each field, in characters.
LIMITS: Final = {
    "name": 200,
    "email": 254,
    "tax_id": 64,
    "line1": 200,
    "line2": 200,
    "city": 100,
    "postal_code": 20,
}
# One @, something on both sides, a dot in the domain, no whitespace: the shape, not proof
# that a mailbox exists (RFC 5321 limits the whole to 254 characters, the local part to 64).
_EMAIL: Final = re.compile(r"^[^@\s]{1,64}@[^@\s.]+(?:\.[^@\s.]+)+$")


def is_country(code: str) -> bool:
    """Whether ``code`` is an upper-case ISO 3166-1 alpha-2 code (``XK`` included)."""
    return code in ISO_3166_ALPHA2 or code in USER_ASSIGNED


def _text(field: str, value: object) -> str | None:
    if value is None:
        return None
    if not isinstance(value, str):
        raise ValidationError(field=field, reason="must be a string")
    if not value.strip():
        raise ValidationError(field=field, reason="must not be blank (leave it out instead)")
    limit = LIMITS[field.rsplit(".", 1)[-1]]
    if len(value) > limit:
        raise ValidationError(field=field, reason=f"at most {limit} characters")
    if any(unicodedata.category(ch) == "Cc" for ch in value):
        raise ValidationError(field=field, reason="must not contain control characters")
    if find_raw_card_data(value) is not None:
        raise RawCardDataError(field=field)
    return value


@attrs.frozen(slots=True)
class Address:
    """A postal address; ``country`` is an upper-case ISO 3166-1 alpha-2 code."""

    line1: str | None = None
    line2: str | None = None
    city: str | None = None
    postal_code: str | None = None
    country: str | None = None

    def __attrs_post_init__(self) -> None:
        for name in ("line1", "line2", "city", "postal_code"):
            _text(f"customer.address.{name}", getattr(self, name))
        if self.country is not None and (
            not isinstance(self.country, str) or not is_country(self.country)
        ):
            raise ValidationError(
                field="customer.address.country",
                reason="must be an upper-case ISO 3166-1 alpha-2 code, such as ES",
            )

    def lines(self) -> tuple[str, ...]:
        """As printed: street lines, then ``postal_code city``, then the country code."""
        town = " ".join(p for p in (self.postal_code, self.city) if p)
        return tuple(p for p in (self.line1, self.line2, town, self.country) if p)


@attrs.frozen(slots=True)
class Customer:
    """The invoice's customer; every field may be ``None``."""

    name: str | None = None
    email: str | None = None
    tax_id: str | None = None
    address: Address | None = None

    def __attrs_post_init__(self) -> None:
        _text("customer.name", self.name)
        _text("customer.tax_id", self.tax_id)
        if _text("customer.email", self.email) is not None and not _EMAIL.match(self.email or ""):
            raise ValidationError(field="customer.email", reason="must be an e-mail address")
        if self.address is not None and not isinstance(self.address, Address):
            raise ValidationError(field="customer.address", reason="must be an address")

    def to_json(self) -> dict[str, Any]:
        """Its JSON view (the wire shape, and how it is stored)."""
        address = self.address
        return {
            "name": self.name,
            "email": self.email,
            "tax_id": self.tax_id,
            "address": None if address is None else attrs.asdict(address),
        }

    @classmethod
    def from_json(cls, value: Mapping[str, Any]) -> Customer:
        """The customer of a JSON object shaped like :meth:`to_json` (checked again)."""
        address = value.get("address")
        return cls(
            name=value.get("name"),
            email=value.get("email"),
            tax_id=value.get("tax_id"),
            address=None if address is None else Address(**address),
        )

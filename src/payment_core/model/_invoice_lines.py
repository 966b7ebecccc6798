"""An invoice's lines and numbers: line items checked on construction, the limits of what an
invoice holds, and the ``INV-YYYY-NNNNNN`` numbers of its gap-free yearly sequence."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Final

import attrs

from payment_core.errors import ValidationError
from payment_core.model._base import format_document_number, parse_document_number
from payment_core.model.customer import Customer
from payment_core.money import MAX_AMOUNT, Currency, tax_for

__all__ = [
    "MAX_DESCRIPTION",
    "MAX_LINE_ITEMS",
    "MAX_NOTES",
    "MAX_QUANTITY",
    "MAX_TAX_RATE_BPS",
    "LineItem",
    "check_customer",
    "check_lines",
    "check_notes",
    "format_invoice_number",
    "parse_invoice_number",
]

MAX_LINE_ITEMS: Final = 250
MAX_QUANTITY: Final = 1_000_000
MAX_TAX_RATE_BPS: Final = 10_000
MAX_DESCRIPTION: Final = 500
MAX_NOTES: Final = 5_000


def _exact_int(value: object, field: str, low: int, high: int) -> int:
    if type(value) is not int:
        raise ValidationError(field=field, reason="must be an integer")
    if not low <= value <= high:
        raise ValidationError(field=field, reason=f"must be between {low} and {high}")
    return value


@attrs.frozen(slots=True)
class LineItem:
    """One line: ``quantity x unit_amount`` in minor units, taxed at ``tax_rate_bps``."""

    description: str
    quantity: int
    unit_amount: int
    tax_rate_bps: int = 0

    def __attrs_post_init__(self) -> None:
        if not isinstance(self.description, str) or not self.description.strip():
            raise ValidationError(field="description", reason="must be a non-empty string")
        if len(self.description) > MAX_DESCRIPTION:
            raise ValidationError(
                field="description", reason=f"at most {MAX_DESCRIPTION} characters"
            )
        _exact_int(self.quantity, "quantity", 1, MAX_QUANTITY)
        _exact_int(self.unit_amount, "unit_amount", 0, MAX_AMOUNT)
        _exact_int(self.tax_rate_bps, "tax_rate_bps", 0, MAX_TAX_RATE_BPS)

    @property
    def amount(self) -> int:
        """``quantity * unit_amount`` before tax, in minor units."""
        return self.quantity * self.unit_amount

    @property
    def tax(self) -> int:
        """Tax on this line, rounded half-even to a minor unit."""
        return tax_for(self.amount, self.tax_rate_bps)


def format_invoice_number(year: int, sequence: int) -> str:
    """``INV-2026-000001``."""
    return format_document_number("INV", year, sequence)


def parse_invoice_number(number: str) -> tuple[int, int] | None:
    """The (year, sequence) of a well-formed number, else ``None``."""
    return parse_document_number("INV", number)


def check_lines(lines: Sequence[LineItem], currency: Currency) -> tuple[LineItem, ...]:
    if len(lines) > MAX_LINE_ITEMS:
        raise ValidationError(field="line_items", reason=f"at most {MAX_LINE_ITEMS} items")
    items = tuple(lines)
    for item in items:
        if not isinstance(item, LineItem):
            raise ValidationError(field="line_items", reason="must be line items")
    total = sum(i.amount + i.tax for i in items)
    if total > MAX_AMOUNT:
        raise ValidationError(
            field="line_items", reason=f"the total exceeds {MAX_AMOUNT} minor units"
        )
    del currency  # every line is in the invoice's currency by construction
    return items


def check_customer(customer: Customer | None) -> Customer | None:
    if customer is not None and not isinstance(customer, Customer):
        raise ValidationError(field="customer", reason="must be a customer")
    return customer


def check_notes(notes: str | None) -> str | None:
    if notes is not None and len(notes) > MAX_NOTES:
        raise ValidationError(field="notes", reason=f"at most {MAX_NOTES} characters")
    return notes

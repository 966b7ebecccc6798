"""What a printed document shows: plain frozen values, independent of the domain's aggregates.

The caller (the HTTP layer, a script) copies what it wants printed into these; the renderers
never reach back into a repository. Amounts are ints of the currency's minor unit. The totals
an invoice prints are checked against its lines here, so a document that does not add up is
refused instead of printed.
"""

from __future__ import annotations

from collections.abc import Iterable
from datetime import UTC, date, datetime
from enum import StrEnum
from typing import TYPE_CHECKING, Any

import attrs

from payment_core.money import MAX_TAX_RATE_BPS, is_known_currency, tax_for

if TYPE_CHECKING:
    from payment_adapters.settings import Settings

__all__ = [
    "CreditNoteDocument",
    "CreditNoteLine",
    "InvoiceDocument",
    "InvoiceLine",
    "InvoiceStatus",
    "Party",
    "ReceiptDocument",
    "ReceiptRefund",
    "ReceiptStatus",
    "TaxGroup",
    "seller_from_settings",
]


# Some documents have a field called ``date``; inside their class bodies the type is ``Day``.
Day = date


class InvoiceStatus(StrEnum):
    DRAFT = "DRAFT"
    OPEN = "OPEN"
    PAID = "PAID"
    VOID = "VOID"
    UNCOLLECTIBLE = "UNCOLLECTIBLE"


class ReceiptStatus(StrEnum):
    PAID = "PAID"
    PARTIALLY_REFUNDED = "PARTIALLY_REFUNDED"
    REFUNDED = "REFUNDED"


def _amount(_instance: object, attribute: attrs.Attribute[Any], value: object) -> None:
    # ``type(...) is int``: a bool, a float or a Decimal is never an amount.
    if type(value) is not int or value < 0:
        raise ValueError(f"{attribute.name} must be a non-negative int of minor units")


def _currency(_instance: object, attribute: attrs.Attribute[Any], value: object) -> None:
    if not isinstance(value, str) or not is_known_currency(value):
        raise ValueError(f"{attribute.name} must be an ISO 4217 code such as 'EUR'")


def _aware(_instance: object, attribute: attrs.Attribute[Any], value: object) -> None:
    if not isinstance(value, datetime) or value.tzinfo is None:
        raise ValueError(f"{attribute.name} must be a timezone-aware datetime")


def _day(_instance: object, attribute: attrs.Attribute[Any], value: object) -> None:
    # A datetime is a date too; a date is what is printed, so take exactly that.
    if type(value) is not date:
        raise ValueError(f"{attribute.name} must be a date")


def _invoice_lines(items: Iterable[InvoiceLine]) -> tuple[InvoiceLine, ...]:
    return tuple(items)


def _credit_notes(items: Iterable[CreditNoteLine]) -> tuple[CreditNoteLine, ...]:
    return tuple(items)


def _refunds(items: Iterable[ReceiptRefund]) -> tuple[ReceiptRefund, ...]:
    return tuple(items)


def _lines(value: Iterable[str] | str) -> tuple[str, ...]:
    if isinstance(value, str):
        value = value.split("\n")
    return tuple(line.strip() for line in value if line.strip())


@attrs.frozen(slots=True)
class Party:
    """A seller, a customer or a merchant as printed: every field may be empty."""

    name: str = ""
    address: tuple[str, ...] = attrs.field(default=(), converter=_lines)
    tax_id: str | None = None
    email: str | None = None


def seller_from_settings(settings: Settings) -> Party:
    """The issuer of every document, from ``SELLER_NAME``, ``SELLER_ADDRESS``, ... ."""
    return Party(
        name=settings.seller_name or "",
        address=settings.seller_address,
        tax_id=settings.seller_tax_id,
        email=settings.seller_email,
    )


@attrs.frozen(slots=True)
class InvoiceLine:
    """``quantity x unit_amount = line_total`` before tax, taxed at ``tax_rate_bps``."""

    description: str
    quantity: int
    unit_amount: int = attrs.field(validator=_amount)
    tax_rate_bps: int
    line_total: int = attrs.field(validator=_amount)

    def __attrs_post_init__(self) -> None:
        if type(self.quantity) is not int or self.quantity < 1:
            raise ValueError("quantity must be a positive int")
        if type(self.tax_rate_bps) is not int or not 0 <= self.tax_rate_bps <= MAX_TAX_RATE_BPS:
            raise ValueError(f"tax_rate_bps must be an int from 0 to {MAX_TAX_RATE_BPS}")
        if self.line_total != self.quantity * self.unit_amount:
            raise ValueError("line_total must be quantity * unit_amount")

    @property
    def tax(self) -> int:
        """The line's tax, rounded half-even per line as the invoice computes it."""
        return tax_for(self.line_total, self.tax_rate_bps)


@attrs.frozen(slots=True)
class TaxGroup:
    """The lines taxed at one rate: their taxable base and the tax on them."""

    rate_bps: int
    taxable: int
    tax: int


@attrs.frozen(slots=True)
class CreditNoteLine:
    """A credit note against the invoice, as the invoice lists it."""

    number: str
    date: date = attrs.field(validator=_day)
    amount: int = attrs.field(validator=_amount)


@attrs.frozen(slots=True)
class InvoiceDocument:
    """An invoice as printed. ``number`` is ``None`` for a draft."""

    seller: Party
    customer: Party
    number: str | None
    status: InvoiceStatus = attrs.field(converter=InvoiceStatus)
    issue_date: date = attrs.field(validator=_day)
    due_date: date | None = attrs.field(validator=attrs.validators.optional(_day))
    currency: str = attrs.field(validator=_currency)
    lines: tuple[InvoiceLine, ...] = attrs.field(converter=_invoice_lines)
    subtotal: int = attrs.field(validator=_amount)
    tax: int = attrs.field(validator=_amount)
    total: int = attrs.field(validator=_amount)
    amount_paid: int = attrs.field(default=0, validator=_amount)
    amount_due: int = attrs.field(default=0, validator=_amount)
    credit_notes: tuple[CreditNoteLine, ...] = attrs.field(default=(), converter=_credit_notes)
    notes: str | None = None

    def __attrs_post_init__(self) -> None:
        if self.subtotal != sum(line.line_total for line in self.lines):
            raise ValueError("subtotal must be the sum of the line totals")
        if self.tax != sum(group.tax for group in self.tax_by_rate):
            raise ValueError("tax must be the sum of the lines' tax, rounded per line")
        if self.total != self.subtotal + self.tax:
            raise ValueError("total must be subtotal + tax")

    @property
    def tax_by_rate(self) -> tuple[TaxGroup, ...]:
        """One group per tax rate, highest rate first."""
        groups: dict[int, tuple[int, int]] = {}
        for line in self.lines:
            taxable, tax = groups.get(line.tax_rate_bps, (0, 0))
            groups[line.tax_rate_bps] = (taxable + line.line_total, tax + line.tax)
        return tuple(
            TaxGroup(rate_bps=rate, taxable=taxable, tax=tax)
            for rate, (taxable, tax) in sorted(groups.items(), reverse=True)
        )

    @property
    def amount_credited(self) -> int:
        return sum(note.amount for note in self.credit_notes)


@attrs.frozen(slots=True)
class CreditNoteDocument:
    """A credit note as printed: ``amount`` includes ``tax``, the invoice's tax share of it."""

    seller: Party
    customer: Party
    number: str
    invoice_number: str
    date: date = attrs.field(validator=_day)
    amount: int = attrs.field(validator=_amount)
    tax: int = attrs.field(validator=_amount)
    currency: str = attrs.field(validator=_currency)
    reason: str | None = None
    memo: str | None = None

    def __attrs_post_init__(self) -> None:
        if self.tax > self.amount:
            raise ValueError("tax is a share of amount and cannot exceed it")


@attrs.frozen(slots=True)
class ReceiptRefund:
    """A completed refund of the payment."""

    date: datetime = attrs.field(validator=_aware)
    amount: int = attrs.field(validator=_amount)


@attrs.frozen(slots=True)
class ReceiptDocument:
    """A payment receipt: the merchant, the payment, and nothing about the guest but the card."""

    merchant: Party
    reference: str
    amount: int = attrs.field(validator=_amount)
    currency: str = attrs.field(validator=_currency)
    date: datetime = attrs.field(validator=_aware)
    status: ReceiptStatus = attrs.field(converter=ReceiptStatus)
    card_brand: str | None = None
    card_last4: str | None = None
    refunds: tuple[ReceiptRefund, ...] = attrs.field(default=(), converter=_refunds)

    def __attrs_post_init__(self) -> None:
        if self.card_last4 is not None and not (
            len(self.card_last4) == 4 and self.card_last4.isascii() and self.card_last4.isdigit()
        ):
            raise ValueError("card_last4 must be four digits")
        if self.amount_refunded > self.amount:
            raise ValueError("the refunds add up to more than the payment")

    @property
    def amount_refunded(self) -> int:
        return sum(refund.amount for refund in self.refunds)

    @property
    def day(self) -> Day:
        """The payment's day in UTC: the document's creation date."""
        return self.date.astimezone(UTC).date()

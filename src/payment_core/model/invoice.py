"""The invoice aggregate: line items, totals, numbering and its state machine.

``DRAFT -> OPEN -> PAID | VOID | UNCOLLECTIBLE``, ``DRAFT -> VOID``, ``UNCOLLECTIBLE -> PAID``.
Tax is rounded half-even per line in minor units and ``total = subtotal + tax``. A draft has no
number; issuing assigns the next number of a gap-free sequence per calendar year.

An invoice linked to a payment takes from it what the payment still has (the use cases say
how much): ``amount_applied`` counts it, ``amount_paid`` shows it, and the invoice is ``PAID``
once that covers its total. Marked ``PAID`` by hand, the rest counts as paid otherwise.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from datetime import date, datetime
from enum import Enum, StrEnum
from typing import ClassVar, Final
from uuid import UUID

import attrs

from payment_core.errors import InvoiceNotEditableError, ValidationError
from payment_core.model._base import check_transition, snapshot
from payment_core.money import MAX_AMOUNT, Currency, Money, tax_for

__all__ = [
    "INVOICE_TRANSITIONS",
    "MAX_LINE_ITEMS",
    "UNSET",
    "Invoice",
    "InvoiceEvent",
    "InvoiceIssued",
    "InvoiceMarkedUncollectible",
    "InvoicePaid",
    "InvoiceStatus",
    "InvoiceVoided",
    "LineItem",
    "Unset",
    "format_invoice_number",
    "parse_invoice_number",
]

MAX_LINE_ITEMS: Final = 250
MAX_QUANTITY: Final = 1_000_000
MAX_TAX_RATE_BPS: Final = 10_000
MAX_DESCRIPTION: Final = 500
MAX_NOTES: Final = 5_000


class Unset(Enum):
    """Marks an argument that was not given (``None`` is a value: it clears the field)."""

    UNSET = "UNSET"


UNSET: Final = Unset.UNSET


class InvoiceStatus(StrEnum):
    DRAFT = "DRAFT"
    OPEN = "OPEN"
    PAID = "PAID"
    VOID = "VOID"
    UNCOLLECTIBLE = "UNCOLLECTIBLE"


INVOICE_TRANSITIONS: Final[Mapping[InvoiceStatus, frozenset[InvoiceStatus]]] = {
    InvoiceStatus.DRAFT: frozenset({InvoiceStatus.OPEN, InvoiceStatus.VOID}),
    InvoiceStatus.OPEN: frozenset(
        {InvoiceStatus.PAID, InvoiceStatus.VOID, InvoiceStatus.UNCOLLECTIBLE}
    ),
    InvoiceStatus.UNCOLLECTIBLE: frozenset({InvoiceStatus.PAID}),
    InvoiceStatus.PAID: frozenset(),
    InvoiceStatus.VOID: frozenset(),
}
#: The states in which an invoice takes money from its payment.
_PAYABLE: Final = frozenset({InvoiceStatus.OPEN, InvoiceStatus.UNCOLLECTIBLE})


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
    return f"INV-{year:04d}-{sequence:06d}"


def parse_invoice_number(number: str) -> tuple[int, int] | None:
    """The (year, sequence) of a well-formed number, else ``None``."""
    parts = number.split("-")
    if len(parts) != 3 or parts[0] != "INV":
        return None
    year, seq = parts[1], parts[2]
    if not (len(year) == 4 and year.isascii() and year.isdigit()):
        return None
    if not (len(seq) >= 6 and seq.isascii() and seq.isdigit()):
        return None
    return int(year), int(seq)


def _check_lines(lines: Sequence[LineItem], currency: Currency) -> tuple[LineItem, ...]:
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


def _check_notes(notes: str | None) -> str | None:
    if notes is not None and len(notes) > MAX_NOTES:
        raise ValidationError(field="notes", reason=f"at most {MAX_NOTES} characters")
    return notes


@attrs.define(slots=True, eq=False)
class Invoice:
    """A bill to a guest for a booking."""

    id: UUID
    booking_id: UUID
    guest_id: UUID
    currency: Currency
    status: InvoiceStatus
    created_at: datetime
    updated_at: datetime
    line_items: tuple[LineItem, ...] = ()
    number: str | None = None
    due_date: date | None = None
    payment_id: UUID | None = None
    notes: str | None = None
    #: Minor units paid: what it took from its payment, plus the rest when marked paid by hand.
    amount_paid: int = 0
    #: Minor units taken from ``payment_id``'s payment (never more than ``amount_paid``).
    amount_applied: int = 0
    issued_at: datetime | None = None
    paid_at: datetime | None = None
    voided_at: datetime | None = None
    version: int = 0
    events: list[InvoiceEvent] = attrs.field(factory=list, repr=False)

    @classmethod
    def draft(
        cls,
        *,
        id: UUID,
        booking_id: UUID,
        guest_id: UUID,
        currency: Currency,
        now: datetime,
        line_items: Sequence[LineItem] = (),
        due_date: date | None = None,
        payment_id: UUID | None = None,
        notes: str | None = None,
    ) -> Invoice:
        """A new ``DRAFT`` invoice."""
        return cls(
            id=id,
            booking_id=booking_id,
            guest_id=guest_id,
            currency=currency,
            status=InvoiceStatus.DRAFT,
            created_at=now,
            updated_at=now,
            line_items=_check_lines(line_items, currency),
            due_date=due_date,
            payment_id=payment_id,
            notes=_check_notes(notes),
        )

    # ------------------------------------------------------------------ totals
    @property
    def subtotal(self) -> Money:
        return Money(sum(i.amount for i in self.line_items), self.currency)

    @property
    def tax(self) -> Money:
        return Money(sum(i.tax for i in self.line_items), self.currency)

    @property
    def total(self) -> Money:
        return Money(sum(i.amount + i.tax for i in self.line_items), self.currency)

    @property
    def amount_due(self) -> Money:
        return Money(max(0, self.total.amount - self.amount_paid), self.currency)

    # ------------------------------------------------------------------ commands
    def _move(self, to: InvoiceStatus, now: datetime) -> None:
        check_transition(INVOICE_TRANSITIONS, "invoice", self.id, self.status, to)
        self.status = to
        self.updated_at = now

    def edit(
        self,
        *,
        now: datetime,
        line_items: Sequence[LineItem] | None = None,
        due_date: date | Unset | None = UNSET,
        notes: str | Unset | None = UNSET,
        payment_id: UUID | Unset | None = UNSET,
    ) -> None:
        """Change the content of a draft (``None`` for ``line_items`` keeps them)."""
        if self.status is not InvoiceStatus.DRAFT:
            raise InvoiceNotEditableError(invoice_id=self.id, status=self.status.value)
        items = _check_lines(line_items, self.currency) if line_items is not None else None
        if not isinstance(notes, Unset):
            _check_notes(notes)
        # Validate everything before changing anything: nothing is half-applied.
        if items is not None:
            self.line_items = items
        if not isinstance(due_date, Unset):
            self.due_date = due_date
        if not isinstance(notes, Unset):
            self.notes = notes
        if not isinstance(payment_id, Unset):
            self.payment_id = payment_id
        self.updated_at = now

    def issue(self, *, now: datetime, number: str, event_id: UUID) -> None:
        """``DRAFT -> OPEN`` with its number."""
        check_transition(INVOICE_TRANSITIONS, "invoice", self.id, self.status, InvoiceStatus.OPEN)
        if not self.line_items:
            raise ValidationError(field="line_items", reason="an invoice needs at least one line")
        self._move(InvoiceStatus.OPEN, now)
        self.number = number
        self.issued_at = now
        self.events.append(InvoiceIssued(event_id, now, snapshot(self)))

    def take_from_payment(self, *, available: int, now: datetime, event_id: UUID) -> int:
        """Apply up to ``available`` minor units of the linked payment to what is due, and
        move to ``PAID`` once the total is covered; how much was taken.

        Only an ``OPEN`` or ``UNCOLLECTIBLE`` invoice with a payment takes anything; taking
        nothing from a payment that has nothing left changes nothing.
        """
        if self.payment_id is None or self.status not in _PAYABLE:
            return 0
        taken = max(0, min(available, self.amount_due.amount))
        covered = self.amount_paid + taken >= self.total.amount
        if taken == 0 and not covered:
            return 0
        self.amount_applied += taken
        self.amount_paid += taken
        self.updated_at = now
        if covered:
            self._paid(now, event_id)
        return taken

    def mark_paid(self, *, now: datetime, event_id: UUID) -> None:
        """``OPEN | UNCOLLECTIBLE -> PAID`` by hand: what its payment did not cover was paid
        otherwise (``amount_applied`` stays what the payment gave)."""
        self._paid(now, event_id)

    def _paid(self, now: datetime, event_id: UUID) -> None:
        self._move(InvoiceStatus.PAID, now)
        self.amount_paid = self.total.amount
        self.paid_at = now
        self.events.append(InvoicePaid(event_id, now, snapshot(self)))

    def void(self, *, now: datetime, event_id: UUID) -> None:
        """``DRAFT | OPEN -> VOID``; what it took from its payment goes back to the payment."""
        self._move(InvoiceStatus.VOID, now)
        self.amount_paid -= self.amount_applied
        self.amount_applied = 0
        self.voided_at = now
        self.events.append(InvoiceVoided(event_id, now, snapshot(self)))

    def mark_uncollectible(self, *, now: datetime, event_id: UUID) -> None:
        """``OPEN -> UNCOLLECTIBLE``."""
        self._move(InvoiceStatus.UNCOLLECTIBLE, now)
        self.events.append(InvoiceMarkedUncollectible(event_id, now, snapshot(self)))


# ---------------------------------------------------------------------------- events
# Beside the aggregate whose snapshot they carry, so the two need no import of each other;
# payment_core.events gathers every event.


@attrs.frozen(slots=True)
class InvoiceEvent:
    """Something happened to an invoice; ``invoice`` is its snapshot at that moment."""

    type: ClassVar[str]
    event_id: UUID
    occurred_at: datetime
    invoice: Invoice = attrs.field(repr=False)

    @property
    def stream_id(self) -> UUID:
        return self.invoice.id


@attrs.frozen(slots=True)
class InvoiceIssued(InvoiceEvent):
    type: ClassVar[str] = "invoice.issued"


@attrs.frozen(slots=True)
class InvoicePaid(InvoiceEvent):
    type: ClassVar[str] = "invoice.paid"


@attrs.frozen(slots=True)
class InvoiceVoided(InvoiceEvent):
    type: ClassVar[str] = "invoice.voided"


@attrs.frozen(slots=True)
class InvoiceMarkedUncollectible(InvoiceEvent):
    type: ClassVar[str] = "invoice.marked_uncollectible"

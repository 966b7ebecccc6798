"""The invoice aggregate: line items, totals, numbering and its state machine.

``DRAFT -> OPEN -> PAID | VOID | UNCOLLECTIBLE``, ``DRAFT -> VOID``, ``UNCOLLECTIBLE -> PAID``.
Tax is rounded half-even per line in minor units and ``total = subtotal + tax``. A draft has no
number; issuing assigns the next number of a gap-free sequence per calendar year.

An invoice linked to a payment takes from it what the payment still has (the use cases say
how much): ``amount_applied`` counts it, ``amount_paid`` shows it, and the invoice is ``PAID``
once that covers its total. Marked ``PAID`` by hand, the rest counts as paid otherwise.

Credit notes against an ``OPEN`` or ``PAID`` invoice add up in ``amount_credited``, never
above its total; what is credited is no longer due.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from datetime import date, datetime
from enum import Enum, StrEnum
from typing import ClassVar, Final
from uuid import UUID

import attrs

from payment_core.errors import (
    CreditExceedsInvoiceError,
    InvalidTransitionError,
    InvoiceCreditedError,
    InvoiceNotEditableError,
    ValidationError,
)
from payment_core.model._base import check_transition, snapshot
from payment_core.model._invoice_lines import (
    MAX_LINE_ITEMS,
    LineItem,
    check_customer,
    check_lines,
    check_notes,
    format_invoice_number,
    parse_invoice_number,
)
from payment_core.model.customer import Customer
from payment_core.money import Currency, Money

__all__ = [
    "CREDITABLE",
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
#: The states in which a credit note may be issued against an invoice.
CREDITABLE: Final = frozenset({InvoiceStatus.OPEN, InvoiceStatus.PAID})


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
    customer: Customer | None = None
    #: Minor units paid: what it took from its payment, plus the rest when marked paid by hand.
    amount_paid: int = 0
    #: Minor units taken from ``payment_id``'s payment (never more than ``amount_paid``).
    amount_applied: int = 0
    #: Minor units credited by credit notes (never more than the total).
    amount_credited: int = 0
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
        customer: Customer | None = None,
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
            line_items=check_lines(line_items, currency),
            due_date=due_date,
            payment_id=payment_id,
            notes=check_notes(notes),
            customer=check_customer(customer),
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
        """What is neither paid nor credited."""
        due = self.total.amount - self.amount_paid - self.amount_credited
        return Money(max(0, due), self.currency)

    @property
    def creditable(self) -> int:
        """Minor units that credit notes may still credit: the total less what they did."""
        return self.total.amount - self.amount_credited

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
        customer: Customer | Unset | None = UNSET,
    ) -> None:
        """Change the content of a draft (``None`` for ``line_items`` keeps them)."""
        if self.status is not InvoiceStatus.DRAFT:
            raise InvoiceNotEditableError(invoice_id=self.id, status=self.status.value)
        items = check_lines(line_items, self.currency) if line_items is not None else None
        if not isinstance(notes, Unset):
            check_notes(notes)
        if not isinstance(customer, Unset):
            check_customer(customer)
        # Validate everything before changing anything: nothing is half-applied.
        if items is not None:
            self.line_items = items
        if not isinstance(due_date, Unset):
            self.due_date = due_date
        if not isinstance(notes, Unset):
            self.notes = notes
        if not isinstance(payment_id, Unset):
            self.payment_id = payment_id
        if not isinstance(customer, Unset):
            self.customer = customer
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
        covered = self.amount_paid + taken >= self.creditable
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
        # Whatever was neither paid nor credited was paid otherwise.
        self.amount_paid = max(self.amount_paid, self.creditable)
        self.paid_at = now
        self.events.append(InvoicePaid(event_id, now, snapshot(self)))

    def void(self, *, now: datetime, event_id: UUID) -> None:
        """``DRAFT | OPEN -> VOID``; what it took from its payment goes back to the payment.

        Not once a credit note was issued against it: the note stands, and refers to it.
        """
        check_transition(INVOICE_TRANSITIONS, "invoice", self.id, self.status, InvoiceStatus.VOID)
        if self.amount_credited:
            raise InvoiceCreditedError(invoice_id=self.id, amount_credited=self.amount_credited)
        self._move(InvoiceStatus.VOID, now)
        self.amount_paid -= self.amount_applied
        self.amount_applied = 0
        self.voided_at = now
        self.events.append(InvoiceVoided(event_id, now, snapshot(self)))

    def mark_uncollectible(self, *, now: datetime, event_id: UUID) -> None:
        """``OPEN -> UNCOLLECTIBLE``."""
        self._move(InvoiceStatus.UNCOLLECTIBLE, now)
        self.events.append(InvoiceMarkedUncollectible(event_id, now, snapshot(self)))

    def credit(self, *, amount: int, now: datetime) -> None:
        """Count a credit note of ``amount`` against an ``OPEN`` or ``PAID`` invoice.

        Raises :class:`InvalidTransitionError` in any other state and
        :class:`CreditExceedsInvoiceError` when the credits would pass the total.
        """
        if self.status not in CREDITABLE:
            raise InvalidTransitionError(
                entity="invoice",
                entity_id=self.id,
                current=self.status.value,
                requested="CREDITED",
            )
        if type(amount) is not int or amount <= 0:
            raise ValidationError(field="amount", reason="must be a positive integer")
        if amount > self.creditable:
            raise CreditExceedsInvoiceError(
                invoice_id=self.id, requested=amount, creditable=self.creditable
            )
        self.amount_credited += amount
        self.updated_at = now


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

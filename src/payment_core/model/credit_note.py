"""The credit note aggregate: money credited against an issued invoice, numbered and final.

A credit note is issued once and never changes (a correction is another credit note, or a
new invoice). ``amount`` includes ``tax``, the invoice's tax share of it; numbers come from a
gap-free yearly sequence of their own, ``CN-2026-000001``.
"""

from __future__ import annotations

from datetime import datetime
from typing import ClassVar, Final
from uuid import UUID

import attrs

from payment_core.card_data import find_raw_card_data
from payment_core.errors import RawCardDataError, ValidationError
from payment_core.model._base import format_document_number, parse_document_number, snapshot
from payment_core.money import Money, round_half_even

__all__ = [
    "CREDIT_NOTE_REASONS",
    "MAX_MEMO",
    "CreditNote",
    "CreditNoteEvent",
    "CreditNoteIssued",
    "check_request",
    "credit_tax",
    "format_credit_note_number",
    "parse_credit_note_number",
]

#: Stripe's credit note reasons, and the refund reasons a credit note issued for a refund
#: carries over.
CREDIT_NOTE_REASONS: Final = frozenset(
    {
        "duplicate",
        "fraudulent",
        "order_change",
        "product_unsatisfactory",
        "requested_by_customer",
        "booking_cancelled",
        "other",
    }
)
MAX_MEMO: Final = 1_000


def format_credit_note_number(year: int, sequence: int) -> str:
    """``CN-2026-000001``."""
    return format_document_number("CN", year, sequence)


def parse_credit_note_number(number: str) -> tuple[int, int] | None:
    """The (year, sequence) of a well-formed number, else ``None``."""
    return parse_document_number("CN", number)


def credit_tax(*, invoice_total: int, invoice_tax: int, credited_before: int, amount: int) -> int:
    """The tax share of a credit of ``amount`` after ``credited_before`` was credited.

    ``round_half_even((credited_before + amount) * invoice_tax / invoice_total)`` less
    ``round_half_even(credited_before * invoice_tax / invoice_total)``: each note's tax is
    its share of the invoice's tax, rounded half-even, and rounding never adds up across
    notes, so the taxes of a fully credited invoice sum to exactly its tax. A first (or
    only) note's tax is ``round_half_even(amount * invoice_tax / invoice_total)``.
    """
    if invoice_total <= 0:
        return 0
    after = round_half_even((credited_before + amount) * invoice_tax, invoice_total)
    return after - round_half_even(credited_before * invoice_tax, invoice_total)


def _check_text(field: str, value: str | None, limit: int) -> None:
    if value is None:
        return
    if not isinstance(value, str) or len(value) > limit:
        raise ValidationError(field=field, reason=f"must be a string of at most {limit} characters")
    if find_raw_card_data(value) is not None:
        raise RawCardDataError(field=field)


@attrs.define(slots=True, eq=False)
class CreditNote:
    """A credit against one invoice; ``refund_id`` names the refund it documents, if any."""

    id: UUID
    number: str
    invoice_id: UUID
    booking_id: UUID
    guest_id: UUID
    amount: Money
    tax: int
    created_at: datetime
    reason: str | None = None
    memo: str | None = None
    refund_id: UUID | None = None
    version: int = 0
    events: list[CreditNoteEvent] = attrs.field(factory=list, repr=False)

    @classmethod
    def issue(
        cls,
        *,
        id: UUID,
        number: str,
        invoice_id: UUID,
        booking_id: UUID,
        guest_id: UUID,
        amount: Money,
        tax: int,
        now: datetime,
        event_id: UUID,
        reason: str | None = None,
        memo: str | None = None,
        refund_id: UUID | None = None,
    ) -> CreditNote:
        """A new credit note with its ``credit_note.issued`` event."""
        check_request(amount.amount, reason, memo)
        if type(tax) is not int or not 0 <= tax <= amount.amount:
            raise ValidationError(field="tax", reason="must be from 0 to the amount")
        if parse_credit_note_number(number) is None:
            raise ValidationError(field="number", reason="must look like CN-2026-000001")
        note = cls(
            id=id,
            number=number,
            invoice_id=invoice_id,
            booking_id=booking_id,
            guest_id=guest_id,
            amount=amount,
            tax=tax,
            created_at=now,
            reason=reason,
            memo=memo,
            refund_id=refund_id,
        )
        note.events.append(CreditNoteIssued(event_id, now, snapshot(note)))
        return note

    @property
    def net(self) -> int:
        """``amount`` less ``tax``, in minor units."""
        return self.amount.amount - self.tax


def check_request(amount: object, reason: str | None, memo: str | None) -> None:
    """What a credit note request must be, whatever the invoice (before anything is read)."""
    if type(amount) is not int or amount <= 0:
        raise ValidationError(field="amount", reason="must be a positive integer")
    if reason is not None and reason not in CREDIT_NOTE_REASONS:
        raise ValidationError(
            field="reason", reason=f"must be one of {', '.join(sorted(CREDIT_NOTE_REASONS))}"
        )
    _check_text("memo", memo, MAX_MEMO)


# ---------------------------------------------------------------------------- events
# Beside the aggregate whose snapshot they carry; payment_core.events gathers every event.


@attrs.frozen(slots=True)
class CreditNoteEvent:
    """Something happened to a credit note; ``credit_note`` is its snapshot at that moment."""

    type: ClassVar[str]
    event_id: UUID
    occurred_at: datetime
    credit_note: CreditNote = attrs.field(repr=False)

    @property
    def stream_id(self) -> UUID:
        # A credit note belongs to its invoice's story: published in order with invoice.*.
        return self.credit_note.invoice_id


@attrs.frozen(slots=True)
class CreditNoteIssued(CreditNoteEvent):
    type: ClassVar[str] = "credit_note.issued"

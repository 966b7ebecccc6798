"""Credit notes: issued by hand against an ``OPEN`` or ``PAID`` invoice, or by a refund.

A credit note is issued in one transaction with everything it changes: the invoice's
``amount_credited`` (under the invoice's row lock, so concurrent credits never add up past its
total), the next number of the yearly ``CN-`` sequence (whose counter row is locked until
commit, so numbers stay gap-free), a ``CREDIT_NOTE_ISSUED`` billing record and the
``credit_note.issued`` event.

Locks are taken in the order the other use cases take them (the invoice's payment, then the
invoice, then the booking's billing chain), so none of them wait on each other in a cycle.

A refund that completes credits the ``PAID`` invoices its payment paid, in the transaction
that completes it (:func:`credit_refund`); docs/documents.md states the rule.
"""

from __future__ import annotations

from uuid import UUID

import attrs

from payment_core.errors import (
    ConcurrencyError,
    IdempotencyKeyReusedError,
    NotFoundError,
    ValidationError,
)
from payment_core.ids import id_for_request
from payment_core.model.billing import BillingRecordType
from payment_core.model.credit_note import (
    CreditNote,
    check_request,
    credit_tax,
    format_credit_note_number,
)
from payment_core.model.invoice import Invoice, InvoiceStatus
from payment_core.model.payment import Payment
from payment_core.model.refund import Refund, RefundStatus
from payment_core.money import Money
from payment_core.pagination import MAX_LIMIT, Page, PageRequest
from payment_core.ports import UnitOfWork
from payment_core.services._deps import Dependencies
from payment_core.services.billing import append_record

__all__ = ["CreateCreditNote", "CreditNoteService", "credit_refund", "issue_credit_note"]


@attrs.frozen(slots=True)
class CreateCreditNote:
    """A credit note by hand: ``amount`` in the invoice's minor units, tax included."""

    amount: int
    reason: str | None = None
    memo: str | None = None
    refund_id: UUID | None = None


async def issue_credit_note(
    deps: Dependencies,
    uow: UnitOfWork,
    invoice: Invoice,
    command: CreateCreditNote,
    *,
    credit_note_id: UUID | None = None,
) -> CreditNote:
    """Issue a credit note against ``invoice`` (locked by the caller) inside ``uow``.

    The invoice is checked (state, what is still creditable) before a number is taken, so a
    refused credit never burns one.
    """
    now = deps.clock.now()
    credited_before = invoice.amount_credited
    invoice.credit(amount=command.amount, now=now)
    tax = credit_tax(
        invoice_total=invoice.total.amount,
        invoice_tax=invoice.tax.amount,
        credited_before=credited_before,
        amount=command.amount,
    )
    sequence = await uow.credit_note_numbers.next(now.year)
    note = CreditNote.issue(
        id=credit_note_id or deps.ids.new_id(),
        number=format_credit_note_number(now.year, sequence),
        invoice_id=invoice.id,
        booking_id=invoice.booking_id,
        guest_id=invoice.guest_id,
        amount=Money(command.amount, invoice.currency),
        tax=tax,
        now=now,
        event_id=deps.ids.new_id(),
        reason=command.reason,
        memo=command.memo,
        refund_id=command.refund_id,
    )
    await uow.invoices.update(invoice)
    await uow.credit_notes.add(note)
    await append_record(
        deps,
        uow,
        type=BillingRecordType.CREDIT_NOTE_ISSUED,
        booking_id=invoice.booking_id,
        guest_id=invoice.guest_id,
        amount=note.amount,
        description=f"Credit note {note.number} for invoice {invoice.number}",
        payment_id=invoice.payment_id,
        refund_id=command.refund_id,
        invoice_id=invoice.id,
    )
    return note


async def credit_refund(
    deps: Dependencies, uow: UnitOfWork, refund: Refund, payment: Payment
) -> list[CreditNote]:
    """Issue the credit notes of a refund that is completing, inside its transaction.

    ``payment`` (the refund's) is locked by the caller. The refunded amount is credited to
    the payment's ``PAID`` invoices, oldest first, each up to what the payment paid of it
    and refunds did not credit yet (``amount_applied``), and up to what is still creditable
    on it; what is left credits nothing (the payment held money no invoice took). A refund
    gets its credit notes once: those it has already are counted, never issued again.
    """
    already = await uow.credit_notes.list_by_refund(refund.id)
    credited = {note.invoice_id for note in already}
    left = refund.amount.amount - sum(note.amount.amount for note in already)
    notes: list[CreditNote] = []
    for peek in await uow.invoices.list_paid_from(payment.id):
        if left <= 0:
            break
        if (
            peek.status is not InvoiceStatus.PAID
            or peek.id in credited
            or peek.booking_id != payment.booking_id
            or peek.currency != refund.amount.currency
        ):
            continue
        invoice = await uow.invoices.get(peek.id, for_update=True)
        if invoice is None or invoice.status is not InvoiceStatus.PAID:
            continue
        covered = invoice.amount_applied - await uow.credit_notes.refund_credited(invoice.id)
        share = min(left, covered, invoice.creditable)
        if share <= 0:
            continue
        command = CreateCreditNote(
            amount=share,
            reason=refund.reason,
            memo=f"Refund {refund.reference}",
            refund_id=refund.id,
        )
        notes.append(await issue_credit_note(deps, uow, invoice, command))
        left -= share
    return notes


def _same_request(made: CreditNote, invoice_id: UUID, command: CreateCreditNote) -> bool:
    return (made.invoice_id, made.amount.amount, made.reason, made.memo, made.refund_id) == (
        invoice_id,
        command.amount,
        command.reason,
        command.memo,
        command.refund_id,
    )


class CreditNoteService:
    """Issue and read credit notes."""

    def __init__(self, deps: Dependencies) -> None:
        self._deps = deps

    # ------------------------------------------------------------------ queries
    async def get(self, credit_note_id: UUID) -> CreditNote:
        async with self._deps.uow() as uow:
            note = await uow.credit_notes.get(credit_note_id)
        if note is None:
            raise NotFoundError(entity="credit note", key=str(credit_note_id))
        return note

    async def list_by_invoice(self, invoice_id: UUID, page: PageRequest) -> Page[CreditNote]:
        """An invoice's credit notes, oldest first (``NotFoundError`` for no such invoice)."""
        async with self._deps.uow() as uow:
            if await uow.invoices.get(invoice_id) is None:
                raise NotFoundError(entity="invoice", key=str(invoice_id))
            return await uow.credit_notes.list_by_invoice(invoice_id, page)

    async def all_for_invoice(self, invoice_id: UUID) -> list[CreditNote]:
        """Every credit note of an invoice, oldest first (what its PDF lists)."""
        notes: list[CreditNote] = []
        page = PageRequest(limit=MAX_LIMIT)
        async with self._deps.uow() as uow:
            while True:
                found = await uow.credit_notes.list_by_invoice(invoice_id, page)
                notes.extend(found.items)
                if found.next_cursor is None:
                    return notes
                page = PageRequest.parse(limit=MAX_LIMIT, cursor=found.next_cursor)

    # ------------------------------------------------------------------ commands
    async def create(
        self,
        invoice_id: UUID,
        command: CreateCreditNote,
        *,
        idempotency_key: str | None = None,
    ) -> CreditNote:
        """Credit ``command.amount`` against an ``OPEN`` or ``PAID`` invoice.

        Raises :class:`~payment_core.errors.InvalidTransitionError` in another state,
        :class:`~payment_core.errors.CreditExceedsInvoiceError` past the invoice's total. With
        ``refund_id`` the note documents that refund: a ``COMPLETED`` refund of the invoice's
        payment, credited no further than its amount, once per invoice. With
        ``idempotency_key`` its id is derived from the key, and a retry returns the note the
        first call made.
        """
        check_request(command.amount, command.reason, command.memo)
        deps = self._deps
        made_id = (
            None
            if idempotency_key is None
            else id_for_request("credit_note.create", idempotency_key)
        )

        async def run() -> CreditNote:
            async with deps.uow() as uow:
                if made_id is not None:
                    made = await uow.credit_notes.get(made_id)
                    if made is not None:
                        if not _same_request(made, invoice_id, command):
                            raise IdempotencyKeyReusedError(key=idempotency_key or "")
                        return made
                peek = await uow.invoices.get(invoice_id)
                if peek is None:
                    raise NotFoundError(entity="invoice", key=str(invoice_id))
                # Its payment first, then the invoice: the order of every use case that
                # locks both (paying invoices, completing refunds).
                if peek.payment_id is not None:
                    await uow.payments.get(peek.payment_id, for_update=True)
                invoice = await uow.invoices.get(invoice_id, for_update=True)
                assert invoice is not None, "invoices are never deleted"
                if invoice.payment_id != peek.payment_id:
                    raise ConcurrencyError(entity="invoice", entity_id=invoice_id)
                if command.refund_id is not None:
                    await self._check_refund(uow, invoice, command)
                note = await issue_credit_note(deps, uow, invoice, command, credit_note_id=made_id)
                await uow.commit()
                return note

        return await deps.retrying(run)

    async def _check_refund(
        self, uow: UnitOfWork, invoice: Invoice, command: CreateCreditNote
    ) -> None:
        refund_id = command.refund_id
        assert refund_id is not None
        refund = await uow.refunds.get(refund_id)
        if refund is None:
            raise ValidationError(field="refund_id", reason="no such refund")
        if refund.payment_id != invoice.payment_id:
            raise ValidationError(
                field="refund_id", reason="the refund is not of the invoice's payment"
            )
        if refund.status is not RefundStatus.COMPLETED:
            raise ValidationError(field="refund_id", reason="the refund has not completed")
        notes = await uow.credit_notes.list_by_refund(refund_id)
        if any(note.invoice_id == invoice.id for note in notes):
            raise ValidationError(
                field="refund_id", reason="the invoice has a credit note for this refund already"
            )
        uncredited = refund.amount.amount - sum(note.amount.amount for note in notes)
        if command.amount > uncredited:
            raise ValidationError(
                field="amount",
                reason=f"more than the {uncredited} of the refund that is not credited yet",
            )

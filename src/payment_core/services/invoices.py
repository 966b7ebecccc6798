"""Invoice use cases: drafts, edits, issuing with gap-free yearly numbers, void, paid.

An invoice pays with its payment (``pay_invoices``): a ``COMPLETED`` payment of the same
booking and currency gives what it still holds, its amount less what was refunded or is being
refunded and less what it already gave other invoices. The payment's row lock is held while
that is worked out and taken, so two invoices never both take the same money.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import date
from uuid import UUID

import attrs

from payment_core.errors import (
    ConcurrencyError,
    IdempotencyKeyReusedError,
    InvoicePaymentMismatchError,
    NotFoundError,
    ValidationError,
)
from payment_core.ids import id_for_request
from payment_core.model.billing import BillingRecordType
from payment_core.model.invoice import (
    UNSET,
    Invoice,
    InvoiceStatus,
    LineItem,
    Unset,
    format_invoice_number,
    parse_invoice_number,
)
from payment_core.model.payment import Payment, PaymentStatus
from payment_core.money import Currency
from payment_core.pagination import Page, PageRequest
from payment_core.ports import UnitOfWork
from payment_core.services._deps import Dependencies
from payment_core.services._reads import INVOICES, read
from payment_core.services.billing import append_record

__all__ = ["CreateInvoice", "InvoiceService", "UpdateInvoice", "pay_invoices"]

#: The moves in which an invoice may take money from its payment.
_TAKES = frozenset({InvoiceStatus.OPEN, InvoiceStatus.PAID})


async def pay_invoices(
    deps: Dependencies, uow: UnitOfWork, payment: Payment, invoices: Sequence[Invoice]
) -> list[Invoice]:
    """Pay ``invoices`` (linked to ``payment``), oldest first, from what ``payment`` still
    holds; the ones that changed, for the caller to save.

    ``payment`` must be locked in ``uow`` (``for_update``): the sum of what its invoices took
    is read under that lock. A payment that is not ``COMPLETED`` pays nothing, and an invoice
    of another booking or currency (linked before links were checked) takes nothing.
    """
    if payment.status is not PaymentStatus.COMPLETED:
        return []
    # refundable: the amount less what was refunded and what refunds in flight hold.
    left = payment.refundable - await uow.invoices.amount_applied_from(payment.id)
    changed = []
    for invoice in sorted(invoices, key=lambda i: (i.created_at, i.id)):
        if (
            invoice.payment_id != payment.id
            or invoice.booking_id != payment.booking_id
            or invoice.currency != payment.amount.currency
        ):
            continue
        before = invoice.status, invoice.amount_paid
        left -= invoice.take_from_payment(
            available=left, now=deps.clock.now(), event_id=deps.ids.new_id()
        )
        if (invoice.status, invoice.amount_paid) != before:
            changed.append(invoice)
    return changed


@attrs.frozen(slots=True)
class CreateInvoice:
    booking_id: UUID
    guest_id: UUID
    currency: str
    line_items: Sequence[LineItem] = ()
    due_date: date | None = None
    payment_id: UUID | None = None
    notes: str | None = None


@attrs.frozen(slots=True)
class UpdateInvoice:
    """A PATCH: content changes (drafts only) and/or a status to move to."""

    line_items: Sequence[LineItem] | None = None
    due_date: date | Unset | None = UNSET
    notes: str | Unset | None = UNSET
    payment_id: UUID | Unset | None = UNSET
    status: str | None = None

    @property
    def changes_content(self) -> bool:
        return (
            self.line_items is not None
            or not isinstance(self.due_date, Unset)
            or not isinstance(self.notes, Unset)
            or not isinstance(self.payment_id, Unset)
        )


class InvoiceService:
    """Create, edit, issue, void, pay and read invoices."""

    def __init__(self, deps: Dependencies) -> None:
        self._deps = deps

    async def _check_payment(self, uow: UnitOfWork, invoice: Invoice) -> None:
        if invoice.payment_id is None:
            return
        payment = await uow.payments.get(invoice.payment_id)
        if payment is None:
            raise ValidationError(field="payment_id", reason="no such payment")
        if payment.booking_id != invoice.booking_id:
            raise InvoicePaymentMismatchError(
                field="payment_id", reason="the payment is for another booking"
            )
        if payment.amount.currency != invoice.currency:
            raise InvoicePaymentMismatchError(
                field="payment_id", reason="the payment is in another currency"
            )

    # ------------------------------------------------------------------ queries
    async def get(self, invoice_id: UUID) -> Invoice:
        return await INVOICES.get(self._deps, invoice_id)

    async def get_by_number(self, number: str) -> Invoice:
        if parse_invoice_number(number) is None:
            raise NotFoundError(entity="invoice", key=number)
        return await INVOICES.find(
            self._deps, number, lambda uow: uow.invoices.get_by_number(number)
        )

    async def list_by_booking(self, booking_id: UUID, page: PageRequest) -> Page[Invoice]:
        return await read(self._deps, lambda uow: uow.invoices.list_by_booking(booking_id, page))

    # ------------------------------------------------------------------ commands
    async def create(
        self, command: CreateInvoice, *, idempotency_key: str | None = None
    ) -> Invoice:
        """A new ``DRAFT``.

        With ``idempotency_key`` its id is derived from the key
        (:func:`~payment_core.ids.id_for_request`): a retry under the same key returns the
        invoice the first call made; the same key for another booking, guest or currency
        raises :class:`~payment_core.errors.IdempotencyKeyReusedError`.
        """
        deps = self._deps
        invoice = Invoice.draft(
            id=deps.ids.new_id()
            if idempotency_key is None
            else id_for_request("invoice.create", idempotency_key),
            booking_id=command.booking_id,
            guest_id=command.guest_id,
            currency=Currency.of(command.currency),
            now=deps.clock.now(),
            line_items=command.line_items,
            due_date=command.due_date,
            payment_id=command.payment_id,
            notes=command.notes,
        )

        async def run() -> Invoice:
            async with deps.uow() as uow:
                if idempotency_key is not None:
                    # Looked for first, before any check that what it made could now fail.
                    made = await uow.invoices.get(invoice.id)
                    if made is not None:
                        if (made.booking_id, made.guest_id, made.currency) != (
                            invoice.booking_id,
                            invoice.guest_id,
                            invoice.currency,
                        ):
                            raise IdempotencyKeyReusedError(key=idempotency_key)
                        return made
                await self._check_payment(uow, invoice)
                await uow.invoices.add(invoice)
                await uow.commit()
            return invoice

        # Under one key twice at once, the second one's insert conflicts and, run again,
        # finds the first one's invoice.
        return await deps.retrying(run)

    async def update(self, invoice_id: UUID, patch: UpdateInvoice) -> Invoice:
        """Edit a draft and/or move the invoice to ``patch.status``, in one transaction."""
        target = None
        if patch.status is not None:
            try:
                target = InvoiceStatus(patch.status)
            except ValueError:
                raise ValidationError(
                    field="status", reason="must be one of OPEN, VOID, PAID, UNCOLLECTIBLE"
                ) from None
            if target is InvoiceStatus.DRAFT:
                raise ValidationError(field="status", reason="an invoice cannot return to DRAFT")
        deps = self._deps

        async def run() -> Invoice:
            async with deps.uow() as uow:
                payment = await self._lock_payment(uow, invoice_id, patch, target)
                invoice = await INVOICES.require(uow, invoice_id, lock=True)
                if patch.changes_content:
                    invoice.edit(
                        now=deps.clock.now(),
                        line_items=patch.line_items,
                        due_date=patch.due_date,
                        notes=patch.notes,
                        payment_id=patch.payment_id,
                    )
                    await self._check_payment(uow, invoice)
                if target is not None and target is not invoice.status:
                    if target in _TAKES and invoice.payment_id != (payment.id if payment else None):
                        # Relinked between the peek and the lock: start again.
                        raise ConcurrencyError(entity="invoice", entity_id=invoice_id)
                    await self._move(uow, invoice, target, payment)
                elif target is not None:
                    # Asking for the state it is already in changes nothing (idempotent PATCH).
                    pass
                await uow.invoices.update(invoice)
                await uow.commit()
                return invoice

        return await deps.retrying(run)

    async def issue(self, invoice_id: UUID) -> Invoice:
        return await self.update(invoice_id, UpdateInvoice(status=InvoiceStatus.OPEN.value))

    async def void(self, invoice_id: UUID) -> Invoice:
        return await self.update(invoice_id, UpdateInvoice(status=InvoiceStatus.VOID.value))

    async def mark_paid(self, invoice_id: UUID) -> Invoice:
        return await self.update(invoice_id, UpdateInvoice(status=InvoiceStatus.PAID.value))

    async def mark_uncollectible(self, invoice_id: UUID) -> Invoice:
        return await self.update(
            invoice_id, UpdateInvoice(status=InvoiceStatus.UNCOLLECTIBLE.value)
        )

    async def _lock_payment(
        self,
        uow: UnitOfWork,
        invoice_id: UUID,
        patch: UpdateInvoice,
        target: InvoiceStatus | None,
    ) -> Payment | None:
        """The payment this move may take money from, locked before the invoice is.

        Completing a payment locks it and then updates its invoices; locking in the same order
        here means the two never wait on each other in a cycle.
        """
        if target not in _TAKES:
            return None
        peek = await INVOICES.require(uow, invoice_id)
        payment_id = peek.payment_id if isinstance(patch.payment_id, Unset) else patch.payment_id
        if payment_id is None:
            return None
        return await uow.payments.get(payment_id, for_update=True)

    async def _move(
        self, uow: UnitOfWork, invoice: Invoice, target: InvoiceStatus, payment: Payment | None
    ) -> None:
        deps = self._deps
        now = deps.clock.now()
        if target is InvoiceStatus.OPEN:
            # Validate the move before taking a number: a failed issue must not burn one.
            if invoice.status is InvoiceStatus.DRAFT and invoice.line_items:
                sequence = await uow.invoice_numbers.next(now.year)
                number = format_invoice_number(now.year, sequence)
            else:
                number = ""
            invoice.issue(now=now, number=number, event_id=deps.ids.new_id())
            await self._record(uow, invoice, BillingRecordType.INVOICE_ISSUED, "")
            if payment is not None:
                await pay_invoices(deps, uow, payment, [invoice])
        elif target is InvoiceStatus.VOID:
            was_issued = invoice.status is not InvoiceStatus.DRAFT
            invoice.void(now=now, event_id=deps.ids.new_id())
            if was_issued:
                await self._record(uow, invoice, BillingRecordType.INVOICE_VOIDED, " voided")
        elif target is InvoiceStatus.PAID:
            # What its payment still holds first; whatever that leaves was paid otherwise.
            if payment is not None:
                await pay_invoices(deps, uow, payment, [invoice])
            if invoice.status is not InvoiceStatus.PAID:
                invoice.mark_paid(now=now, event_id=deps.ids.new_id())
        else:
            invoice.mark_uncollectible(now=now, event_id=deps.ids.new_id())

    async def _record(
        self, uow: UnitOfWork, invoice: Invoice, kind: BillingRecordType, suffix: str
    ) -> None:
        """The invoice's line in its booking's audit trail (none for a zero total)."""
        if invoice.total.is_positive:
            await append_record(
                self._deps,
                uow,
                type=kind,
                booking_id=invoice.booking_id,
                guest_id=invoice.guest_id,
                amount=invoice.total,
                description=f"Invoice {invoice.number}{suffix}",
                payment_id=invoice.payment_id,
                invoice_id=invoice.id,
            )

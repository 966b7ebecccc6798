"""Invoice use cases: drafts, edits, issuing with gap-free yearly numbers, void, paid."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import date
from uuid import UUID

import attrs

from payment_core.errors import IdempotencyKeyReusedError, NotFoundError, ValidationError
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
from payment_core.model.payment import PaymentStatus
from payment_core.money import Currency
from payment_core.pagination import Page, PageRequest
from payment_core.ports import UnitOfWork
from payment_core.services._deps import Dependencies
from payment_core.services.billing import append_record

__all__ = ["CreateInvoice", "InvoiceService", "UpdateInvoice"]


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

    async def _require(self, uow: UnitOfWork, invoice_id: UUID, *, lock: bool = False) -> Invoice:
        invoice = await uow.invoices.get(invoice_id, for_update=lock)
        if invoice is None:
            raise NotFoundError(entity="invoice", key=str(invoice_id))
        return invoice

    async def _check_payment(self, uow: UnitOfWork, invoice: Invoice) -> None:
        if invoice.payment_id is None:
            return
        payment = await uow.payments.get(invoice.payment_id)
        if payment is None:
            raise ValidationError(field="payment_id", reason="no such payment")
        if payment.amount.currency != invoice.currency:
            raise ValidationError(field="payment_id", reason="the payment is in another currency")

    # ------------------------------------------------------------------ queries
    async def get(self, invoice_id: UUID) -> Invoice:
        async with self._deps.uow() as uow:
            return await self._require(uow, invoice_id)

    async def get_by_number(self, number: str) -> Invoice:
        if parse_invoice_number(number) is None:
            raise NotFoundError(entity="invoice", key=number)
        async with self._deps.uow() as uow:
            invoice = await uow.invoices.get_by_number(number)
        if invoice is None:
            raise NotFoundError(entity="invoice", key=number)
        return invoice

    async def list_by_booking(self, booking_id: UUID, page: PageRequest) -> Page[Invoice]:
        async with self._deps.uow() as uow:
            return await uow.invoices.list_by_booking(booking_id, page)

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
                invoice = await self._require(uow, invoice_id, lock=True)
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
                    await self._move(uow, invoice, target)
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

    async def _move(self, uow: UnitOfWork, invoice: Invoice, target: InvoiceStatus) -> None:
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
            if invoice.payment_id is not None:
                payment = await uow.payments.get(invoice.payment_id)
                if payment is not None and payment.status is PaymentStatus.COMPLETED:
                    invoice.mark_paid(now=now, event_id=deps.ids.new_id())
        elif target is InvoiceStatus.VOID:
            was_issued = invoice.status is not InvoiceStatus.DRAFT
            invoice.void(now=now, event_id=deps.ids.new_id())
            if was_issued:
                await self._record(uow, invoice, BillingRecordType.INVOICE_VOIDED, " voided")
        elif target is InvoiceStatus.PAID:
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

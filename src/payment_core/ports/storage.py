"""Storage: the repositories, the unit of work that spans them, the consumed-events inbox, the
booking locks and the stored webhooks; what the use cases read and write through."""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable, Sequence
from datetime import datetime
from types import TracebackType
from typing import Protocol, Self
from uuid import UUID

import attrs

from payment_core.model.billing import BillingRecord
from payment_core.model.credit_note import CreditNote
from payment_core.model.invoice import Invoice
from payment_core.model.payment import Payment
from payment_core.model.payment_method import PaymentMethod
from payment_core.model.refund import Refund
from payment_core.pagination import Page, PageRequest
from payment_core.ports._disputes import DisputeRepository
from payment_core.ports._plan_storage import PaymentPlanRepository

__all__ = [
    "BillingRepository",
    "BookingLocks",
    "CreditNoteNumberAllocator",
    "CreditNoteRepository",
    "Inbox",
    "InvoiceNumberAllocator",
    "InvoiceRepository",
    "PaymentMethodRepository",
    "PaymentPlanRepository",
    "PaymentRepository",
    "RefundRepository",
    "StoredWebhook",
    "UnitOfWork",
    "UnitOfWorkFactory",
    "WebhookStore",
]


class PaymentRepository(Protocol):
    """Payments. ``update`` is optimistic: it fails with ``ConcurrencyError`` on a stale version."""

    async def add(self, payment: Payment) -> None:
        """Insert a new payment (its events are collected when the unit of work commits)."""
        ...

    async def get(self, payment_id: UUID, *, for_update: bool = False) -> Payment | None:
        """The payment, locked until commit when ``for_update`` (where the database can)."""
        ...

    async def get_by_reference(self, reference: str) -> Payment | None:
        """The payment with this public reference."""
        ...

    async def get_by_provider_id(self, provider: str, provider_payment_id: str) -> Payment | None:
        """The payment the provider knows by this id."""
        ...

    async def update(self, payment: Payment) -> None:
        """Save changes; raise ``ConcurrencyError`` if someone else saved it since we read it."""
        ...

    async def list_by_booking(self, booking_id: UUID, page: PageRequest) -> Page[Payment]:
        """A booking's payments, oldest first."""
        ...

    async def list_by_guest(self, guest_id: UUID, page: PageRequest) -> Page[Payment]:
        """A guest's payments, oldest first."""
        ...

    async def list_due_for_reconciliation(self, now: datetime, limit: int) -> Sequence[Payment]:
        """Payments waiting for the provider's answer (``PROCESSING``, or ``AUTHORIZED`` with a
        capture in flight) whose ``reconcile_at`` has come, oldest due first."""
        ...

    async def list_holds_to_warn(self, before: datetime, limit: int) -> Sequence[Payment]:
        """``AUTHORIZED`` payments not warned yet whose hold expires at or before ``before``
        (and no capture in flight), soonest first. Served by an index, never a scan."""
        ...

    async def list_holds_expired(self, now: datetime, limit: int) -> Sequence[Payment]:
        """``AUTHORIZED`` payments whose hold expired at or before ``now`` (and no capture in
        flight), soonest first. Served by an index, never a scan."""
        ...


class PaymentMethodRepository(Protocol):
    """Saved payment methods; ``update`` is optimistic. The provider's token and customer id
    are stored encrypted."""

    async def add(self, method: PaymentMethod) -> None:
        """Insert a new method."""
        ...

    async def get(
        self, payment_method_id: UUID, *, for_update: bool = False
    ) -> PaymentMethod | None:
        """The method, locked until commit when ``for_update``."""
        ...

    async def update(self, method: PaymentMethod) -> None:
        """Save changes; raise ``ConcurrencyError`` on a stale version."""
        ...

    async def list_by_guest(self, guest_id: UUID, page: PageRequest) -> Page[PaymentMethod]:
        """A guest's methods (``ACTIVE`` and ``DETACHED``), oldest first."""
        ...

    async def customer_of(self, guest_id: UUID, provider: str) -> str | None:
        """The provider customer id of the guest's latest method there that has one: new
        cards of the guest are saved to the same customer."""
        ...


class RefundRepository(Protocol):
    """Refunds. ``update`` is optimistic, like payments'."""

    async def add(self, refund: Refund) -> None:
        """Insert a new refund."""
        ...

    async def get(self, refund_id: UUID, *, for_update: bool = False) -> Refund | None:
        """The refund, locked until commit when ``for_update``."""
        ...

    async def get_by_reference(self, reference: str) -> Refund | None:
        """The refund with this public reference."""
        ...

    async def get_by_provider_id(self, provider: str, provider_refund_id: str) -> Refund | None:
        """The refund the provider knows by this id."""
        ...

    async def update(self, refund: Refund) -> None:
        """Save changes; raise ``ConcurrencyError`` on a stale version."""
        ...

    async def list_by_payment(self, payment_id: UUID, page: PageRequest) -> Page[Refund]:
        """A payment's refunds, oldest first."""
        ...

    async def list_by_booking(self, booking_id: UUID) -> Sequence[Refund]:
        """Every refund of a booking (a booking has few)."""
        ...

    async def list_due(self, now: datetime, limit: int) -> Sequence[Refund]:
        """``PENDING`` refunds whose ``next_retry_at`` has come, oldest due first."""
        ...

    async def list_stuck(
        self, before: datetime, limit: int, *, due_by: datetime | None = None
    ) -> Sequence[Refund]:
        """``PROCESSING`` refunds last changed before ``before`` (an attempt that died).

        With ``due_by``, only those whose next check (``next_retry_at``) is unset or not later.
        """
        ...


class InvoiceRepository(Protocol):
    """Invoices. ``update`` is optimistic."""

    async def add(self, invoice: Invoice) -> None:
        """Insert a new invoice."""
        ...

    async def get(self, invoice_id: UUID, *, for_update: bool = False) -> Invoice | None:
        """The invoice, locked until commit when ``for_update``."""
        ...

    async def get_by_number(self, number: str) -> Invoice | None:
        """The issued invoice with this number."""
        ...

    async def update(self, invoice: Invoice) -> None:
        """Save changes; raise ``ConcurrencyError`` on a stale version."""
        ...

    async def list_by_booking(self, booking_id: UUID, page: PageRequest) -> Page[Invoice]:
        """A booking's invoices, oldest first."""
        ...

    async def list_open_for_payment(self, payment_id: UUID) -> Sequence[Invoice]:
        """``OPEN`` and ``UNCOLLECTIBLE`` invoices linked to a payment (paid when it completes)."""
        ...

    async def amount_applied_from(self, payment_id: UUID) -> int:
        """The sum of ``amount_applied`` over the invoices linked to a payment: what it paid."""
        ...

    async def list_paid_from(self, payment_id: UUID) -> Sequence[Invoice]:
        """The invoices a payment paid something of (``amount_applied > 0``), in any state,
        oldest first (what a refund of the payment may credit)."""
        ...


class CreditNoteRepository(Protocol):
    """Credit notes: added once, never changed.

    ``add`` refuses a second credit note of the same refund on the same invoice
    (``ConcurrencyError``, a unique index on SQL).
    """

    async def add(self, credit_note: CreditNote) -> None:
        """Insert a new credit note."""
        ...

    async def get(self, credit_note_id: UUID) -> CreditNote | None:
        """The credit note with this id."""
        ...

    async def list_by_invoice(self, invoice_id: UUID, page: PageRequest) -> Page[CreditNote]:
        """An invoice's credit notes, oldest first."""
        ...

    async def list_by_refund(self, refund_id: UUID) -> Sequence[CreditNote]:
        """The credit notes that document a refund (one per invoice at most), oldest first."""
        ...

    async def refund_credited(self, invoice_id: UUID) -> int:
        """The sum of the amounts of an invoice's credit notes that name a refund."""
        ...


class BillingRepository(Protocol):
    """The append-only audit trail. There is no update and no delete."""

    async def head(self, booking_id: UUID) -> BillingRecord | None:
        """The last record of a booking's chain, locked against concurrent appends until commit."""
        ...

    async def add(self, record: BillingRecord) -> None:
        """Append a record; raise ``ConcurrencyError`` if its sequence is taken (a fork)."""
        ...

    async def list_by_booking(self, booking_id: UUID, page: PageRequest) -> Page[BillingRecord]:
        """A booking's records, oldest first."""
        ...

    async def list_by_guest(self, guest_id: UUID, page: PageRequest) -> Page[BillingRecord]:
        """A guest's records, oldest first."""
        ...

    def stream_chains(self, *, batch_size: int = 1000) -> AsyncIterator[BillingRecord]:
        """Every record in ``(booking_id, sequence)`` order, for verification."""
        ...


class InvoiceNumberAllocator(Protocol):
    """Gap-free invoice numbers: the counter moves in the issuing transaction."""

    async def next(self, year: int) -> int:
        """The next sequence number of ``year`` (1, 2, ...); rolled back with the transaction."""
        ...


class CreditNoteNumberAllocator(Protocol):
    """Gap-free credit note numbers, a sequence of their own, as invoice numbers are made."""

    async def next(self, year: int) -> int:
        """The next sequence number of ``year`` (1, 2, ...); rolled back with the transaction."""
        ...


class Inbox(Protocol):
    """Ids of consumed events, written in the transaction that handles them."""

    async def add(self, consumer: str, event_id: str) -> bool:
        """Record ``event_id`` as handled; ``False`` if it was handled before."""
        ...


class BookingLocks(Protocol):
    """A row per booking whose events were handled, locked first by each of its handlers.

    Locking it serialises a booking's ``booking.created`` and ``booking.cancelled`` across
    workers, and it remembers the cancellation, so that a ``booking.created`` handled after its
    booking's ``booking.cancelled`` (redelivered, or overtaken on another worker) creates no
    payment.
    """

    async def lock(self, booking_id: UUID) -> datetime | None:
        """Lock the booking until the transaction ends (recording it the first time); when it
        was cancelled, or ``None``."""
        ...

    async def mark_cancelled(self, booking_id: UUID, at: datetime) -> None:
        """Lock the booking as :meth:`lock` does and record that it is cancelled (the first
        time stays)."""
        ...


@attrs.frozen(slots=True)
class StoredWebhook:
    """A provider webhook as it arrived, kept so that it can be replayed."""

    id: UUID
    provider: str
    event_id: str
    body: bytes = attrs.field(repr=False)
    received_at: datetime
    processed_at: datetime | None = None


class WebhookStore(Protocol):
    """Stored provider webhooks, deduplicated by ``(provider, event_id)``."""

    async def add(self, webhook: StoredWebhook) -> StoredWebhook:
        """Store it; when that event id is known already, return the stored one unchanged."""
        ...

    async def get(self, webhook_id: UUID) -> StoredWebhook | None:
        """A stored webhook by our id."""
        ...

    async def mark_processed(self, webhook_id: UUID, at: datetime) -> None:
        """Note that its effects committed."""
        ...


class UnitOfWork(Protocol):
    """One database transaction over every repository.

    On ``commit`` it collects the pending events of every aggregate passed to a repository's
    ``add`` or ``update`` and writes them to the outbox in the same transaction. Leaving the
    ``async with`` block without ``commit`` rolls everything back.
    """

    # Read-only properties, not plain attributes: a protocol attribute would be invariant, so
    # an adapter whose ``payments`` is its own repository class could not match it.
    @property
    def payments(self) -> PaymentRepository: ...

    @property
    def refunds(self) -> RefundRepository: ...

    @property
    def payment_methods(self) -> PaymentMethodRepository: ...

    @property
    def payment_plans(self) -> PaymentPlanRepository: ...

    @property
    def invoices(self) -> InvoiceRepository: ...

    @property
    def disputes(self) -> DisputeRepository: ...

    @property
    def billing(self) -> BillingRepository: ...

    @property
    def invoice_numbers(self) -> InvoiceNumberAllocator: ...

    @property
    def credit_notes(self) -> CreditNoteRepository: ...

    @property
    def credit_note_numbers(self) -> CreditNoteNumberAllocator: ...

    @property
    def inbox(self) -> Inbox: ...

    @property
    def bookings(self) -> BookingLocks: ...

    @property
    def webhooks(self) -> WebhookStore: ...

    async def __aenter__(self) -> Self: ...

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None: ...

    async def commit(self) -> None:
        """Write the collected events to the outbox and commit."""
        ...

    async def rollback(self) -> None:
        """Discard everything done in this unit of work."""
        ...


UnitOfWorkFactory = Callable[[], UnitOfWork]

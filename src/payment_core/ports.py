"""Ports: what the core needs from the world, as ``typing.Protocol``s.

Adapters implement these structurally (no base classes to inherit): SQLAlchemy repositories and
unit of work, provider adapters (Stripe, PayPal, Square and the fake), event publishers, a clock,
id generation and a field cipher. ``payment_core.testing`` has an in-memory implementation of
every one of them.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable, Mapping, Sequence
from datetime import datetime, timedelta
from enum import StrEnum
from types import TracebackType
from typing import Protocol, Self
from uuid import UUID

import attrs

from payment_core.events import DomainEvent
from payment_core.model.billing import BillingRecord
from payment_core.model.credit_note import CreditNote
from payment_core.model.invoice import Invoice
from payment_core.model.payment import Card, NextAction, Payment
from payment_core.model.refund import Refund
from payment_core.money import Money
from payment_core.outside_text import screen_code, screen_text
from payment_core.pagination import Page, PageRequest

__all__ = [
    "BillingRepository",
    "BookingLocks",
    "Cipher",
    "Clock",
    "ConfirmPaymentRequest",
    "CreatePaymentRequest",
    "CreditNoteNumberAllocator",
    "CreditNoteRepository",
    "EventPublisher",
    "IdempotencyClaim",
    "IdempotencyStore",
    "Ids",
    "Inbox",
    "InvoiceNumberAllocator",
    "InvoiceRepository",
    "PaymentProvider",
    "PaymentRepository",
    "ProviderPayment",
    "ProviderPaymentStatus",
    "ProviderRefund",
    "ProviderRefundStatus",
    "RefundRepository",
    "RefundRequest",
    "RetrievePaymentRequest",
    "RetrieveRefundRequest",
    "StoredResponse",
    "StoredWebhook",
    "UnitOfWork",
    "UnitOfWorkFactory",
    "WebhookEvent",
    "WebhookKind",
    "WebhookStore",
]


# ====================================================================== infrastructure


class Clock(Protocol):
    """The time; injected so that tests and retries are deterministic."""

    def now(self) -> datetime:
        """The current time, timezone-aware UTC."""
        ...


class Ids(Protocol):
    """Identifier generation; injected so that tests can predict ids."""

    def new_id(self) -> UUID:
        """A new unique id for an aggregate, a record or an event."""
        ...

    def new_reference(self, prefix: str) -> str:
        """A new unguessable public reference (``pay_...``) with at least 128 random bits."""
        ...


class Cipher(Protocol):
    """Authenticated encryption of a field at rest, bound to where it is stored."""

    def encrypt(self, plaintext: bytes, *, associated_data: bytes) -> bytes:
        """Ciphertext (with key id and nonce), readable only with the same ``associated_data``."""
        ...

    def decrypt(self, ciphertext: bytes, *, associated_data: bytes) -> bytes:
        """The plaintext; raises if the ciphertext or ``associated_data`` was tampered with."""
        ...


class EventPublisher(Protocol):
    """Where committed domain events go (a broker, in-process subscribers, a recorder)."""

    async def publish(self, event: DomainEvent) -> None:
        """Deliver one event at least once; raise if it could not be delivered."""
        ...


# ====================================================================== repositories


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
        """``PROCESSING`` payments whose ``reconcile_at`` has come, oldest due first."""
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
    def invoices(self) -> InvoiceRepository: ...

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


# ====================================================================== idempotency


@attrs.frozen(slots=True)
class StoredResponse:
    """What the first request with an idempotency key answered."""

    status: int
    body: bytes = attrs.field(repr=False)
    content_type: str = "application/json"


@attrs.frozen(slots=True)
class IdempotencyClaim:
    """The result of claiming a key: ours to run (``replay is None``) or a stored response."""

    replay: StoredResponse | None = None


class IdempotencyStore(Protocol):
    """Idempotency keys, claimed atomically (Brandur Leach's design, on our own store)."""

    async def claim(
        self,
        key: str,
        fingerprint: str,
        *,
        now: datetime,
        ttl: timedelta,
        lock_timeout: timedelta,
    ) -> IdempotencyClaim:
        """Claim ``key`` for a request whose method, path and body hash to ``fingerprint``.

        Returns an empty claim when the caller should run the request, or the stored response
        to replay. Raises ``IdempotencyKeyReusedError`` for another fingerprint and
        ``IdempotencyRequestInProgressError`` while a live first request holds it (a lock older
        than ``lock_timeout`` is taken over: a crashed request does not block its key forever).
        """
        ...

    async def complete(self, key: str, response: StoredResponse, *, now: datetime) -> None:
        """Store the response for replay and release the lock."""
        ...

    async def release(self, key: str) -> None:
        """Forget a claim whose request changed nothing (so a retry may run it)."""
        ...

    async def purge_expired(self, now: datetime, limit: int) -> int:
        """Delete up to ``limit`` expired keys; the number deleted."""
        ...


# ====================================================================== providers


class ProviderPaymentStatus(StrEnum):
    REQUIRES_PAYMENT_METHOD = "requires_payment_method"
    REQUIRES_CONFIRMATION = "requires_confirmation"
    REQUIRES_ACTION = "requires_action"
    PROCESSING = "processing"
    SUCCEEDED = "succeeded"
    FAILED = "failed"
    CANCELED = "canceled"


class ProviderRefundStatus(StrEnum):
    PENDING = "pending"
    SUCCEEDED = "succeeded"
    FAILED = "failed"


@attrs.frozen(slots=True)
class CreatePaymentRequest:
    """Ask a provider to set up a payment (a PaymentIntent, an Order, ...)."""

    payment_id: UUID
    amount: Money
    idempotency_key: str
    description: str | None = None
    metadata: Mapping[str, str] = attrs.field(factory=dict)
    payment_method: str | None = None


@attrs.frozen(slots=True)
class ConfirmPaymentRequest:
    """Ask a provider to take the money.

    ``verification_token`` is the buyer's proof of Strong Customer Authentication, for a
    provider that takes one (:attr:`PaymentProvider.takes_verification_token`); an attempt with
    one has its own ``idempotency_key``.
    """

    payment_id: UUID
    provider_payment_id: str | None
    amount: Money
    payment_method: str
    idempotency_key: str
    verification_token: str | None = attrs.field(default=None, repr=False)


@attrs.frozen(slots=True)
class RetrievePaymentRequest:
    """Ask a provider where a payment stands (reconciliation)."""

    payment_id: UUID
    provider_payment_id: str | None
    amount: Money
    payment_method: str | None = None


@attrs.frozen(slots=True)
class ProviderPayment:
    """A provider's account of a payment, checked against ours before it changes anything."""

    provider_payment_id: str
    status: ProviderPaymentStatus
    amount: Money
    #: Our payment id as the provider echoes it back (metadata), when it does.
    payment_id: UUID | None = None
    card: Card | None = None
    next_action: NextAction | None = None
    #: Screened as they are set (:mod:`payment_core.outside_text`): what a provider says may
    #: quote a card number or not fit; a code that is not a code is ``None``.
    failure_code: str | None = attrs.field(default=None, converter=screen_code)
    failure_message: str | None = attrs.field(default=None, converter=screen_text)
    client_secret: str | None = attrs.field(default=None, repr=False)


@attrs.frozen(slots=True)
class RefundRequest:
    """Ask a provider to give money back from a payment."""

    refund_id: UUID
    payment_id: UUID
    provider_payment_id: str | None
    amount: Money
    idempotency_key: str
    reason: str | None = None
    payment_method: str | None = None


@attrs.frozen(slots=True)
class RetrieveRefundRequest:
    """Ask a provider where a refund stands; an attempt that never reached it is made again.

    ``payment_id`` and ``reason`` are those of the attempt's :class:`RefundRequest`: a refund
    made again under the attempt's idempotency key must be exactly the same request.
    """

    refund_id: UUID
    provider_refund_id: str | None
    provider_payment_id: str | None
    amount: Money
    idempotency_key: str
    payment_method: str | None = None
    payment_id: UUID | None = None
    reason: str | None = None


@attrs.frozen(slots=True)
class ProviderRefund:
    """A provider's account of a refund."""

    provider_refund_id: str
    status: ProviderRefundStatus
    amount: Money
    #: A code or a short text from the provider, screened as it is set.
    failure_reason: str | None = attrs.field(default=None, converter=screen_text)


class WebhookKind(StrEnum):
    """What a provider event means for us, whatever the provider calls it."""

    PAYMENT_SUCCEEDED = "payment_succeeded"
    PAYMENT_FAILED = "payment_failed"
    PAYMENT_PROCESSING = "payment_processing"
    PAYMENT_REQUIRES_ACTION = "payment_requires_action"
    PAYMENT_CANCELED = "payment_canceled"
    REFUND_SUCCEEDED = "refund_succeeded"
    REFUND_FAILED = "refund_failed"
    IGNORED = "ignored"


@attrs.frozen(slots=True)
class WebhookEvent:
    """A verified provider event, translated."""

    id: str
    type: str
    kind: WebhookKind
    created_at: datetime
    provider_payment_id: str | None = None
    provider_refund_id: str | None = None
    payment_id: UUID | None = None
    #: ``None`` when the event does not say (or not as an amount in a known currency): that is
    #: a mismatch, never "the amount we expected".
    amount: Money | None = None
    card: Card | None = None
    failure_code: str | None = attrs.field(default=None, converter=screen_code)
    failure_message: str | None = attrs.field(default=None, converter=screen_text)
    #: The id our own create gave the payment before the provider named it (Square's
    #: ``sqpending_…``, derived from the event's own fields): the provider's id replaces it.
    placeholder_payment_id: str | None = None


class PaymentProvider(Protocol):
    """One payment provider behind one interface.

    Every method that moves money takes an idempotency key derived from our ids, so a retry can
    never charge or refund twice. Adapters raise only ``ProviderDeclinedError`` (a definite no),
    ``ProviderUnavailableError`` (outcome unknown) or ``ProviderRejectedError`` (invalid request).
    """

    @property
    def name(self) -> str:
        """The provider's name in the API (``stripe``, ``fake``, ...)."""
        ...

    @property
    def takes_verification_token(self) -> bool:
        """Whether a confirm may bring the buyer's verification token (Square's SCA), and so a
        payment waiting for the buyer may be confirmed again with one."""
        ...

    async def create_payment(self, request: CreatePaymentRequest) -> ProviderPayment:
        """Set up a payment at the provider; nothing is charged yet."""
        ...

    async def confirm_payment(self, request: ConfirmPaymentRequest) -> ProviderPayment:
        """Take the money; a decline is a ``failed`` reply or a ``ProviderDeclinedError``."""
        ...

    async def retrieve_payment(self, request: RetrievePaymentRequest) -> ProviderPayment:
        """Where the payment stands now."""
        ...

    async def cancel_payment(self, request: RetrievePaymentRequest, idempotency_key: str) -> None:
        """Release a payment that will not be confirmed (best effort)."""
        ...

    async def refund(self, request: RefundRequest) -> ProviderRefund:
        """Give money back."""
        ...

    async def retrieve_refund(self, request: RetrieveRefundRequest) -> ProviderRefund:
        """Where the refund stands now."""
        ...

    async def prepare_webhook(self, headers: Mapping[str, str], *, now: datetime) -> None:
        """Fetch, without blocking, what verifying a delivery with these headers needs (PayPal's
        signing certificate); nothing for most providers. Never raises: what cannot be had
        makes :meth:`parse_webhook` refuse the delivery."""
        ...

    def parse_webhook(
        self, body: bytes, headers: Mapping[str, str], *, now: datetime
    ) -> WebhookEvent:
        """Verify the signature on the raw body and translate the event (after
        :meth:`prepare_webhook` with the same headers).

        Raises ``WebhookSignatureError`` for a missing, wrong, stale or future signature and
        ``ValidationError`` for a body that is not an event.
        """
        ...

    def translate_webhook(self, body: bytes) -> WebhookEvent:
        """Translate a body whose signature was verified when it arrived (for replays)."""
        ...

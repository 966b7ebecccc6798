"""Handlers of the booking service's events: ``booking.created`` and ``booking.cancelled``.

Each consumed event id is recorded in the inbox in the same transaction as its effects, so a
redelivered event is acknowledged and ignored.
"""

from __future__ import annotations

import enum
import logging
from collections.abc import AsyncGenerator
from contextlib import aclosing
from typing import Final
from uuid import UUID

import attrs

from payment_core.errors import InvalidTransitionError, PaymentError, ValidationError
from payment_core.model.payment import Payment, PaymentStatus
from payment_core.model.plan import PaymentPlan
from payment_core.model.refund import Refund
from payment_core.pagination import PageRequest
from payment_core.ports import UnitOfWork
from payment_core.services._booking_plans import (
    BOOKINGS_CONSUMER,
    BookingPaymentPlan,
    cancel_booking_plans,
    is_plan_payment,
    plan_for_booking,
    save_booking_plan,
)
from payment_core.services._deps import Dependencies
from payment_core.services._refunding import amount_disputed, open_refund
from payment_core.services.payments import CreatePayment, PaymentService
from payment_core.services.plans import PaymentPlanService
from payment_core.services.refunds import RefundService

__all__ = ["BOOKINGS_CONSUMER", "BookingCancelled", "BookingCreated", "BookingEventHandler"]

logger = logging.getLogger(__name__)

#: Metadata key on a payment created for a booking event: the event's id.
EVENT_ID_METADATA: Final = "booking_event_id"


@attrs.frozen(slots=True)
class BookingCreated:
    """``booking.created``'s data."""

    booking_id: UUID
    guest_id: UUID
    amount: int
    currency: str
    payment_required: bool
    payment_method: str | None = None
    #: Pay by a plan (deposit, balance, cancellation policy) instead of a single payment.
    payment_plan: BookingPaymentPlan | None = None


@attrs.frozen(slots=True)
class BookingCancelled:
    """``booking.cancelled``'s data."""

    booking_id: UUID
    reason: str | None = None


@attrs.frozen(slots=True)
class HandledEvent:
    """What handling did: ``duplicate`` when the event id had been handled before."""

    duplicate: bool
    payments: tuple[Payment, ...] = ()
    refunds: tuple[Refund, ...] = ()
    plans: tuple[PaymentPlan, ...] = ()


class _Saved(enum.Enum):
    """What became of a payment prepared for a ``booking.created``."""

    SAVED = enum.auto()
    DUPLICATE = enum.auto()  # the event was handled before
    BOOKING_CANCELLED = enum.auto()


async def _payments_of(uow: UnitOfWork, booking_id: UUID) -> AsyncGenerator[Payment, None]:
    """Every payment of a booking, read in ``uow`` page by page."""
    page = PageRequest(limit=200)
    while True:
        batch = await uow.payments.list_by_booking(booking_id, page)
        for payment in batch.items:
            yield payment
        if batch.next_cursor is None:
            return
        page = PageRequest.parse(200, batch.next_cursor)


class BookingEventHandler:
    """Turns booking events into payments, cancellations and refunds."""

    def __init__(
        self,
        deps: Dependencies,
        payments: PaymentService,
        refunds: RefundService,
        plans: PaymentPlanService | None = None,
    ) -> None:
        self._deps = deps
        self._payments = payments
        self._refunds = refunds
        self._plans = plans or PaymentPlanService(deps, payments, refunds)

    async def _seen(self, event_id: str) -> HandledEvent | None:
        """Record an event that needs nothing else; ``None`` when it was new."""
        async with self._deps.uow() as uow:
            if not await uow.inbox.add(BOOKINGS_CONSUMER, event_id):
                return HandledEvent(duplicate=True)
            await uow.commit()
        return None

    async def booking_created(self, event_id: str, data: BookingCreated) -> HandledEvent:
        """Create a ``PENDING`` payment when one is required, confirmed when a method is given.

        The payment is set up at the provider first (no transaction is open while the provider
        is asked); then one transaction records the event, locks the booking and saves the
        payment. A redelivered event, or a booking cancelled meanwhile, saves nothing, and the
        intent set up at the provider is released.
        """
        if type(data.payment_required) is not bool:
            raise ValidationError(field="payment_required", reason="must be a boolean")
        if data.payment_plan is not None:
            wanted = plan_for_booking(
                data.booking_id, data.guest_id, data.currency, data.amount, data.payment_plan
            )
            duplicate, plan = await save_booking_plan(self._deps, self._plans, event_id, wanted)
            return HandledEvent(duplicate=duplicate, plans=() if plan is None else (plan,))
        if not data.payment_required:
            return await self._seen(event_id) or HandledEvent(duplicate=False)
        command = CreatePayment(
            booking_id=data.booking_id,
            guest_id=data.guest_id,
            amount=data.amount,
            currency=data.currency,
            payment_method=data.payment_method,
            description=f"Booking {data.booking_id}",
            metadata={EVENT_ID_METADATA: event_id} if len(event_id) <= 500 else {},
        )
        payment = await self._payments.prepare(command)
        saved = await self._save(event_id, payment)
        if saved is _Saved.DUPLICATE:
            # A redelivery: the intent this attempt set up at the provider is not needed.
            await self._payments.release_at_provider(payment)
            if data.payment_method is None:
                return HandledEvent(duplicate=True)
            return await self._finish_confirm(event_id, data)
        if saved is _Saved.BOOKING_CANCELLED:
            # Overtaken by its booking's cancellation (on another worker, or redelivered after
            # it): no payment, and the intent set up at the provider is released.
            logger.info(
                "booking event %s: booking %s is cancelled already; no payment created",
                event_id,
                data.booking_id,
            )
            await self._payments.release_at_provider(payment)
            return HandledEvent(duplicate=False)
        if data.payment_method is not None:
            try:
                payment = await self._payments.confirm(payment.id, data.payment_method)
            except InvalidTransitionError:
                # Cancelled with its booking between the create and the confirm: nothing to
                # charge. Read back what it is now.
                payment = await self._payments.get(payment.id)
        return HandledEvent(duplicate=False, payments=(payment,))

    async def _save(self, event_id: str, payment: Payment) -> _Saved:
        """Record the event and save ``payment`` (set up at the provider) in one transaction,
        unless the event was handled before or the booking is cancelled."""
        deps = self._deps
        async with deps.uow() as uow:
            if not await uow.inbox.add(BOOKINGS_CONSUMER, event_id):
                return _Saved.DUPLICATE
            # The booking is locked before the payment is saved: a booking.cancelled handled
            # on another worker either committed first (and this sees it) or waits for this
            # commit, then finds the payment and cancels it.
            if await uow.bookings.lock(payment.booking_id):
                await uow.commit()  # the event is handled: it creates nothing
                return _Saved.BOOKING_CANCELLED
            await uow.payments.add(payment)
            await uow.commit()
        deps.observer.payment_outcome(payment.provider, payment.status.value)
        return _Saved.SAVED

    async def _finish_confirm(self, event_id: str, data: BookingCreated) -> HandledEvent:
        """A redelivery after the create committed: confirm it if the first try stopped short.

        The create (with its inbox row) and the confirm are separate transactions; a process
        that died between them left a ``PENDING`` payment that only this event knows to confirm.
        """
        assert data.payment_method is not None
        stalled = None
        async with self._deps.uow() as uow, aclosing(_payments_of(uow, data.booking_id)) as listed:
            async for payment in listed:
                if (
                    payment.status is PaymentStatus.PENDING
                    and payment.metadata.get(EVENT_ID_METADATA) == event_id
                ):
                    stalled = payment
                    break
        if stalled is None:
            return HandledEvent(duplicate=True)
        try:
            payment = await self._payments.confirm(stalled.id, data.payment_method)
        except InvalidTransitionError:  # another delivery is confirming it right now
            return HandledEvent(duplicate=True)
        logger.info("booking event %s: confirmed the payment a crash left pending", event_id)
        return HandledEvent(duplicate=True, payments=(payment,))

    async def booking_cancelled(self, event_id: str, data: BookingCancelled) -> HandledEvent:
        """Cancel the booking's ``PENDING`` payments and release its holds (``AUTHORIZED``);
        refund ``COMPLETED`` ones when enabled, and ``PROCESSING`` ones (and holds being
        captured) once they complete; remember the booking is cancelled."""
        deps = self._deps

        async def run() -> HandledEvent:
            cancelled: list[Payment] = []
            refunds: list[Refund] = []
            async with deps.uow() as uow:
                if not await uow.inbox.add(BOOKINGS_CONSUMER, event_id):
                    return HandledEvent(duplicate=True)
                # Locked before its payments are read: a booking.created being handled on
                # another worker either committed its payment already (listed below) or
                # waits, then sees the cancellation and creates nothing.
                await uow.bookings.mark_cancelled(data.booking_id, deps.clock.now())
                # A plan's policy decides what its payments give back, not the whole refund.
                plans, refunds = await cancel_booking_plans(deps, uow, data.booking_id, data.reason)
                auto_refund = deps.config.auto_refund_on_cancel
                async for listed in _payments_of(uow, data.booking_id):
                    if is_plan_payment(listed):
                        continue
                    payment = await uow.payments.get(listed.id, for_update=True)
                    assert payment is not None
                    now = deps.clock.now()
                    if payment.status is PaymentStatus.PENDING or (
                        payment.status is PaymentStatus.AUTHORIZED and not payment.capture_in_flight
                    ):
                        # Nothing was taken: the payment is cancelled, a hold released.
                        payment.cancel(now=now, event_id=deps.ids.new_id())
                        await uow.payments.update(payment)
                        cancelled.append(payment)
                    elif (
                        payment.status is PaymentStatus.COMPLETED
                        and auto_refund
                        and payment.refundable > 0
                        # Disputed: the bank is giving the money back already.
                        and not await amount_disputed(uow, payment)
                    ):
                        refund = open_refund(deps, payment, None, "booking_cancelled")
                        await uow.payments.update(payment)
                        await uow.refunds.add(refund)
                        refunds.append(refund)
                    elif (
                        payment.awaits_provider and auto_refund and not payment.refund_on_completion
                    ):
                        # The provider has it (3-D Secure, or no answer yet): should it take
                        # the money after all, the completion refunds it in full.
                        payment.refund_once_completed(now=now)
                        await uow.payments.update(payment)
                await uow.commit()
            return HandledEvent(
                duplicate=False,
                payments=tuple(cancelled),
                refunds=tuple(refunds),
                plans=tuple(plans),
            )

        handled = await deps.retrying(run)
        for payment in handled.payments:
            await self._payments.release_at_provider(payment)
        processed: list[Refund] = []
        for refund in handled.refunds:
            try:
                processed.append(await self._refunds.process(refund.id))
            except PaymentError as exc:  # the background retry will pick it up
                logger.warning("refund %s for a cancelled booking: %s", refund.id, exc)
                processed.append(refund)
        return attrs.evolve(handled, refunds=tuple(processed))

"""Settling a payment from a provider's account of it (a confirm's reply, a webhook, a
reconciliation ask), and failing it when the provider refuses a confirm. What a completion
records (its billing record, the invoices it pays, a refund its cancelled booking asked for)
is written here for captures too."""

from __future__ import annotations

import logging
from typing import Final
from uuid import UUID

from payment_core.model.billing import BillingRecordType
from payment_core.model.payment import CaptureMethod, Payment, PaymentStatus
from payment_core.money import Money
from payment_core.ports import ProviderPayment, ProviderPaymentStatus, UnitOfWork
from payment_core.services._deps import Dependencies
from payment_core.services._reads import PAYMENTS
from payment_core.services._refunding import open_refund
from payment_core.services._saved_methods import save_method_in
from payment_core.services.billing import append_record
from payment_core.services.invoices import pay_invoices

__all__ = [
    "SettleOutcome",
    "apply_payment_reply",
    "fail_payment",
    "record_completion",
    "settle_payment",
]

logger = logging.getLogger(__name__)


class SettleOutcome:
    """What applying a provider reply did (for reconciliation's summary)."""

    SETTLED: Final = "settled"
    UNKNOWN: Final = "unknown"
    #: Still unknown after the whole reconciliation schedule: for a person to look into.
    FLAGGED: Final = "flagged"
    MISMATCH: Final = "mismatch"
    UNCHANGED: Final = "unchanged"


async def settle_payment(
    deps: Dependencies, payment_id: UUID, reply: ProviderPayment
) -> tuple[Payment, str]:
    """Apply a provider's account of a payment in one transaction; never move it backwards."""

    async def run() -> tuple[Payment, str]:
        async with deps.uow() as uow:
            payment = await PAYMENTS.require(uow, payment_id, lock=True)
            outcome = await apply_payment_reply(deps, uow, payment, reply)
            if outcome != SettleOutcome.UNCHANGED:
                await uow.payments.update(payment)
                await uow.commit()
            return payment, outcome

    return await deps.retrying(run)


async def fail_payment(
    deps: Dependencies, payment_id: UUID, code: str, message: str | None
) -> Payment:
    """``PROCESSING -> FAILED`` (the provider refused the confirm); any other state is kept."""

    async def run() -> Payment:
        async with deps.uow() as uow:
            payment = await PAYMENTS.require(uow, payment_id, lock=True)
            if payment.status is PaymentStatus.PROCESSING:
                payment.fail(
                    now=deps.clock.now(),
                    event_id=deps.ids.new_id(),
                    code=code,
                    message=message,
                )
                await uow.payments.update(payment)
                await uow.commit()
                deps.observer.payment_outcome(payment.provider, payment.status.value)
            return payment

    return await deps.retrying(run)


async def apply_payment_reply(
    deps: Dependencies, uow: UnitOfWork, payment: Payment, reply: ProviderPayment
) -> str:
    """Move ``payment`` (loaded in ``uow``) as the provider's reply says, if it may.

    Only a ``PENDING`` or ``PROCESSING`` payment is ever moved; a reply whose amount,
    currency or echoed payment id differs never completes it.
    """
    now = deps.clock.now()
    if payment.status is PaymentStatus.AUTHORIZED:
        return _apply_to_hold(deps, payment, reply)
    if payment.is_settled:
        if (
            reply.status is ProviderPaymentStatus.SUCCEEDED
            and payment.status is not PaymentStatus.COMPLETED
        ):
            # Never moved backwards, never silent: the money may have been taken for a
            # payment we recorded as failed or cancelled. An operator must look.
            deps.observer.state_conflict(payment.provider, "payment")
            logger.error(
                "provider %s reports payment %s succeeded, but it is %s here",
                payment.provider,
                payment.id,
                payment.status.value,
            )
        return SettleOutcome.UNCHANGED
    if reply.amount != payment.amount or (
        reply.payment_id is not None and reply.payment_id != payment.id
    ):
        return payment_mismatch_in(deps, payment, reply.amount, reply.payment_id)
    if reply.provider_payment_id and reply.provider_payment_id != payment.provider_payment_id:
        # Some providers name a payment only once it is confirmed (Square): keep their id,
        # so that their webhooks and later calls find it.
        payment.provider_payment_id = reply.provider_payment_id
    status = reply.status
    held = status is ProviderPaymentStatus.REQUIRES_CAPTURE
    if held and payment.capture_method is not CaptureMethod.MANUAL:
        logger.warning(
            "provider %s holds payment %s, which asked to be taken at once",
            payment.provider,
            payment.id,
        )
        return SettleOutcome.UNCHANGED
    if held and reply.amount_capturable not in (None, payment.amount.amount):
        return payment_mismatch_in(
            deps,
            payment,
            Money(reply.amount_capturable or 0, payment.amount.currency),
            reply.payment_id,
        )
    if status in (ProviderPaymentStatus.SUCCEEDED, ProviderPaymentStatus.FAILED) or held:
        if payment.status is PaymentStatus.PENDING:
            # Confirmed by the customer directly at the provider (client-side confirmation).
            payment.start_processing(
                now=now,
                payment_method=payment.payment_method or "provider",
                reconcile_after=deps.config.reconcile_after,
            )
        if held:
            payment.authorize(
                now=now,
                event_id=deps.ids.new_id(),
                amount_capturable=payment.amount.amount,
                expires_at=reply.authorization_expires_at or now + deps.config.authorization_ttl,
                card=reply.card,
            )
            await save_method_in(deps, uow, payment, reply.saved_method, reply.card)
        elif status is ProviderPaymentStatus.SUCCEEDED:
            payment.complete(now=now, event_id=deps.ids.new_id(), card=reply.card)
            await save_method_in(deps, uow, payment, reply.saved_method, reply.card)
            await record_completion(deps, uow, payment)
        else:
            payment.fail(
                now=now,
                event_id=deps.ids.new_id(),
                code=reply.failure_code or "payment_failed",
                message=reply.failure_message,
                card=reply.card,
            )
        deps.observer.payment_outcome(payment.provider, payment.status.value)
        return SettleOutcome.SETTLED
    if payment.status is not PaymentStatus.PROCESSING:
        return SettleOutcome.UNCHANGED
    if status is ProviderPaymentStatus.CANCELED:
        payment.fail(
            now=now,
            event_id=deps.ids.new_id(),
            code=reply.failure_code or "payment_canceled",
            message=reply.failure_message or "the provider canceled the payment",
        )
        deps.observer.payment_outcome(payment.provider, payment.status.value)
        return SettleOutcome.SETTLED
    if status is ProviderPaymentStatus.REQUIRES_ACTION and (
        (reply.next_action is not None and reply.next_action != payment.next_action)
        or (reply.card is not None and reply.card != payment.card)
    ):
        if reply.next_action is not None:
            payment.require_action(now=now, next_action=reply.next_action)
        if reply.card is not None:
            payment.attach_card(now=now, card=reply.card)
        return SettleOutcome.UNKNOWN
    # Still in flight and nothing new: nothing to save (the caller must not bump the
    # version for nothing, which would only make concurrent writers conflict).
    return SettleOutcome.UNCHANGED


def _apply_to_hold(deps: Dependencies, payment: Payment, reply: ProviderPayment) -> str:
    """A provider's account of a hold (a webhook, reconciliation): only its end at the
    provider (cancelled there, as a hold past its deadline is) moves it, to ``EXPIRED``.
    Captures are settled by their own replies."""
    if (
        reply.status is ProviderPaymentStatus.CANCELED
        and not payment.capture_in_flight
        and reply.provider_payment_id in ("", payment.provider_payment_id)
    ):
        payment.expire(now=deps.clock.now(), event_id=deps.ids.new_id())
        deps.observer.payment_outcome(payment.provider, payment.status.value)
        return SettleOutcome.SETTLED
    return SettleOutcome.UNCHANGED


def payment_mismatch_in(
    deps: Dependencies, payment: Payment, reported: Money | None, echoed: UUID | None
) -> str:
    """A provider's account of ``payment`` (loaded in the caller's unit of work) whose
    amount differs, is missing (``reported`` is ``None``) or that echoes another payment id:
    counted and logged, and a payment in flight is flagged, never completed."""
    deps.observer.amount_mismatch(payment.provider)
    logger.warning(
        "provider %s reported %s for payment %s (%s), expected %s %s",
        payment.provider,
        "no amount" if reported is None else f"{reported.amount} {reported.currency.code}",
        payment.id,
        "its own id" if echoed in (None, payment.id) else "another id",
        payment.amount.amount,
        payment.amount.currency.code,
    )
    if payment.status is not PaymentStatus.PROCESSING:
        return SettleOutcome.UNCHANGED  # not confirmed yet: nothing to flag or save
    payment.flag_amount_mismatch(
        now=deps.clock.now(), message="the provider's reply does not match this payment"
    )
    return SettleOutcome.MISMATCH


async def record_completion(deps: Dependencies, uow: UnitOfWork, payment: Payment) -> None:
    """What a payment that just completed records in the same transaction: a ``CHARGE`` for
    what was captured, a refund its cancelled booking asked for, the invoices it pays."""
    await append_record(
        deps,
        uow,
        type=BillingRecordType.CHARGE,
        booking_id=payment.booking_id,
        guest_id=payment.guest_id,
        amount=Money(payment.amount_captured, payment.amount.currency),
        description=f"Payment {payment.reference}",
        payment_id=payment.id,
    )
    # Its booking was cancelled while the provider had it: the money goes straight back,
    # in the transaction that records it came in (the refund is due at once).
    refund = (
        open_refund(deps, payment, None, "booking_cancelled")
        if payment.refund_on_completion and payment.refundable > 0
        else None
    )
    # Open invoices that wait on this payment take what it holds now, in this transaction
    # (nothing if the refund above takes it all back).
    invoices = await pay_invoices(
        deps, uow, payment, await uow.invoices.list_open_for_payment(payment.id)
    )
    if refund is not None or invoices:
        # Save the payment first: a unit of work collects events aggregate by aggregate in
        # the order they were saved, and payment.completed must precede refund.initiated
        # and invoice.paid.
        await uow.payments.update(payment)
    if refund is not None:
        await uow.refunds.add(refund)
        logger.info(
            "payment %s completed after its booking was cancelled: refund %s opened",
            payment.id,
            refund.id,
        )
    for invoice in invoices:
        await uow.invoices.update(invoice)

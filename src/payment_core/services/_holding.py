"""Captures, increases and expiries of holds, as the hold use cases and the sweeps share them.

A capture is started in the transaction that locks the payment (one capture per hold, whatever
the concurrency: the second finds the mark, or the payment completed), sent to the provider
with a key derived from the payment and the amount, and settled from the reply in a
transaction of its own. An unknown outcome keeps the mark; reconciliation asks the provider
(:func:`reconcile_capture`) and never guesses.
"""

from __future__ import annotations

import logging
from uuid import UUID

from payment_core.errors import (
    CardDeclinedError,
    IdempotencyKeyReusedError,
    InvalidTransitionError,
    NotSupportedByProviderError,
    ProviderDeclinedError,
    ProviderError,
    ProviderRejectedError,
    ProviderUnavailableError,
    ValidationError,
)
from payment_core.ids import id_for_request
from payment_core.model.payment import Payment, PaymentStatus
from payment_core.money import Money, check_amount_in_range
from payment_core.ports import (
    CancelPaymentRequest,
    CapturePaymentRequest,
    IncrementAuthorizationRequest,
    ProviderPayment,
    ProviderPaymentStatus,
    RetrievePaymentRequest,
    UnitOfWork,
)
from payment_core.services._deps import Dependencies
from payment_core.services._payment_settling import (
    SettleOutcome,
    payment_mismatch_in,
    record_completion,
)
from payment_core.services._reads import PAYMENTS, read

__all__ = [
    "capture",
    "capture_key",
    "expire_hold",
    "increment",
    "reconcile_capture",
    "release_at_provider",
    "send_capture",
]

logger = logging.getLogger(__name__)


def capture_key(payment_id: UUID, amount: int) -> str:
    """The provider key of a capture: the same capture (after an unknown outcome) is the same
    request; another amount, after a refused capture, is another."""
    return f"payment-{payment_id}-capture-{amount}"


def _request_id(scope: str, idempotency_key: str | None) -> UUID | None:
    return None if idempotency_key is None else id_for_request(scope, idempotency_key)


# ---------------------------------------------------------------------------- capture
async def capture(
    deps: Dependencies,
    payment_id: UUID,
    amount: int | None = None,
    *,
    idempotency_key: str | None = None,
) -> Payment:
    """Capture ``amount`` of a hold (all it holds when ``None``); the rest is released."""
    if amount is not None and (type(amount) is not int or amount <= 0):
        raise ValidationError(field="amount", reason="must be a positive integer")
    request = _request_id("payment.capture", idempotency_key)

    async def start() -> tuple[Payment, bool]:
        async with deps.uow() as uow:
            payment = await PAYMENTS.require(uow, payment_id, lock=True)
            if request is not None and payment.hold_moved_by_request == request:
                # This very request captured it (its answer was lost): answer as it did,
                # finishing a capture still in flight under the same provider key.
                captured = payment.amount_capture_pending or payment.amount_captured
                if amount is not None and amount != captured:
                    raise IdempotencyKeyReusedError(key=idempotency_key or "")
                return payment, payment.capture_in_flight
            now = deps.clock.now()
            if payment.is_past_expiry(now) and not payment.capture_in_flight:
                # Its deadline passed before the sweep came: it is expired, not captured.
                payment.expire(now=now, event_id=deps.ids.new_id())
                await uow.payments.update(payment)
                await uow.commit()
                return payment, False
            payment.check_hold_movable(PaymentStatus.COMPLETED)
            value = payment.amount_capturable if amount is None else amount
            can = deps.providers.get(payment.provider).capabilities
            if value < payment.amount_capturable and not can.partial_capture:
                raise NotSupportedByProviderError.of(payment.provider, "partial capture")
            payment.start_capture(
                now=now,
                amount=Money(value, payment.amount.currency),
                reconcile_after=deps.config.reconcile_after,
                request=request,
            )
            await uow.payments.update(payment)
            await uow.commit()
            return payment, True

    payment, send = await deps.retrying(start)
    if payment.status is PaymentStatus.EXPIRED and not send:
        await release_at_provider(deps, payment)
        raise InvalidTransitionError(
            entity="payment",
            entity_id=payment.id,
            current=PaymentStatus.EXPIRED.value,
            requested=PaymentStatus.COMPLETED.value,
        )
    if not send:
        return payment
    return await send_capture(deps, payment)


async def send_capture(deps: Dependencies, payment: Payment) -> Payment:
    """Send the capture ``payment`` has in flight and settle it from the reply; a refusal
    (a definite no) clears it and is raised, an unknown outcome keeps it for reconciliation."""
    provider = deps.providers.get(payment.provider)
    pending = Money(payment.amount_capture_pending, payment.amount.currency)
    request = CapturePaymentRequest(
        payment_id=payment.id,
        provider_payment_id=payment.provider_payment_id,
        amount=payment.amount,
        amount_to_capture=pending,
        idempotency_key=capture_key(payment.id, pending.amount),
        payment_method=payment.payment_method,
    )
    try:
        reply = await deps.call_provider(
            provider, "capture_payment", lambda: provider.capture_payment(request)
        )
    except (ProviderDeclinedError, ProviderRejectedError):
        await _abandon(deps, payment.id, pending.amount)
        raise
    except ProviderUnavailableError as exc:
        logger.warning("capture of payment %s has an unknown outcome: %s", payment.id, exc)
        return await PAYMENTS.get(deps, payment.id)
    settled, _ = await _settle(deps, payment.id, reply)
    return settled


async def _abandon(deps: Dependencies, payment_id: UUID, amount: int) -> None:
    async def run() -> None:
        async with deps.uow() as uow:
            payment = await PAYMENTS.require(uow, payment_id, lock=True)
            if payment.amount_capture_pending == amount:
                payment.abandon_capture(now=deps.clock.now())
                await uow.payments.update(payment)
                await uow.commit()

    await deps.retrying(run)


async def _settle(
    deps: Dependencies, payment_id: UUID, reply: ProviderPayment
) -> tuple[Payment, str]:
    async def run() -> tuple[Payment, str]:
        async with deps.uow() as uow:
            payment = await PAYMENTS.require(uow, payment_id, lock=True)
            outcome = await settle_capture_in(deps, uow, payment, reply)
            if outcome != SettleOutcome.UNCHANGED:
                await uow.payments.update(payment)
                await uow.commit()
            return payment, outcome

    return await deps.retrying(run)


async def settle_capture_in(
    deps: Dependencies, uow: UnitOfWork, payment: Payment, reply: ProviderPayment
) -> str:
    """Apply a provider's account of a capture in flight (in the caller's transaction).

    Only a reply that says the hold was taken, for exactly the amount being captured, in our
    currency and about this payment, completes it; another amount is a mismatch (counted,
    logged, flagged, never settled); a hold still waiting is still unknown.
    """
    if not payment.capture_in_flight:
        return SettleOutcome.UNCHANGED  # settled meanwhile
    now = deps.clock.now()
    ours = reply.payment_id in (None, payment.id)
    if reply.status is ProviderPaymentStatus.SUCCEEDED:
        received = reply.amount_received
        if (
            not ours
            or reply.amount.currency != payment.amount.currency
            or received != payment.amount_capture_pending
        ):
            reported = None if received is None else Money(received, reply.amount.currency)
            payment_mismatch_in(deps, payment, reported, reply.payment_id)
            payment.flag_capture_mismatch(
                now=now, message="the provider's capture reply does not match this capture"
            )
            return SettleOutcome.MISMATCH
        payment.complete_capture(now=now, event_id=deps.ids.new_id())
        await record_completion(deps, uow, payment)
        deps.observer.payment_outcome(payment.provider, payment.status.value)
        return SettleOutcome.SETTLED
    if reply.status is ProviderPaymentStatus.CANCELED and ours:
        # The provider let the hold go before the capture reached it: nothing was taken.
        payment.abandon_capture(now=now)
        payment.expire(now=now, event_id=deps.ids.new_id())
        return SettleOutcome.SETTLED
    return SettleOutcome.UNKNOWN


async def reconcile_capture(deps: Dependencies, payment: Payment) -> str:
    """Ask the provider about a capture whose outcome is unknown: taken settles it; still
    held (it never arrived) sends it again under the same key; anything else waits."""
    provider = deps.providers.get(payment.provider)
    request = RetrievePaymentRequest(
        payment_id=payment.id,
        provider_payment_id=payment.provider_payment_id,
        amount=payment.amount,
        idempotency_key=capture_key(payment.id, payment.amount_capture_pending),
        payment_method=payment.payment_method,
        capture_method=payment.capture_method,
    )
    try:
        reply = await deps.call_provider(
            provider, "retrieve_payment", lambda: provider.retrieve_payment(request)
        )
    except ProviderError as exc:
        logger.info(
            "reconciliation of the capture of %s: provider unavailable: %s", payment.id, exc
        )
        return SettleOutcome.UNKNOWN
    if reply.status is ProviderPaymentStatus.REQUIRES_CAPTURE:
        try:
            settled = await send_capture(deps, payment)
        except ProviderError as exc:
            logger.warning("capture of payment %s refused on a second ask: %s", payment.id, exc)
            return SettleOutcome.SETTLED  # a definite no: the hold is as it was
        return SettleOutcome.UNKNOWN if settled.capture_in_flight else SettleOutcome.SETTLED
    _, outcome = await _settle(deps, payment.id, reply)
    return outcome


# ---------------------------------------------------------------------------- increment
async def increment(
    deps: Dependencies, payment_id: UUID, amount: int, *, idempotency_key: str | None = None
) -> Payment:
    """Raise a hold to ``amount`` (the new total). A decline raises ``CardDeclinedError``
    and leaves the hold as it was; an unknown outcome raises ``ProviderUnavailableError``
    (the same request again asks again under the same provider key)."""
    check_amount_in_range(amount)
    request = _request_id("payment.increment", idempotency_key)
    payment = await PAYMENTS.get(deps, payment_id)
    if request is not None and payment.hold_moved_by_request == request:
        if payment.amount.amount != amount:
            raise IdempotencyKeyReusedError(key=idempotency_key or "")
        return payment  # this very request raised it
    payment.check_hold_movable(PaymentStatus.AUTHORIZED)
    if amount <= payment.amount.amount:
        raise ValidationError(field="amount", reason="must be larger than the amount held")
    provider = deps.providers.get(payment.provider)
    if not provider.capabilities.increment_authorization:
        raise NotSupportedByProviderError.of(payment.provider, "increment_authorization")
    wanted = Money(amount, payment.amount.currency)
    call = IncrementAuthorizationRequest(
        payment_id=payment.id,
        provider_payment_id=payment.provider_payment_id,
        current_amount=payment.amount,
        amount=wanted,
        idempotency_key=f"payment-{payment.id}-increment-{amount}",
        payment_method=payment.payment_method,
    )
    try:
        reply = await deps.call_provider(
            provider, "increment_authorization", lambda: provider.increment_authorization(call)
        )
    except ProviderDeclinedError as exc:
        raise CardDeclinedError(decline_code=exc.decline_code, message=exc.message) from exc
    if (
        reply.amount != wanted
        or reply.payment_id not in (None, payment.id)
        or reply.status is not ProviderPaymentStatus.REQUIRES_CAPTURE
    ):
        deps.observer.amount_mismatch(payment.provider)
        logger.warning(
            "provider %s answered the increase of payment %s with another hold",
            payment.provider,
            payment.id,
        )
        raise ProviderRejectedError(
            reason_code="provider_amount_mismatch",
            message="the provider's reply does not match the requested amount",
        )

    async def record() -> Payment:
        async with deps.uow() as uow:
            current = await PAYMENTS.require(uow, payment_id, lock=True)
            if current.amount.amount >= amount and current.status is PaymentStatus.AUTHORIZED:
                return current  # a larger increase was recorded meanwhile
            current.increment_authorization(now=deps.clock.now(), amount=wanted, request=request)
            await uow.payments.update(current)
            await uow.commit()
            return current

    return await deps.retrying(record)


# ---------------------------------------------------------------------------- expiry
async def expire_hold(deps: Dependencies, payment_id: UUID) -> Payment | None:
    """Expire a hold whose deadline has passed (re-checked under its lock, so that a capture
    and an expiry never both happen); released at the provider, best effort. ``None`` when
    it was not to expire after all."""

    async def run() -> Payment | None:
        async with deps.uow() as uow:
            payment = await PAYMENTS.require(uow, payment_id, lock=True)
            now = deps.clock.now()
            if not payment.is_past_expiry(now) or payment.capture_in_flight:
                return None
            payment.expire(now=now, event_id=deps.ids.new_id())
            await uow.payments.update(payment)
            await uow.commit()
            return payment

    expired = await deps.retrying(run)
    if expired is not None:
        deps.observer.payment_outcome(expired.provider, expired.status.value)
        await release_at_provider(deps, expired)
    return expired


async def release_at_provider(deps: Dependencies, payment: Payment) -> None:
    """Tell the provider a payment will not be confirmed, or a hold will not be captured;
    failures are logged (a hold left there lapses at its deadline)."""
    provider = deps.providers.get(payment.provider)
    try:
        await deps.call_provider(
            provider,
            "cancel_payment",
            lambda: provider.cancel_payment(
                CancelPaymentRequest(
                    payment_id=payment.id,
                    provider_payment_id=payment.provider_payment_id,
                    amount=payment.amount,
                    idempotency_key=f"payment-{payment.id}-cancel",
                    payment_method=payment.payment_method,
                )
            ),
        )
    except ProviderError as exc:
        logger.warning("could not release payment %s at the provider: %s", payment.id, exc)


async def holds_due(deps: Dependencies, limit: int) -> tuple[list[Payment], list[Payment]]:
    """The holds to warn about and the holds to expire now (each list soonest first)."""
    now = deps.clock.now()
    before = now + deps.config.authorization_expiry_warning

    async def query(uow: UnitOfWork) -> tuple[list[Payment], list[Payment]]:
        warn = await uow.payments.list_holds_to_warn(before, limit)
        expired = await uow.payments.list_holds_expired(now, limit)
        return list(warn), list(expired)

    return await read(deps, query)

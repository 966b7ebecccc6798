"""Refund use cases: create (holding the amount on the payment), process with retries, read.

The refund limit holds under any concurrency because a refund is created in the transaction
that locks its payment and moves the amount into ``amount_refund_pending``. Each attempt at the
provider carries ``refund.provider_idempotency_key``: the same key after an unknown outcome, so a
retry can never pay twice.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from uuid import UUID

from payment_core.errors import (
    IdempotencyKeyReusedError,
    InvalidTransitionError,
    NotFoundError,
    ProviderDeclinedError,
    ProviderError,
    ProviderRejectedError,
    ProviderUnavailableError,
)
from payment_core.ids import id_for_request
from payment_core.model.billing import BillingRecordType
from payment_core.model.payment import Payment
from payment_core.model.refund import Refund, RefundStatus
from payment_core.money import Money
from payment_core.pagination import Page, PageRequest
from payment_core.ports import (
    ProviderRefund,
    ProviderRefundStatus,
    RefundRequest,
    RetrieveRefundRequest,
    UnitOfWork,
)
from payment_core.services._deps import Dependencies
from payment_core.services._refunding import open_refund
from payment_core.services.billing import append_record
from payment_core.services.credit_notes import credit_refund
from payment_core.services.payments import PaymentService, SettleOutcome

__all__ = ["RefundService"]

logger = logging.getLogger("payment_core.refunds")


def _check_same_request(
    made: Refund, payment_id: UUID, amount: int | None, reason: str | None, key: str | None
) -> None:
    """The refund made under a key answers a retry only if it asked for the same thing."""
    if (
        made.payment_id != payment_id
        or made.reason != reason
        or (amount is not None and made.amount.amount != amount)
    ):
        raise IdempotencyKeyReusedError(key=key or "")


class RefundService:
    """Create, process, retry and read refunds."""

    def __init__(self, deps: Dependencies, payments: PaymentService) -> None:
        self._deps = deps
        self._payments = payments

    # ------------------------------------------------------------------ queries
    async def _require(self, uow: UnitOfWork, refund_id: UUID, *, lock: bool = False) -> Refund:
        refund = await uow.refunds.get(refund_id, for_update=lock)
        if refund is None:
            raise NotFoundError(entity="refund", key=str(refund_id))
        return refund

    async def get(self, refund_id: UUID) -> Refund:
        async with self._deps.uow() as uow:
            return await self._require(uow, refund_id)

    async def get_by_reference(self, reference: str) -> Refund:
        async with self._deps.uow() as uow:
            refund = await uow.refunds.get_by_reference(reference)
        if refund is None:
            raise NotFoundError(entity="refund", key=reference)
        return refund

    async def list_by_payment(self, payment_id: UUID, page: PageRequest) -> Page[Refund]:
        async with self._deps.uow() as uow:
            if await uow.payments.get(payment_id) is None:
                raise NotFoundError(entity="payment", key=str(payment_id))
            return await uow.refunds.list_by_payment(payment_id, page)

    # ------------------------------------------------------------------ create
    async def create(
        self,
        payment_id: UUID,
        amount: int | None = None,
        reason: str | None = None,
        *,
        idempotency_key: str | None = None,
    ) -> Refund:
        """Refund a ``COMPLETED`` payment (its whole remainder when ``amount`` is ``None``).

        With ``idempotency_key`` the refund's id is derived from it
        (:func:`~payment_core.ids.id_for_request`): a retry under the same key, after a crash
        or a lost answer, returns the refund the first call made, and carries on with its
        first attempt where that call stopped (under the same provider key), instead of
        making a second refund. The same key for another payment, amount or reason raises
        :class:`~payment_core.errors.IdempotencyKeyReusedError`.
        """
        deps = self._deps
        request = (
            None if idempotency_key is None else id_for_request("refund.create", idempotency_key)
        )

        async def run() -> tuple[Refund, bool]:
            async with deps.uow() as uow:
                payment = await uow.payments.get(payment_id, for_update=True)
                if payment is None:
                    raise NotFoundError(entity="payment", key=str(payment_id))
                if request is not None:
                    made = await uow.refunds.get(request)
                    if made is not None:
                        _check_same_request(made, payment_id, amount, reason, idempotency_key)
                        return made, False
                refund = open_refund(deps, payment, amount, reason, refund_id=request)
                await uow.payments.update(payment)
                await uow.refunds.add(refund)
                await uow.commit()
                return refund, True

        refund, new = await deps.retrying(run)
        if not deps.config.process_refunds_immediately:
            return refund
        if new or refund.attempts == 0 or refund.attempted_by_request == request:
            # Its first attempt is this request's to make (or to finish, if it began it).
            refund, _ = await self._process(refund.id, only_if_due=False, request=request)
        return refund

    # ------------------------------------------------------------------ process
    async def process(self, refund_id: UUID, *, idempotency_key: str | None = None) -> Refund:
        """One attempt at the provider now.

        A ``COMPLETED`` or in-flight refund is returned as it is; a ``FAILED`` one raises
        :class:`InvalidTransitionError`. With ``idempotency_key``, the same call again returns
        the refund as its attempt left it (``FAILED`` included) and makes no second attempt;
        an attempt it began and could not finish is finished under the same provider key.
        """
        request = (
            None if idempotency_key is None else id_for_request("refund.process", idempotency_key)
        )
        refund, _ = await self._process(refund_id, only_if_due=False, request=request)
        return refund

    async def _process(
        self, refund_id: UUID, *, only_if_due: bool, request: UUID | None = None
    ) -> tuple[Refund, bool]:
        """The refund after the attempt, and whether an attempt was made."""
        deps = self._deps

        async def start() -> tuple[Refund, Payment | None]:
            async with deps.uow() as uow:
                refund = await self._require(uow, refund_id, lock=True)
                if request is not None and refund.attempted_by_request == request:
                    # This request made the latest attempt and its answer was lost: finish
                    # an attempt still in flight (same provider key: the provider's first
                    # answer), else answer as it did.
                    if refund.status is not RefundStatus.PROCESSING:
                        return refund, None
                    return refund, await uow.payments.get(refund.payment_id)
                if refund.status is RefundStatus.FAILED:
                    raise InvalidTransitionError(
                        entity="refund",
                        entity_id=refund.id,
                        current=refund.status.value,
                        requested=RefundStatus.PROCESSING.value,
                    )
                if refund.status is not RefundStatus.PENDING:
                    return refund, None
                now = deps.clock.now()
                if only_if_due and (refund.next_retry_at is None or refund.next_retry_at > now):
                    return refund, None  # another worker attempted it meanwhile: keep its backoff
                refund.start_attempt(now=now, request=request)
                await uow.refunds.update(refund)
                payment = await uow.payments.get(refund.payment_id)
                await uow.commit()
                return refund, payment

        refund, payment = await deps.retrying(start)
        if payment is None:
            return refund, False
        return await self._attempt(refund, payment), True

    async def _attempt(self, refund: Refund, payment: Payment) -> Refund:
        deps = self._deps
        provider = deps.providers.get(refund.provider)
        request = RefundRequest(
            refund_id=refund.id,
            payment_id=payment.id,
            provider_payment_id=payment.provider_payment_id,
            amount=refund.amount,
            idempotency_key=refund.provider_idempotency_key,
            reason=refund.reason,
            payment_method=payment.payment_method,
        )
        try:
            reply = await deps.call_provider(provider, "refund", lambda: provider.refund(request))
        except ProviderDeclinedError as exc:
            return await self._after_failure(refund.id, exc.decline_code, definite=True)
        except ProviderRejectedError as exc:
            return await self._after_failure(refund.id, exc.reason_code, definite=True, final=True)
        except ProviderUnavailableError as exc:
            return await self._after_failure(
                refund.id, f"unavailable: {exc.message}", definite=False
            )
        return await self.apply_reply(refund.id, reply)

    async def apply_reply(self, refund_id: UUID, reply: ProviderRefund) -> Refund:
        """Record a provider's account of a refund that is being processed."""
        if reply.status is ProviderRefundStatus.FAILED:
            return await self._after_failure(
                refund_id,
                reply.failure_reason or "refund_failed",
                definite=True,
                provider_refund_id=reply.provider_refund_id,
            )
        deps = self._deps

        async def run() -> Refund:
            async with deps.uow() as uow:
                refund = await self._require(uow, refund_id, lock=True)
                if refund.status is not RefundStatus.PROCESSING:
                    return refund
                if reply.amount != refund.amount:
                    await self.mismatch_in(uow, refund, reply.amount)
                    await uow.commit()
                    return refund
                if reply.status is ProviderRefundStatus.PENDING:
                    # Accepted, not final yet: a webhook or reconciliation completes it. The
                    # same answer again changes nothing (updated_at says since when it waits).
                    if refund.provider_refund_id != reply.provider_refund_id:
                        refund.provider_refund_id = reply.provider_refund_id
                        refund.updated_at = deps.clock.now()
                        await uow.refunds.update(refund)
                        await uow.commit()
                    return refund
                await self.complete_in(uow, refund, reply.provider_refund_id)
                await uow.commit()
                return refund

        return await deps.retrying(run)

    async def mismatch_in(self, uow: UnitOfWork, refund: Refund, reported: Money) -> None:
        """The provider reports another amount for ``refund``: counted and logged, never
        settled; a refund still in flight says so in ``last_error`` (in the caller's
        transaction)."""
        self._deps.observer.amount_mismatch(refund.provider)
        logger.warning(
            "provider %s reports %s %s for refund %s, expected %s %s",
            refund.provider,
            reported.amount,
            reported.currency.code,
            refund.id,
            refund.amount.amount,
            refund.amount.currency.code,
        )
        if refund.status in (RefundStatus.PENDING, RefundStatus.PROCESSING):
            refund.last_error = "provider_amount_mismatch"
            await uow.refunds.update(refund)

    async def complete_in(
        self, uow: UnitOfWork, refund: Refund, provider_refund_id: str | None
    ) -> None:
        """Complete a processing refund inside the caller's transaction."""
        deps = self._deps
        payment = await uow.payments.get(refund.payment_id, for_update=True)
        assert payment is not None, "a refund's payment is never deleted"
        refund.complete(
            now=deps.clock.now(), event_id=deps.ids.new_id(), provider_refund_id=provider_refund_id
        )
        payment.settle_refund(now=deps.clock.now(), amount=refund.amount)
        await uow.refunds.update(refund)
        await uow.payments.update(payment)
        await append_record(
            deps,
            uow,
            type=BillingRecordType.REFUND,
            booking_id=refund.booking_id,
            guest_id=refund.guest_id,
            amount=refund.amount,
            description=f"Refund {refund.reference}",
            payment_id=refund.payment_id,
            refund_id=refund.id,
        )
        # The payment's PAID invoices get their credit notes in this same transaction: once,
        # since a refund completes once (and a completed one never again).
        await credit_refund(deps, uow, refund, payment)
        deps.observer.refund_outcome(refund.provider, refund.status.value)

    async def _after_failure(
        self,
        refund_id: UUID,
        error: str,
        *,
        definite: bool,
        final: bool = False,
        provider_refund_id: str | None = None,
    ) -> Refund:
        deps = self._deps
        policy = deps.config.refund_retry

        async def run() -> Refund:
            async with deps.uow() as uow:
                refund = await self._require(uow, refund_id, lock=True)
                if refund.status is not RefundStatus.PROCESSING:
                    return refund
                now = deps.clock.now()
                if provider_refund_id is not None:
                    refund.provider_refund_id = provider_refund_id
                exhausted = final or policy.exhausted(refund.attempts)
                if exhausted and definite:
                    refund.fail(now=now, event_id=deps.ids.new_id(), reason=error)
                    payment = await uow.payments.get(refund.payment_id, for_update=True)
                    assert payment is not None
                    payment.release_refund(now=now, amount=refund.amount)
                    await uow.payments.update(payment)
                    deps.observer.refund_outcome(refund.provider, refund.status.value)
                elif exhausted:
                    # Unknown outcome and no attempts left: never guess. It stays PROCESSING
                    # and reconciliation asks the provider with the same key.
                    refund.last_error = error
                    refund.updated_at = now
                else:
                    refund.retry_later(
                        now=now,
                        at=now + policy.delay(refund.attempts, deps.randbelow),
                        error=error,
                        definite=definite,
                    )
                await uow.refunds.update(refund)
                await uow.commit()
                return refund

        return await deps.retrying(run)

    # ------------------------------------------------------------------ background
    async def process_due(self, limit: int = 100) -> int:
        """Attempt every refund whose retry is due; the number attempted."""
        async with self._deps.uow() as uow:
            due: Sequence[Refund] = await uow.refunds.list_due(self._deps.clock.now(), limit)
        attempted = 0
        for refund in due:
            try:
                _, tried = await self._process(refund.id, only_if_due=True)
            except (InvalidTransitionError, NotFoundError):
                continue  # another worker failed it for good meanwhile
            if tried:  # not when another worker took it first
                attempted += 1
        return attempted

    async def reconcile(self, refund: Refund) -> tuple[Refund, str]:
        """Ask the provider about a refund stuck ``PROCESSING`` and apply the answer."""
        deps = self._deps
        provider = deps.providers.get(refund.provider)
        async with deps.uow() as uow:
            payment = await uow.payments.get(refund.payment_id)
        assert payment is not None
        request = RetrieveRefundRequest(
            refund_id=refund.id,
            provider_refund_id=refund.provider_refund_id,
            provider_payment_id=payment.provider_payment_id,
            amount=refund.amount,
            idempotency_key=refund.provider_idempotency_key,
            payment_method=payment.payment_method,
            payment_id=payment.id,
            reason=refund.reason,
        )
        try:
            reply = await deps.call_provider(
                provider, "retrieve_refund", lambda: provider.retrieve_refund(request)
            )
        except ProviderError as exc:
            logger.info("reconciliation of refund %s: %s", refund.id, exc)
            return await self._ask_again_later(refund.id)
        updated = await self.apply_reply(refund.id, reply)
        if updated.status is RefundStatus.PROCESSING:
            return await self._ask_again_later(refund.id)
        return updated, SettleOutcome.SETTLED

    async def _ask_again_later(self, refund_id: UUID) -> tuple[Refund, str]:
        """Set when reconciliation asks next about a refund still in flight (``next_retry_at``).

        The wait grows with how long the refund has been stuck (5 minutes, then hourly, then
        daily with the default schedule), so a provider that is down is not asked every sweep.
        The outcome is ``flagged`` once it has been stuck the longest step, else ``unknown``.
        """
        deps = self._deps

        async def run() -> tuple[Refund, str]:
            async with deps.uow() as uow:
                refund = await self._require(uow, refund_id, lock=True)
                if refund.status is not RefundStatus.PROCESSING:
                    return refund, SettleOutcome.UNKNOWN
                now = deps.clock.now()
                schedule = deps.config.reconcile_schedule
                stuck_for = now - refund.updated_at
                refund.next_retry_at = now + schedule.after_stuck(stuck_for)
                outcome = SettleOutcome.UNKNOWN
                if stuck_for >= max(schedule.steps):
                    outcome = SettleOutcome.FLAGGED
                    logger.warning(
                        "refund %s unsettled for %s: the provider cannot say what became of it",
                        refund.id,
                        stuck_for,
                    )
                await uow.refunds.update(refund)
                await uow.commit()
                return refund, outcome

        return await deps.retrying(run)

    # ------------------------------------------------------------------ late reversal
    async def reverse(self, refund_id: UUID, reason: str) -> Refund:
        """A ``COMPLETED`` refund failed later: reverse it (``REFUND_REVERSED`` record)."""
        deps = self._deps

        async def run() -> Refund:
            async with deps.uow() as uow:
                refund = await self._require(uow, refund_id, lock=True)
                await self.reverse_in(uow, refund, reason)
                await uow.commit()
                return refund

        return await deps.retrying(run)

    async def reverse_in(self, uow: UnitOfWork, refund: Refund, reason: str) -> None:
        """The reversal, inside the caller's transaction."""
        deps = self._deps
        now = deps.clock.now()
        payment = await uow.payments.get(refund.payment_id, for_update=True)
        assert payment is not None
        refund.reverse(
            now=now, event_id=deps.ids.new_id(), failed_event_id=deps.ids.new_id(), reason=reason
        )
        payment.reverse_refund(now=now, amount=refund.amount)
        await uow.refunds.update(refund)
        await uow.payments.update(payment)
        await append_record(
            deps,
            uow,
            type=BillingRecordType.REFUND_REVERSED,
            booking_id=refund.booking_id,
            guest_id=refund.guest_id,
            amount=refund.amount,
            description=f"Refund {refund.reference} reversed: {reason}"[:500],
            payment_id=refund.payment_id,
            refund_id=refund.id,
        )
        deps.observer.refund_outcome(refund.provider, "REVERSED")

"""Refund use cases: create (holding the amount on the payment), process with retries, read.

The refund limit holds under any concurrency because a refund is created in the transaction
that locks its payment and moves the amount into ``amount_refund_pending``. Each attempt at the
provider carries ``refund.provider_idempotency_key``: the same key after an unknown outcome, so a
retry can never pay twice.
"""

from __future__ import annotations

import logging
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
from payment_core.model.payment import Payment
from payment_core.model.refund import Refund, RefundStatus
from payment_core.money import Money
from payment_core.pagination import Page, PageRequest
from payment_core.ports import (
    ProviderRefund,
    RefundRequest,
    RetrieveRefundRequest,
    UnitOfWork,
)
from payment_core.services._deps import Dependencies
from payment_core.services._reads import PAYMENTS, REFUNDS, read
from payment_core.services._refund_settling import (
    after_refund_failure,
    apply_refund_reply,
    complete_refund_in,
    refund_mismatch_in,
    reverse_refund,
    reverse_refund_in,
)
from payment_core.services._refunding import open_refund, refuse_if_disputed
from payment_core.services.payments import PaymentService, SettleOutcome

__all__ = ["RefundService"]

logger = logging.getLogger(__name__)


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
    async def get(self, refund_id: UUID) -> Refund:
        return await REFUNDS.get(self._deps, refund_id)

    async def get_by_reference(self, reference: str) -> Refund:
        return await REFUNDS.find(
            self._deps, reference, lambda uow: uow.refunds.get_by_reference(reference)
        )

    async def list_by_payment(self, payment_id: UUID, page: PageRequest) -> Page[Refund]:
        async def query(uow: UnitOfWork) -> Page[Refund]:
            await PAYMENTS.require(uow, payment_id)
            return await uow.refunds.list_by_payment(payment_id, page)

        return await read(self._deps, query)

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
                payment = await PAYMENTS.require(uow, payment_id, lock=True)
                if request is not None:
                    made = await uow.refunds.get(request)
                    if made is not None:
                        _check_same_request(made, payment_id, amount, reason, idempotency_key)
                        return made, False
                await refuse_if_disputed(uow, payment)
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
                refund = await REFUNDS.require(uow, refund_id, lock=True)
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
            return await after_refund_failure(deps, refund.id, exc.decline_code, definite=True)
        except ProviderRejectedError as exc:
            return await after_refund_failure(
                deps, refund.id, exc.reason_code, definite=True, final=True
            )
        except ProviderUnavailableError as exc:
            return await after_refund_failure(
                deps, refund.id, f"unavailable: {exc.message}", definite=False
            )
        return await self.apply_reply(refund.id, reply)

    # ------------------------------------------------------------------ background
    async def process_due(self, limit: int = 100) -> int:
        """Attempt every refund whose retry is due; the number attempted."""
        due = await read(
            self._deps, lambda uow: uow.refunds.list_due(self._deps.clock.now(), limit)
        )
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
        payment = await read(deps, lambda uow: uow.payments.get(refund.payment_id))
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
                refund = await REFUNDS.require(uow, refund_id, lock=True)
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

    # ------------------------------------------------------------------ provider replies
    async def apply_reply(self, refund_id: UUID, reply: ProviderRefund) -> Refund:
        """Record a provider's account of a refund that is being processed."""
        return await apply_refund_reply(self._deps, refund_id, reply)

    async def mismatch_in(self, uow: UnitOfWork, refund: Refund, reported: Money | None) -> None:
        """The provider reports another amount for ``refund``, or none (``reported`` is
        ``None``): counted and logged, never settled; a refund still in flight says so in
        ``last_error`` (in the caller's transaction)."""
        await refund_mismatch_in(self._deps, uow, refund, reported)

    async def complete_in(
        self, uow: UnitOfWork, refund: Refund, provider_refund_id: str | None
    ) -> None:
        """Complete a processing refund inside the caller's transaction."""
        await complete_refund_in(self._deps, uow, refund, provider_refund_id)

    # ------------------------------------------------------------------ late reversal
    async def reverse(self, refund_id: UUID, reason: str) -> Refund:
        """A ``COMPLETED`` refund failed later: reverse it (``REFUND_REVERSED`` record)."""
        return await reverse_refund(self._deps, refund_id, reason)

    async def reverse_in(self, uow: UnitOfWork, refund: Refund, reason: str) -> None:
        """The reversal, inside the caller's transaction."""
        await reverse_refund_in(self._deps, uow, refund, reason)

"""Reconciling one payment: ask the provider where a ``PROCESSING`` payment stands, apply the
answer, and set when to ask next."""

from __future__ import annotations

import logging

from payment_core.errors import ProviderError
from payment_core.model.payment import Payment, PaymentStatus
from payment_core.ports import ProviderPayment, RetrievePaymentRequest
from payment_core.services._deps import Dependencies
from payment_core.services._payment_settling import SettleOutcome, apply_payment_reply
from payment_core.services._reads import PAYMENTS

__all__ = ["reconcile_payment"]

logger = logging.getLogger(__name__)


async def reconcile_payment(deps: Dependencies, payment: Payment) -> tuple[Payment, str]:
    """Ask the provider where a ``PROCESSING`` payment stands and apply the answer."""
    provider = deps.providers.get(payment.provider)
    request = RetrievePaymentRequest(
        payment_id=payment.id,
        provider_payment_id=payment.provider_payment_id,
        amount=payment.amount,
        payment_method=payment.payment_method,
    )
    try:
        reply: ProviderPayment | None = await deps.call_provider(
            provider, "retrieve_payment", lambda: provider.retrieve_payment(request)
        )
    except ProviderError as exc:
        logger.info("reconciliation of payment %s: provider unavailable: %s", payment.id, exc)
        reply = None

    async def run() -> tuple[Payment, str]:
        async with deps.uow() as uow:
            current = await PAYMENTS.require(uow, payment.id, lock=True)
            if reply is not None:
                outcome = await apply_payment_reply(deps, uow, current, reply)
            elif current.status is PaymentStatus.PROCESSING:
                outcome = SettleOutcome.UNKNOWN
            else:
                outcome = SettleOutcome.UNCHANGED  # settled meanwhile (a webhook)
            if current.status is PaymentStatus.PROCESSING:
                schedule = deps.config.reconcile_schedule
                current.schedule_reconciliation(
                    now=deps.clock.now(),
                    after=schedule.after(current.reconcile_attempts),
                )
                if outcome == SettleOutcome.UNCHANGED:
                    outcome = SettleOutcome.UNKNOWN
                if outcome == SettleOutcome.UNKNOWN and current.reconcile_attempts > len(
                    schedule.steps
                ):
                    outcome = SettleOutcome.FLAGGED
                    logger.warning(
                        "payment %s unsettled after %d asks: the provider cannot say what "
                        "became of it",
                        current.id,
                        current.reconcile_attempts,
                    )
            if outcome != SettleOutcome.UNCHANGED:
                await uow.payments.update(current)
                await uow.commit()
            return current, outcome

    return await deps.retrying(run)

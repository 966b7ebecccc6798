"""Reconciling one payment: ask the provider where a ``PROCESSING`` payment (or a capture in
flight) stands, apply the answer, and set when to ask next."""

from __future__ import annotations

import logging

from payment_core.errors import ProviderError
from payment_core.model.payment import Payment, PaymentStatus
from payment_core.ports import ProviderPayment, RetrievePaymentRequest
from payment_core.services._deps import Dependencies
from payment_core.services._holding import reconcile_capture
from payment_core.services._payment_settling import SettleOutcome, apply_payment_reply
from payment_core.services._reads import PAYMENTS, read

__all__ = ["reconcile_payment"]

logger = logging.getLogger(__name__)


async def _method_of(deps: Dependencies, payment: Payment) -> str | None:
    """The token a provider that never saw the payment answers from: its own, or its saved
    method's."""
    if payment.payment_method is not None or payment.payment_method_id is None:
        return payment.payment_method
    ident = payment.payment_method_id
    method = await read(deps, lambda uow: uow.payment_methods.get(ident))
    return None if method is None else method.provider_token


async def reconcile_payment(deps: Dependencies, payment: Payment) -> tuple[Payment, str]:
    """Ask the provider where a ``PROCESSING`` payment, or a capture in flight, stands and
    apply the answer."""
    provider = deps.providers.get(payment.provider)
    reply: ProviderPayment | None = None
    captured: str | None = None
    if payment.capture_in_flight:
        captured = await reconcile_capture(deps, payment)
    else:
        request = RetrievePaymentRequest(
            payment_id=payment.id,
            provider_payment_id=payment.provider_payment_id,
            amount=payment.amount,
            idempotency_key=f"payment-{payment.id}-reconcile",
            payment_method=await _method_of(deps, payment),
            capture_method=payment.capture_method,
        )
        try:
            reply = await deps.call_provider(
                provider, "retrieve_payment", lambda: provider.retrieve_payment(request)
            )
        except ProviderError as exc:
            logger.info("reconciliation of payment %s: provider unavailable: %s", payment.id, exc)

    async def run() -> tuple[Payment, str]:
        async with deps.uow() as uow:
            current = await PAYMENTS.require(uow, payment.id, lock=True)
            if captured is not None:
                outcome = captured if current.awaits_provider else SettleOutcome.SETTLED
            elif reply is not None:
                outcome = await apply_payment_reply(deps, uow, current, reply)
            elif current.status is PaymentStatus.PROCESSING:
                outcome = SettleOutcome.UNKNOWN
            else:
                outcome = SettleOutcome.UNCHANGED  # settled meanwhile (a webhook)
            if current.awaits_provider:
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
            if outcome != SettleOutcome.UNCHANGED and (captured is None or current.awaits_provider):
                # (A capture's own settling committed what it settled.)
                await uow.payments.update(current)
                await uow.commit()
            return current, outcome

    return await deps.retrying(run)

"""Provider webhooks: verify, store, deduplicate, apply (never backwards), replay."""

from __future__ import annotations

import logging
from collections.abc import Mapping
from uuid import UUID

import attrs

from payment_core.errors import NotFoundError
from payment_core.model.payment import Payment, PaymentStatus
from payment_core.model.refund import RefundStatus
from payment_core.ports import (
    PaymentProvider,
    ProviderPayment,
    ProviderPaymentStatus,
    StoredWebhook,
    UnitOfWork,
    WebhookEvent,
    WebhookKind,
)
from payment_core.services._deps import Dependencies
from payment_core.services.disputes import DisputeService
from payment_core.services.payments import PaymentService
from payment_core.services.refunds import RefundService

__all__ = ["WebhookResult", "WebhookService"]

logger = logging.getLogger(__name__)

_PAYMENT_STATUS = {
    WebhookKind.PAYMENT_SUCCEEDED: ProviderPaymentStatus.SUCCEEDED,
    WebhookKind.PAYMENT_AUTHORIZED: ProviderPaymentStatus.REQUIRES_CAPTURE,
    WebhookKind.PAYMENT_FAILED: ProviderPaymentStatus.FAILED,
    WebhookKind.PAYMENT_PROCESSING: ProviderPaymentStatus.PROCESSING,
    WebhookKind.PAYMENT_REQUIRES_ACTION: ProviderPaymentStatus.REQUIRES_ACTION,
    WebhookKind.PAYMENT_CANCELED: ProviderPaymentStatus.CANCELED,
}


@attrs.frozen(slots=True)
class WebhookResult:
    """What became of a delivered webhook."""

    webhook_id: UUID
    event_id: str
    duplicate: bool
    outcome: str


class WebhookService:
    """Receive provider webhooks: the signature is checked on the raw body before anything."""

    def __init__(
        self,
        deps: Dependencies,
        payments: PaymentService,
        refunds: RefundService,
        disputes: DisputeService | None = None,
    ) -> None:
        self._deps = deps
        self._payments = payments
        self._refunds = refunds
        self._disputes = disputes or DisputeService(deps)

    def _provider(self, name: str) -> PaymentProvider:
        if name not in self._deps.providers:
            raise NotFoundError(entity="webhook endpoint", key=name)
        return self._deps.providers.get(name)

    async def receive(
        self, provider_name: str, body: bytes, headers: Mapping[str, str]
    ) -> WebhookResult:
        """Verify, store (before acting), and apply once per provider event id."""
        provider = self._provider(provider_name)
        deps = self._deps
        # Whatever verifying needs from the network (a certificate) is fetched without blocking.
        await provider.prepare_webhook(headers, now=deps.clock.now())
        event = provider.parse_webhook(body, headers, now=deps.clock.now())
        async with deps.uow() as uow:
            stored = await uow.webhooks.add(
                StoredWebhook(
                    id=deps.ids.new_id(),
                    provider=provider_name,
                    event_id=event.id,
                    body=body,
                    received_at=deps.clock.now(),
                )
            )
            await uow.commit()
        if stored.processed_at is not None:
            return WebhookResult(stored.id, event.id, duplicate=True, outcome="duplicate")
        outcome = await self._apply(stored, event)
        return WebhookResult(stored.id, event.id, duplicate=False, outcome=outcome)

    async def replay(self, webhook_id: UUID) -> WebhookResult:
        """Apply a stored webhook again (it was verified when it arrived)."""
        async with self._deps.uow() as uow:
            stored = await uow.webhooks.get(webhook_id)
        if stored is None:
            raise NotFoundError(entity="webhook", key=str(webhook_id))
        event = self._provider(stored.provider).translate_webhook(stored.body)
        outcome = await self._apply(stored, event)
        return WebhookResult(stored.id, event.id, duplicate=False, outcome=outcome)

    async def _apply(self, stored: StoredWebhook, event: WebhookEvent) -> str:
        deps = self._deps

        async def run() -> str:
            async with deps.uow() as uow:
                outcome = await self._apply_in(uow, stored.provider, event)
                await uow.webhooks.mark_processed(stored.id, deps.clock.now())
                await uow.commit()
                return outcome

        return await deps.retrying(run)

    async def _apply_in(self, uow: UnitOfWork, provider: str, event: WebhookEvent) -> str:
        if event.kind in _PAYMENT_STATUS:
            return await self._apply_payment(uow, provider, event)
        if event.kind in (WebhookKind.REFUND_SUCCEEDED, WebhookKind.REFUND_FAILED):
            return await self._apply_refund(uow, provider, event)
        if event.kind is WebhookKind.DISPUTE:
            return await self._disputes.apply_report_in(uow, provider, event)
        return "ignored"

    async def _apply_payment(self, uow: UnitOfWork, provider: str, event: WebhookEvent) -> str:
        found = await self._payment_for(uow, provider, event)
        if isinstance(found, str):
            return found
        payment = await uow.payments.get(found.id, for_update=True)
        assert payment is not None
        if event.amount is None:
            # An event that does not say how much never settles a payment by our figure.
            if payment.is_settled:
                return "unchanged"
            outcome = self._payments.mismatch_in(payment, None, event.payment_id)
        else:
            reply = ProviderPayment(
                provider_payment_id=event.provider_payment_id or "",
                status=_PAYMENT_STATUS[event.kind],
                amount=event.amount,
                payment_id=event.payment_id,
                card=event.card,
                failure_code=event.failure_code,
                failure_message=event.failure_message,
                amount_capturable=event.amount_capturable,
                saved_method=event.saved_method,
            )
            outcome = await self._payments.apply_reply(uow, payment, reply)
        if outcome != "unchanged":
            await uow.payments.update(payment)
        return outcome

    async def _payment_for(
        self, uow: UnitOfWork, provider: str, event: WebhookEvent
    ) -> Payment | str:
        """The payment of ``provider`` that the event is about, or the outcome when none is.

        A provider's event acts only on that provider's payments, and only on the one it names
        by its own id: our payment id in the event's metadata finds a payment only to say that
        the event names another (counted and logged; nothing changes), or to give the
        provider's id to a payment that has none yet.
        """
        provider_payment_id = event.provider_payment_id
        if provider_payment_id is not None:
            payment = await uow.payments.get_by_provider_id(provider, provider_payment_id)
            if payment is not None:
                return payment
            if event.placeholder_payment_id is not None:
                # Named by our create's placeholder until now: the provider's id replaces it.
                payment = await uow.payments.get_by_provider_id(
                    provider, event.placeholder_payment_id
                )
                if payment is not None:
                    return payment
        ours = await uow.payments.get(event.payment_id) if event.payment_id else None
        if ours is None:
            logger.info("webhook %s names no payment of ours", event.id)
            return "unknown_payment"
        if ours.provider != provider:
            self._deps.observer.webhook_mismatch(provider, "payment")
            logger.warning(
                "webhook %s from %s names payment %s of provider %s: ignored",
                event.id,
                provider,
                ours.id,
                ours.provider,
            )
            return "provider_mismatch"
        if provider_payment_id is None or ours.provider_payment_id:
            self._deps.observer.webhook_mismatch(provider, "payment")
            logger.warning(
                "webhook %s names payment %s by another %s id than its own: ignored",
                event.id,
                ours.id,
                provider,
            )
            return "provider_id_mismatch"
        return ours  # it has no provider id yet: it takes this one

    async def _apply_refund(self, uow: UnitOfWork, provider: str, event: WebhookEvent) -> str:
        if event.provider_refund_id is None:
            return "unknown_refund"
        refund = await uow.refunds.get_by_provider_id(provider, event.provider_refund_id)
        if refund is None:
            logger.info("webhook %s names no refund of ours", event.id)
            return "unknown_refund"
        refund = await uow.refunds.get(refund.id, for_update=True)
        assert refund is not None
        if event.provider_payment_id is not None:
            payment = await uow.payments.get(refund.payment_id)
            if payment is not None and payment.provider_payment_id != event.provider_payment_id:
                self._deps.observer.webhook_mismatch(provider, "refund")
                logger.warning(
                    "webhook %s names refund %s with another payment than its own: ignored",
                    event.id,
                    refund.id,
                )
                return "provider_id_mismatch"
        if event.amount != refund.amount:
            # The same reply check as an attempt's own answer: a mismatch (or no amount at
            # all) never settles it.
            await self._refunds.mismatch_in(uow, refund, event.amount)
            return "mismatch"
        if event.kind is WebhookKind.REFUND_SUCCEEDED and refund.status is RefundStatus.FAILED:
            # Recorded failed (its amount is refundable again), yet the provider paid it out:
            # never moved back silently; an operator must look before refunding again.
            self._deps.observer.state_conflict(provider, "refund")
            logger.error(
                "webhook %s reports refund %s succeeded, but it is FAILED here", event.id, refund.id
            )
            return "conflict"
        if event.kind is WebhookKind.REFUND_FAILED:
            if refund.status is RefundStatus.COMPLETED:
                await self._refunds.reverse_in(
                    uow, refund, event.failure_code or "refund_failed_after_completion"
                )
                return "reversed"
            return "unchanged"  # in flight: the attempt's own reply decides
        if refund.status is RefundStatus.PENDING:
            refund.start_attempt(now=self._deps.clock.now())
        if refund.status is RefundStatus.PROCESSING:
            payment = await uow.payments.get(refund.payment_id)
            if payment is not None and payment.status is PaymentStatus.COMPLETED:
                await self._refunds.complete_in(uow, refund, event.provider_refund_id)
                return "settled"
        return "unchanged"

"""Saved payment method use cases: read one, list a guest's, detach one.

A method is saved by the payment whose success saves it (see ``PaymentService.create`` with
``setup_future_usage``); charging it is a payment too (``payment_method_id``).
"""

from __future__ import annotations

import logging
from typing import Final
from uuid import UUID

from payment_core.errors import ProviderRejectedError
from payment_core.model.payment_method import PaymentMethod
from payment_core.pagination import Page, PageRequest
from payment_core.ports import DetachPaymentMethodRequest
from payment_core.services._deps import Dependencies
from payment_core.services._reads import Aggregate, read

__all__ = ["PAYMENT_METHODS", "PaymentMethodService"]

logger = logging.getLogger(__name__)

PAYMENT_METHODS: Final[Aggregate[PaymentMethod]] = Aggregate(
    "payment_method", lambda uow: uow.payment_methods
)


class PaymentMethodService:
    """Read and detach saved payment methods."""

    def __init__(self, deps: Dependencies) -> None:
        self._deps = deps

    async def get(self, payment_method_id: UUID) -> PaymentMethod:
        return await PAYMENT_METHODS.get(self._deps, payment_method_id)

    async def list_by_guest(self, guest_id: UUID, page: PageRequest) -> Page[PaymentMethod]:
        return await read(self._deps, lambda uow: uow.payment_methods.list_by_guest(guest_id, page))

    async def detach(self, payment_method_id: UUID) -> PaymentMethod:
        """``ACTIVE -> DETACHED``: detached at the provider first, then here; it is never
        charged again. Detaching a detached method returns it as it is (and asks its provider
        to forget it again, which is harmless).

        The provider's outage (``ProviderUnavailableError``) changes nothing: ask again.
        """
        deps = self._deps
        method = await self.get(payment_method_id)
        provider = deps.providers.get(method.provider)
        if provider.capabilities.save_payment_method:
            request = DetachPaymentMethodRequest(
                payment_method_id=method.id,
                provider_token=method.provider_token,
                customer_id=method.provider_customer_id,
                idempotency_key=f"payment-method-{method.id}-detach",
            )
            try:
                await deps.call_provider(
                    provider,
                    "detach_payment_method",
                    lambda: provider.detach_payment_method(request),
                )
            except ProviderRejectedError as exc:
                # Already forgotten there (detached before, or the customer removed it): it
                # can no longer be charged, which is what detaching is for.
                logger.info("provider refused to detach method %s: %s", method.id, exc)

        async def run() -> PaymentMethod:
            async with deps.uow() as uow:
                current = await PAYMENT_METHODS.require(uow, payment_method_id, lock=True)
                if current.detach(now=deps.clock.now()):
                    await uow.payment_methods.update(current)
                    await uow.commit()
                return current

        return await deps.retrying(run)

"""Stripe's saved cards: the Customer a card is saved to, and detaching a saved card.

A card is saved by a PaymentIntent with ``setup_future_usage=off_session`` and a ``customer``:
once the intent is held or taken, Stripe attaches its PaymentMethod to the customer, and the
reply's ``payment_method`` is that saved ``pm_…`` (``_transformers._saved_method``). A guest
who has saved a card before brings the customer it was saved to (the services keep it); for a
guest who has none a Customer is made first, under a key derived from the payment, so that a
payment asked for again reuses it.
"""

from __future__ import annotations

from typing import TYPE_CHECKING
from uuid import UUID

from payment_adapters.providers._common import refuse_raw_card_data
from payment_adapters.providers.stripe._base import StripeBase
from payment_core.errors import ProviderRejectedError, ProviderUnavailableError
from payment_core.intent_events import nonempty
from payment_core.ports import DetachPaymentMethodRequest

if TYPE_CHECKING:
    from stripe.params import CustomerCreateParams

__all__ = ["StripeSavedCards"]


class StripeSavedCards(StripeBase):
    """Customers and detaching of Stripe's saved cards (a part of ``StripeProvider``)."""

    async def _customer_for(self, payment_id: UUID, operation: str) -> str:
        """A new Customer for the card ``payment_id`` saves (the same one if asked again)."""
        params: CustomerCreateParams = {"metadata": {"payment_id": str(payment_id)}}
        customer = await self._call(
            operation,
            lambda: self._client.v1.customers.create_async(
                params, {"idempotency_key": f"payment-{payment_id}-customer"}
            ),
        )
        ident = nonempty(customer.to_dict().get("id"))
        if ident is None:
            raise ProviderUnavailableError(message="stripe reply is not a Customer")
        return ident

    async def detach_payment_method(self, request: DetachPaymentMethodRequest) -> None:
        """Detach the saved ``pm_…`` from its customer: Stripe never charges it again. One
        detached already (or never attached) is no error: it cannot be charged either."""
        token = request.provider_token
        refuse_raw_card_data(payment_method=token)
        key = request.idempotency_key or f"payment-method-{request.payment_method_id}-detach"
        try:
            await self._call(
                "detach_payment_method",
                lambda: self._client.v1.payment_methods.detach_async(
                    token, None, {"idempotency_key": key}
                ),
            )
        except ProviderRejectedError as exc:
            if exc.reason_code != "payment_method_unexpected_state":
                raise

"""Cards on file at Square: the card a payment asked to save is kept from that payment, under
the guest's customer, and charged again later by its id.

- Saving: ``POST /v2/customers`` when the guest has no customer at Square yet (Square wants a
  name, an e-mail or a phone; we know none, so the customer is "Guest", with a note naming our
  payment), then ``POST /v2/cards`` with ``source_id`` = the Square payment's id (a card kept
  from a payment just made) and ``card.customer_id``. Both keys are derived from our payment
  id, so a retry keeps one card under one customer.
- Charging: ``CreatePayment`` with ``source_id`` = the card's id and ``customer_id`` = its
  customer (``SquareProvider.confirm_payment``). Square has no merchant-initiated flag: a
  charge without a ``verification_token`` is one without the buyer.
- Detaching: ``POST /v2/cards/{id}/disable`` (no body, no key: disabling a disabled card is
  allowed and does nothing). It cannot be undone.
"""

from __future__ import annotations

import logging
import re
from collections.abc import Mapping
from typing import Any, Final
from uuid import UUID

from payment_adapters.providers.square._client import SquareClient
from payment_adapters.providers.square._transformers import square_card
from payment_core.errors import ProviderError, ProviderRejectedError
from payment_core.ports import DetachPaymentMethodRequest, SavedPaymentMethod

__all__ = ["SquareCards", "is_card_on_file"]

logger = logging.getLogger(__name__)

#: Square's card ids (``ccof:…``); anything else never goes into a path.
_CARD_ID: Final = re.compile(r"^ccof:[A-Za-z0-9_-]{1,192}$")


def is_card_on_file(source: str | None) -> bool:
    """Whether ``source`` is a Square card on file (not a one-time card token)."""
    return source is not None and _CARD_ID.match(source) is not None


def _card_path(card_id: str, action: str = "") -> str:
    if not is_card_on_file(card_id):
        raise ProviderRejectedError(
            reason_code="invalid_payment_method", message="Not a Square card on file."
        )
    return f"/v2/cards/{card_id}{action}"


class SquareCards(SquareClient):
    """Saving, finding and disabling cards on file (a part of ``SquareProvider``)."""

    async def _save_card(
        self, payment: Mapping[str, Any], payment_id: UUID, customer_id: str | None
    ) -> SavedPaymentMethod | None:
        """Keep the card of ``payment`` (a Square payment approved or completed for our
        ``payment_id``) under ``customer_id``, or a new customer; ``None`` (logged) when
        Square keeps none: the payment stands, it just saved no card."""
        try:
            customer = customer_id or await self._new_customer(payment_id)
            card = await self._object(
                "confirm_payment",
                "POST",
                "/v2/cards",
                "card",
                json_body={
                    "idempotency_key": f"sq-card-{payment_id.hex}",
                    "source_id": str(payment["id"]),
                    "card": {"customer_id": customer},
                },
            )
        except ProviderError as exc:
            logger.warning("square kept no card for payment %s: %s", payment_id, exc)
            return None
        card_id = card.get("id")
        if not isinstance(card_id, str) or not is_card_on_file(card_id):
            logger.warning("square answered payment %s's card with no card id", payment_id)
            return None
        owner = card.get("customer_id")
        return SavedPaymentMethod(
            token=card_id,
            customer_id=owner if isinstance(owner, str) else customer,
            card=square_card({"card_details": {"card": card}}),
        )

    async def _new_customer(self, payment_id: UUID) -> str:
        customer = await self._object(
            "confirm_payment",
            "POST",
            "/v2/customers",
            "customer",
            json_body={
                "idempotency_key": f"sq-cus-{payment_id.hex}",
                "given_name": "Guest",
                "note": f"Card saved with payment {payment_id}",
            },
        )
        ident = customer.get("id")
        if not isinstance(ident, str) or not ident:
            raise ProviderRejectedError(
                reason_code="no_customer", message="Square answered with no customer id"
            )
        return ident

    async def _customer_of_card(self, card_id: str) -> str | None:
        """The customer a card on file belongs to (a charge of it must name them)."""
        card = await self._object("retrieve_payment", "GET", _card_path(card_id), "card")
        owner = card.get("customer_id")
        return owner if isinstance(owner, str) else None

    async def detach_payment_method(self, request: DetachPaymentMethodRequest) -> None:
        await self._object(
            "detach_payment_method",
            "POST",
            _card_path(request.provider_token, "/disable"),
            "card",
        )

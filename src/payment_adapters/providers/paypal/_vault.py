"""Saved cards at PayPal: the card payment source of a confirm (a card to save in the vault on
success, or a saved card charged with its stored-credential indicators) and the deletion of a
payment token (``DELETE /v3/vault/payment-tokens/{id}``).

The field names are those of PayPal's server SDK models: ``CardRequest`` (``vault_id``,
``attributes``, ``stored_credential``), ``CardAttributes`` (``vault``, ``customer``),
``VaultInstructionBase`` (``store_in_vault=ON_SUCCESS``) and ``CardStoredCredential``
(``payment_initiator``, ``payment_type``, ``usage``).
"""

from __future__ import annotations

import logging
from typing import Any, Final
from urllib.parse import quote

from payment_adapters.providers.paypal._client import PayPalClient
from payment_core.errors import NotSupportedByProviderError
from payment_core.ports import DetachPaymentMethodRequest

__all__ = ["APPROVAL_PAYMENT_METHOD", "PayPalVault", "card_source"]

logger = logging.getLogger(__name__)

#: Confirming with this payment method captures what the buyer approved at PayPal.
APPROVAL_PAYMENT_METHOD: Final = "paypal"


def card_source(
    provider: str,
    payment_method: str | None,
    *,
    setup_future_usage: str | None = None,
    customer_id: str | None = None,
    saved_payment_method: str | None = None,
    off_session: bool = False,
) -> dict[str, Any]:
    """The body of an order's capture or authorize: what pays (nothing when the buyer approved
    at PayPal), and how.

    A card to save asks the vault to keep it once the payment succeeds (under the guest's
    PayPal customer when there is one already). A saved card is charged as a stored credential:
    merchant-initiated without the guest (``off_session``), customer-initiated with them;
    unscheduled, a subsequent use of the card.
    """
    method = saved_payment_method or payment_method
    if not method or method == APPROVAL_PAYMENT_METHOD:
        if setup_future_usage is not None:
            # Vaulting a PayPal wallet is another API (billing agreements), not a card's.
            raise NotSupportedByProviderError.of(provider, "setup_future_usage with paypal")
        return {}
    card: dict[str, Any] = {"vault_id": method}
    if saved_payment_method is not None:
        card["stored_credential"] = {
            "payment_initiator": "MERCHANT" if off_session else "CUSTOMER",
            "payment_type": "UNSCHEDULED",
            "usage": "SUBSEQUENT",
        }
    elif setup_future_usage is not None:
        attributes: dict[str, Any] = {"vault": {"store_in_vault": "ON_SUCCESS"}}
        if customer_id:
            attributes["customer"] = {"id": customer_id}
        card["attributes"] = attributes
    return {"payment_source": {"card": card}}


class PayPalVault(PayPalClient):
    """Forgetting a saved card (a part of ``PayPalProvider``)."""

    async def detach_payment_method(self, request: DetachPaymentMethodRequest) -> None:
        """Delete the payment token; one already gone (404) is detached all the same."""
        path = f"/v3/vault/payment-tokens/{quote(request.provider_token, safe='')}"

        async def attempt() -> None:
            # A DELETE takes no PayPal-Request-Id (the SDK's delete_payment_token sends none):
            # deleting twice is harmless, the second answers 404.
            reply = await self._api("DELETE", path)
            if reply.ok or reply.status == 404:
                return
            raise self._error(reply)

        await self._call("detach_payment_method", attempt)
        logger.info("paypal payment token of payment method %s deleted", request.payment_method_id)

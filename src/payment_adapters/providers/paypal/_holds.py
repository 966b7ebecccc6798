"""Holds at PayPal: an ``intent=AUTHORIZE`` order, authorized at confirm, then its latest
authorization captured (``POST /v2/payments/authorizations/{id}/capture`` with ``amount`` and
``final_capture=true``, so that the rest is released), voided (``…/void``, no body) or
reauthorized for more (``…/reauthorize``).

PayPal reauthorizes only a PayPal-account authorization, after its three-day honor period and
up to 115 % of the original (in the US at most 75 USD more): anything else is
``NotSupportedByProviderError`` (422 ``not_supported_by_provider``). An increase beyond 115 %
(or 75 USD more) is refused before anything is sent.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping
from typing import Any, Final
from urllib.parse import quote

import attrs

from payment_adapters.providers.paypal._client import PayPalClient, no_order
from payment_adapters.providers.paypal._orders import (
    HOLDING,
    authorization_payment,
    capture_payment_reply,
    payment_of,
)
from payment_adapters.providers.paypal._transformers import (
    DECLINE_ISSUES,
    amount_of,
    first_unit,
    last_authorization,
    paypal_money,
)
from payment_core.errors import (
    NotSupportedByProviderError,
    ProviderDeclinedError,
    ProviderRejectedError,
    ProviderUnavailableError,
)
from payment_core.money import Money
from payment_core.ports import (
    CancelPaymentRequest,
    CapturePaymentRequest,
    IncrementAuthorizationRequest,
    ProviderPayment,
    ProviderPaymentStatus,
)

__all__ = ["PayPalHolds", "reauthorization_ceiling"]

logger = logging.getLogger(__name__)

#: A capture of a hold PayPal no longer has: nothing can be taken, nothing was.
_HOLD_GONE: Final = frozenset(
    {"AUTHORIZATION_EXPIRED", "AUTHORIZATION_VOIDED", "AUTHORIZATION_DENIED"}
)
#: A void of a hold released already or lapsed: released all the same.
_RELEASED: Final = frozenset({"PREVIOUSLY_VOIDED", "CANNOT_BE_VOIDED"})
#: PayPal's ceiling of a reauthorization: 115 % of the original, in the US at most 75 USD more.
_CEILING_PERCENT: Final = 115
_US_MAX_INCREASE: Final = Money.parse("75", "USD")


def reauthorization_ceiling(original: Money) -> int:
    """The most (minor units) PayPal reauthorizes a hold of ``original`` for."""
    ceiling = original.amount * _CEILING_PERCENT // 100
    if original.currency == _US_MAX_INCREASE.currency:
        ceiling = min(ceiling, original.amount + _US_MAX_INCREASE.amount)
    return ceiling


def _first_amount(unit: Mapping[str, Any]) -> Money | None:
    """The amount first authorized (a reauthorization's ceiling is relative to it)."""
    payments = unit.get("payments")
    found = payments.get("authorizations") if isinstance(payments, dict) else None
    if isinstance(found, list) and found and isinstance(found[0], dict):
        return paypal_money(found[0].get("amount"))
    return None


def _path_of(auth: Mapping[str, Any] | None) -> str | None:
    ident = auth.get("id") if auth is not None else None
    if not isinstance(ident, str) or not ident:
        return None
    return f"/v2/payments/authorizations/{quote(ident, safe='')}"


class PayPalHolds(PayPalClient):
    """Captures, increases and releases of PayPal holds (a part of ``PayPalProvider``)."""

    async def _authorization(
        self, order_id: str, operation: str
    ) -> tuple[Mapping[str, Any], Mapping[str, Any], str]:
        """The order's purchase unit, its latest authorization and that authorization's path."""
        order = await self._get_order(order_id, operation)
        unit = first_unit(order)
        auth = last_authorization(unit)
        path = _path_of(auth)
        if auth is None or path is None:
            raise ProviderRejectedError(
                reason_code="not_authorized", message="the PayPal order holds nothing"
            )
        return unit, auth, path

    # ------------------------------------------------------------------ capture
    async def capture_payment(self, request: CapturePaymentRequest) -> ProviderPayment:
        order_id = request.provider_payment_id
        if order_id is None:
            raise no_order()
        unit, auth, path = await self._authorization(order_id, "capture_payment")
        hold = authorization_payment(auth, order_id=order_id, unit=unit)
        # final_capture defaults to false at PayPal: without it the rest would stay held.
        body = {"amount": amount_of(request.amount_to_capture), "final_capture": True}

        async def attempt() -> Mapping[str, Any] | str:
            reply = await self._api(
                "POST", f"{path}/capture", json_body=body, request_id=request.idempotency_key
            )
            if reply.ok:
                return reply.object()
            if reply.status == 422:
                issue, message = self._issue(reply)
                if issue in DECLINE_ISSUES:
                    raise ProviderDeclinedError(decline_code=DECLINE_ISSUES[issue], message=message)
                if issue in _HOLD_GONE or issue == "AUTHORIZATION_ALREADY_CAPTURED":
                    return issue
            raise self._error(reply)

        answer = await self._call("capture_payment", attempt)
        if isinstance(answer, str):
            if answer in _HOLD_GONE:
                logger.info("paypal order %s: the hold is gone (%s)", order_id, answer)
                return attrs.evolve(
                    hold,
                    status=ProviderPaymentStatus.CANCELED,
                    amount_capturable=0,
                    authorization_expires_at=None,
                )
            # Captured already (under another request id): the order says by how much, and
            # the services settle only a capture of exactly the amount they asked for.
            order = await self._get_order(order_id, "capture_payment")
            return payment_of(order, expected_id=order_id, awaiting_payer=False)
        return capture_payment_reply(answer, order_id=order_id, auth=auth, hold=hold)

    # ------------------------------------------------------------------ increase
    async def increment_authorization(
        self, request: IncrementAuthorizationRequest
    ) -> ProviderPayment:
        order_id = request.provider_payment_id
        if order_id is None:
            raise no_order()
        unit, auth, path = await self._authorization(order_id, "increment_authorization")
        hold = authorization_payment(auth, order_id=order_id, unit=unit)
        if hold.status is ProviderPaymentStatus.REQUIRES_CAPTURE and hold.amount == request.amount:
            return hold  # reauthorized for this amount already (this increase, again)
        original = _first_amount(unit)
        if original is not None and (
            original.currency != request.amount.currency
            or request.amount.amount > reauthorization_ceiling(original)
        ):
            raise NotSupportedByProviderError.of(
                self._name, "increment_authorization beyond 115% of the original hold"
            )
        body = {"amount": amount_of(request.amount)}

        async def attempt() -> Mapping[str, Any]:
            reply = await self._api(
                "POST", f"{path}/reauthorize", json_body=body, request_id=request.idempotency_key
            )
            if reply.ok:
                return reply.object()
            if reply.status == 422:
                issue, message = self._issue(reply)
                if issue == "REAUTHORIZATION_NOT_SUPPORTED":
                    # A card's authorization, one still in its honor period, or reauthorized
                    # already: PayPal cannot raise it.
                    raise NotSupportedByProviderError.of(self._name, "increment_authorization")
                if issue in DECLINE_ISSUES:
                    raise ProviderDeclinedError(decline_code=DECLINE_ISSUES[issue], message=message)
            raise self._error(reply)

        fresh = await self._call("increment_authorization", attempt)
        if not isinstance(fresh.get("id"), str):
            raise ProviderUnavailableError(message="paypal reply is not an authorization")
        if paypal_money(fresh.get("amount")) is None:
            # A minimal representation: the order holds the new authorization in full.
            unit, fresh, _ = await self._authorization(order_id, "increment_authorization")
        return authorization_payment(fresh, order_id=order_id, unit=unit)

    # ------------------------------------------------------------------ release
    async def cancel_payment(self, request: CancelPaymentRequest) -> None:
        """Void a hold's authorization. An uncaptured ``CAPTURE`` order (or one never
        authorized) cannot be voided through the API: PayPal lets it expire."""
        order_id = request.provider_payment_id
        if order_id is None:
            return
        order = await self._get_order(order_id, "cancel_payment")
        auth = last_authorization(first_unit(order))
        if order.get("intent") != "AUTHORIZE" or auth is None:
            logger.debug("paypal order %s left to expire", order_id)
            return
        path = _path_of(auth)
        if auth.get("status") not in HOLDING or path is None:
            return  # captured, voided or denied: nothing is held

        async def attempt() -> None:
            reply = await self._api("POST", f"{path}/void", request_id=request.idempotency_key)
            if reply.ok:
                return
            issue = self._issue(reply)[0] if reply.status == 422 else ""
            if issue in _RELEASED:
                return
            if issue == "PREVIOUSLY_CAPTURED":
                # Taken at PayPal while released here: never silent, someone has to look.
                logger.error("paypal order %s: a released hold was captured there", order_id)
            raise self._error(reply)

        await self._call("cancel_payment", attempt)

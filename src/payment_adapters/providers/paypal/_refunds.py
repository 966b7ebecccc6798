"""Refunds of an order's capture (``POST /v2/payments/captures/{id}/refund``), found again by
the attempt's key in ``custom_id`` when an answer was lost."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any, Final

from payment_adapters.providers.paypal._client import PayPalClient, no_order
from payment_adapters.providers.paypal._transformers import (
    FINAL_REFUND_ISSUES,
    amount_of,
    first_unit,
    last_capture,
    paypal_money,
    refund_reply,
)
from payment_core.errors import ProviderDeclinedError, ProviderRejectedError
from payment_core.money import Money
from payment_core.ports import ProviderRefund, RefundRequest, RetrieveRefundRequest

__all__ = ["PayPalRefunds"]

_MAX_BODY_FIELD: Final = 127


class PayPalRefunds(PayPalClient):
    """The port's refund operations over PayPal's captures (a part of ``PayPalProvider``)."""

    async def _capture_id(self, order_id: str, operation: str) -> tuple[str, Mapping[str, Any]]:
        order = await self._get_order(order_id, operation)
        unit = first_unit(order)
        capture = last_capture(unit)
        if capture is None or not isinstance(capture.get("id"), str):
            raise ProviderRejectedError(
                reason_code="not_captured", message="the PayPal order has no capture to refund"
            )
        return str(capture["id"]), unit

    async def _post_refund(self, capture_id: str, amount: Money, key: str) -> ProviderRefund:
        body: dict[str, Any] = {"amount": amount_of(amount), "custom_id": key[:_MAX_BODY_FIELD]}

        async def attempt() -> Mapping[str, Any]:
            reply = await self._api(
                "POST", f"/v2/payments/captures/{capture_id}/refund", json_body=body, request_id=key
            )
            if reply.ok:
                return reply.object()
            if reply.status == 422:
                issue, message = self._issue(reply)
                if issue in FINAL_REFUND_ISSUES:
                    raise ProviderRejectedError(reason_code=issue.lower(), message=message)
                # Any other refusal is definite: nothing moved; a later attempt may pass.
                raise ProviderDeclinedError(decline_code=issue.lower(), message=message)
            raise self._error(reply)

        refund = await self._call("refund", attempt)
        if paypal_money(refund.get("amount")) is None and isinstance(refund.get("id"), str):
            refund = await self._get_refund(str(refund["id"]))  # a minimal representation
        return refund_reply(refund)

    async def _get_refund(self, refund_id: str) -> Mapping[str, Any]:
        async def attempt() -> Mapping[str, Any]:
            reply = await self._api("GET", f"/v2/payments/refunds/{refund_id}")
            if not reply.ok:
                raise self._error(reply)
            return reply.object()

        return await self._call("retrieve_refund", attempt)

    async def refund(self, request: RefundRequest) -> ProviderRefund:
        if request.provider_payment_id is None:
            raise no_order()
        capture_id, _ = await self._capture_id(request.provider_payment_id, "refund")
        return await self._post_refund(capture_id, request.amount, request.idempotency_key)

    async def retrieve_refund(self, request: RetrieveRefundRequest) -> ProviderRefund:
        if request.provider_refund_id is not None:
            return refund_reply(await self._get_refund(request.provider_refund_id))
        if request.provider_payment_id is None:
            raise no_order()
        capture_id, unit = await self._capture_id(request.provider_payment_id, "retrieve_refund")
        payments = unit.get("payments")
        refunds = payments.get("refunds") if isinstance(payments, dict) else None
        for refund in refunds if isinstance(refunds, list) else ():
            if isinstance(refund, dict) and refund.get("custom_id") == request.idempotency_key:
                if paypal_money(refund.get("amount")) is None:
                    return refund_reply(await self._get_refund(str(refund.get("id"))))
                return refund_reply(refund)
        # No refund carries this attempt's key: it never happened; make it now, same key.
        return await self._post_refund(capture_id, request.amount, request.idempotency_key)

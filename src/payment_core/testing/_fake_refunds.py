"""The fake provider's refunds: one per idempotency key, never more than was taken; a card
whose token says so fails every refund (``pm_card_refundFail``)."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any
from uuid import UUID

from payment_core.errors import ProviderDeclinedError
from payment_core.money import Money
from payment_core.ports import (
    ProviderPaymentStatus,
    ProviderRefund,
    ProviderRefundStatus,
    RefundRequest,
    RetrieveRefundRequest,
)
from payment_core.testing._fake_holds import unexpected_state
from payment_core.testing._fake_state import Intent, forget_oldest, suffix
from payment_core.testing._fake_tokens import FakeToken

__all__ = ["FakeRefunds"]

_NOTHING_TAKEN = (ProviderPaymentStatus.REQUIRES_CAPTURE, ProviderPaymentStatus.CANCELED)


class FakeRefunds:
    """Refunds of the fake provider (a part of ``FakeProvider``)."""

    _refunds: dict[str, ProviderRefund]
    _max_remembered: int
    _call: Callable[..., Any]
    _intent_for: Callable[[str | None, UUID, Money], Intent]
    _token_of: Callable[[str | None], FakeToken | None]

    async def refund(self, request: RefundRequest) -> ProviderRefund:
        reply: ProviderRefund = self._call(
            "refund", request.idempotency_key, lambda: self._refund(request)
        )
        return reply

    def _refund(self, request: RefundRequest) -> ProviderRefund:
        existing = self._refunds.get(request.idempotency_key)
        if existing is not None:
            return existing  # same key, same answer: a retry never refunds twice
        intent = self._intent_for(request.provider_payment_id, request.payment_id, request.amount)
        method = request.payment_method or intent.payment_method
        if intent.status is ProviderPaymentStatus.REQUIRES_PAYMENT_METHOD and method:
            intent.status = ProviderPaymentStatus.SUCCEEDED  # a restarted process, see retrieve
            intent.payment_method = method
        if intent.status in (
            ProviderPaymentStatus.REQUIRES_CAPTURE,
            ProviderPaymentStatus.CANCELED,
        ):
            raise unexpected_state(intent)  # nothing was taken: nothing to give back
        token = self._token_of(method)
        if token is not None and token.refunds_fail:
            raise ProviderDeclinedError(
                decline_code="refund_failed", message="The refund could not be processed."
            )
        refund = ProviderRefund(
            provider_refund_id=f"re_fake_{suffix(request.refund_id)}",
            status=ProviderRefundStatus.SUCCEEDED,
            amount=request.amount,
        )
        self._refunds[request.idempotency_key] = refund
        forget_oldest(self._refunds, self._max_remembered)
        intent.refunded += request.amount.amount
        return refund

    async def retrieve_refund(self, request: RetrieveRefundRequest) -> ProviderRefund:
        reply: ProviderRefund = self._call(
            "retrieve_refund", request.idempotency_key, lambda: self._retrieve_refund(request)
        )
        return reply

    def _retrieve_refund(self, request: RetrieveRefundRequest) -> ProviderRefund:
        existing = self._refunds.get(request.idempotency_key)
        if existing is not None:
            return existing
        # Unknown here: ask again with the same key, which is what retrieving by key means.
        return self._refund(
            RefundRequest(
                refund_id=request.refund_id,
                payment_id=request.payment_id or UUID(int=0),
                provider_payment_id=request.provider_payment_id,
                amount=request.amount,
                idempotency_key=request.idempotency_key,
                reason=request.reason,
                payment_method=request.payment_method,
            )
        )

    def refunds_made(self, refund_id: UUID) -> list[ProviderRefund]:
        """The refunds this provider made for one of our refunds (whatever the keys used).

        More than one would mean money given back twice: tests assert it never happens.
        """
        provider_refund_id = f"re_fake_{suffix(refund_id)}"
        return [r for r in self._refunds.values() if r.provider_refund_id == provider_refund_id]

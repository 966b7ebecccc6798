"""Stripe's holds: a PaymentIntent with ``capture_method=manual`` is captured (whole or part,
``amount_to_capture``; Stripe releases the rest), raised (``increment_authorization``) or
released (``cancel``, in :class:`StripeProvider`)."""

from __future__ import annotations

from typing import TYPE_CHECKING

from payment_adapters.providers.stripe._base import StripeBase, never_set_up
from payment_adapters.providers.stripe._transformers import EXPAND, STRIPE_UNITS, card_details
from payment_core.errors import NotSupportedByProviderError, ProviderRejectedError
from payment_core.ports import (
    CapturePaymentRequest,
    IncrementAuthorizationRequest,
    ProviderPayment,
    ProviderPaymentStatus,
)

if TYPE_CHECKING:
    from stripe.params import (
        PaymentIntentCaptureParams,
        PaymentIntentIncrementAuthorizationParams,
    )

__all__ = ["StripeHolds"]


class StripeHolds(StripeBase):
    """Captures and increases of Stripe's holds (a part of ``StripeProvider``)."""

    async def capture_payment(self, request: CapturePaymentRequest) -> ProviderPayment:
        """Take ``amount_to_capture`` of the hold; the reply's ``amount_received`` says what
        was taken, and the services settle nothing else."""
        intent_id = request.provider_payment_id
        if intent_id is None:
            raise never_set_up()
        params: PaymentIntentCaptureParams = {
            "amount_to_capture": STRIPE_UNITS.to_provider(request.amount_to_capture),
            "expand": list(EXPAND),
        }
        try:
            intent = await self._call(
                "capture_payment",
                lambda: self._client.v1.payment_intents.capture_async(
                    intent_id, params, {"idempotency_key": request.idempotency_key}
                ),
            )
        except ProviderRejectedError as exc:
            if exc.reason_code != "payment_intent_unexpected_state":
                raise
            # No longer held: captured (by this capture, whose answer and key outlived each
            # other, or by another) or let go. The intent's own state is the answer; the
            # services accept it only for exactly this capture's amount.
            payment = await self._retrieve(intent_id, "capture_payment")
            if payment.status is ProviderPaymentStatus.REQUIRES_CAPTURE:
                raise
            return payment
        return self._payment(intent.to_dict(), expected_id=intent_id, operation="capture_payment")

    async def increment_authorization(
        self, request: IncrementAuthorizationRequest
    ) -> ProviderPayment:
        """Raise the hold to ``request.amount``. Stripe can only for an intent that asked for it
        when it was created and a charge whose ``incremental_authorization.status`` is
        ``available`` (brand, pricing, region): any other is ``NotSupportedByProviderError``,
        before anything is sent."""
        intent_id = request.provider_payment_id
        if intent_id is None:
            raise never_set_up()
        obj = await self._intent(intent_id, "increment_authorization")
        current = self._payment(obj, expected_id=intent_id, operation="increment_authorization")
        if current.status is ProviderPaymentStatus.REQUIRES_CAPTURE:
            if current.amount == request.amount:
                return current  # raised already: this increase's answer was lost
            eligible = card_details(obj).get("incremental_authorization")
            if not isinstance(eligible, dict) or eligible.get("status") != "available":
                raise NotSupportedByProviderError.of(self.name, "increment_authorization")
        params: PaymentIntentIncrementAuthorizationParams = {
            "amount": STRIPE_UNITS.to_provider(request.amount),
            "expand": list(EXPAND),
        }
        intent = await self._call(
            "increment_authorization",
            lambda: self._client.v1.payment_intents.increment_authorization_async(
                intent_id, params, {"idempotency_key": request.idempotency_key}
            ),
        )
        return self._payment(
            intent.to_dict(), expected_id=intent_id, operation="increment_authorization"
        )

"""The fake provider's holds, as Stripe makes them: a manual confirm authorizes, a capture
takes all or part (the rest is released), an increase is approved unless the token's issuer
declines increases, and a hold lasts ``authorization_ttl`` on the provider's clock."""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime, timedelta
from typing import Any, TypeVar
from uuid import UUID

from payment_core.errors import ProviderDeclinedError, ProviderRejectedError
from payment_core.model.payment import CaptureMethod
from payment_core.money import Money
from payment_core.ports import (
    CapturePaymentRequest,
    IncrementAuthorizationRequest,
    ProviderPayment,
    ProviderPaymentStatus,
)
from payment_core.testing._fake_state import Intent
from payment_core.testing._fake_tokens import DECLINE_MESSAGES, FakeToken

__all__ = ["FakeHolds", "unexpected_state"]

T = TypeVar("T")


def unexpected_state(intent: Intent) -> ProviderRejectedError:
    return ProviderRejectedError(
        reason_code="payment_intent_unexpected_state",
        message=f"This PaymentIntent is {intent.status.value}.",
    )


class FakeHolds:
    """Captures and increases of the fake provider's holds (a part of ``FakeProvider``)."""

    authorization_ttl: timedelta
    _now: Callable[[], datetime]
    _call: Callable[..., Any]
    _reply: Callable[..., ProviderPayment]
    _intent_for: Callable[[str | None, UUID, Money], Intent]
    _recall: Callable[[Intent, str | None, CaptureMethod], None]
    _token_of: Callable[[str | None], FakeToken | None]
    open_dispute: Callable[..., str]

    def _hold(self, intent: Intent) -> None:
        """Authorized: held whole until ``authorization_ttl`` from now."""
        intent.status = ProviderPaymentStatus.REQUIRES_CAPTURE
        intent.amount_capturable = intent.amount.amount
        intent.expires_at = self._now() + self.authorization_ttl

    def _expire_if_due(self, intent: Intent) -> None:
        """A hold past its deadline is cancelled, as Stripe cancels it (``automatic``)."""
        if (
            intent.status is ProviderPaymentStatus.REQUIRES_CAPTURE
            and intent.expires_at is not None
            and self._now() >= intent.expires_at
        ):
            intent.status = ProviderPaymentStatus.CANCELED
            intent.amount_capturable = 0

    async def capture_payment(self, request: CapturePaymentRequest) -> ProviderPayment:
        reply: ProviderPayment = self._call(
            "capture_payment", request.idempotency_key, lambda: self._capture(request)
        )
        return reply

    def _capture(self, request: CapturePaymentRequest) -> ProviderPayment:
        intent = self._intent_for(request.provider_payment_id, request.payment_id, request.amount)
        self._recall(intent, request.payment_method, CaptureMethod.MANUAL)
        if intent.capture_key == request.idempotency_key:
            return self._reply(intent)  # a retry with the same key: the same answer
        self._expire_if_due(intent)
        if intent.status is not ProviderPaymentStatus.REQUIRES_CAPTURE:
            raise unexpected_state(intent)
        wanted = request.amount_to_capture
        if wanted.currency != intent.amount.currency or not (
            0 < wanted.amount <= intent.amount_capturable
        ):
            raise ProviderRejectedError(
                reason_code="amount_too_large",
                message="The amount to capture is more than the amount capturable.",
            )
        intent.status = ProviderPaymentStatus.SUCCEEDED
        intent.amount_received = wanted.amount
        intent.amount_capturable = 0
        intent.capture_key = request.idempotency_key
        token = self._token_of(intent.payment_method)
        if token is not None and token.disputes:
            self.open_dispute(intent.id)  # what was captured is disputed
        return self._reply(intent)

    async def increment_authorization(
        self, request: IncrementAuthorizationRequest
    ) -> ProviderPayment:
        reply: ProviderPayment = self._call(
            "increment_authorization", request.idempotency_key, lambda: self._increment(request)
        )
        return reply

    def _increment(self, request: IncrementAuthorizationRequest) -> ProviderPayment:
        intent = self._intent_for(
            request.provider_payment_id, request.payment_id, request.current_amount
        )
        self._recall(intent, request.payment_method, CaptureMethod.MANUAL)
        if intent.increments.get(request.idempotency_key) == request.amount.amount:
            return self._reply(intent)  # made under this key already
        self._expire_if_due(intent)
        if intent.status is not ProviderPaymentStatus.REQUIRES_CAPTURE:
            raise unexpected_state(intent)
        if (
            request.amount.currency != intent.amount.currency
            or request.amount.amount <= intent.amount.amount
        ):
            raise ProviderRejectedError(
                reason_code="parameter_invalid_integer",
                message="The new amount must be greater than the amount authorized.",
            )
        token = self._token_of(intent.payment_method)
        if token is not None and token.increments_declined:
            raise ProviderDeclinedError(
                decline_code="card_declined", message=DECLINE_MESSAGES["card_declined"]
            )
        intent.amount_capturable += request.amount.amount - intent.amount.amount
        intent.amount = request.amount
        intent.increments[request.idempotency_key] = request.amount.amount
        return self._reply(intent)

"""The fake provider's saved cards: a payment with ``setup_future_usage`` saves its card when
it succeeds (or is authorized), a saved card charged without the guest does what its test
token says (``pm_card_offSessionAuthRequired``, ``pm_card_offSessionDeclined``), and a detached
card is refused for good."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from payment_core.errors import ProviderDeclinedError, ProviderRejectedError
from payment_core.ports import (
    DetachPaymentMethodRequest,
    ProviderPaymentStatus,
    SavedPaymentMethod,
)
from payment_core.testing._fake_state import Intent, suffix
from payment_core.testing._fake_tokens import (
    DECLINE_MESSAGES,
    FAKE_TOKENS,
    FakeToken,
    saved_token,
    token_of_saved,
)

__all__ = ["FakeSavedCards"]

_HELD_OR_TAKEN = (ProviderPaymentStatus.SUCCEEDED, ProviderPaymentStatus.REQUIRES_CAPTURE)


class FakeSavedCards:
    """Saving, charging and detaching the fake provider's saved cards (a part of
    ``FakeProvider``)."""

    _detached: set[str]
    _call: Callable[..., Any]

    @staticmethod
    def _token_of(method: str | None) -> FakeToken | None:
        """The test token behind ``method`` (a test token, or a card saved from one)."""
        if method is None:
            return None
        return FAKE_TOKENS.get(token_of_saved(method) or method)

    def _check_saved_charge(self, method: str, *, off_session: bool) -> None:
        """Refuse a detached card; decline what its token declines without the guest."""
        if token_of_saved(method) is None:
            return
        if method in self._detached:
            raise ProviderRejectedError(
                reason_code="payment_method_unexpected_state",
                message="This PaymentMethod was detached and may not be used again.",
            )
        token = self._token_of(method)
        if not off_session or token is None:
            return
        outcome = token.off_session_outcome()
        if outcome != "ok":
            code = outcome if outcome == "authentication_required" else "card_declined"
            raise ProviderDeclinedError(decline_code=code, message=DECLINE_MESSAGES[code])

    def _saved_for(self, intent: Intent) -> SavedPaymentMethod | None:
        """The card a payment that asked for it saves (or saved) once it is held or taken."""
        if intent.saved is not None:
            return intent.saved
        if intent.setup_future_usage is None or intent.payment_method is None:
            return None
        original = token_of_saved(intent.payment_method) or intent.payment_method
        token = FAKE_TOKENS.get(original)
        if token is None:
            return None
        customer = intent.customer_id or f"cus_fake_{suffix(intent.payment_id)[:24]}"
        return SavedPaymentMethod(
            token=saved_token(intent.payment_id, original), customer_id=customer, card=token.card
        )

    def _save_card(self, intent: Intent) -> None:
        """Save the card of a payment that asked for it, once it is held or taken."""
        if intent.saved is None and intent.status in _HELD_OR_TAKEN:
            intent.saved = self._saved_for(intent)
            if intent.saved is not None:
                intent.customer_id = intent.saved.customer_id

    async def detach_payment_method(self, request: DetachPaymentMethodRequest) -> None:
        self._call(
            "detach_payment_method",
            request.idempotency_key,
            lambda: self._detached.add(request.provider_token),
        )

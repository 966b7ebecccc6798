"""What a provider adapter does not make yet: holds, saved cards and off-session charges.

An adapter takes :class:`WithoutHolds` among its bases until it makes them: its capabilities
say it can do none of them (so the core refuses such a request with 422
``not_supported_by_provider`` before anything changes or is sent), the port's operations
refuse the same way, and :func:`refuse_unsupported` refuses a create or confirm that asks for
any of them, so that nothing is half done silently.
"""

from __future__ import annotations

from typing import Final

from payment_core.errors import NotSupportedByProviderError
from payment_core.model.payment import CaptureMethod
from payment_core.ports import (
    CapturePaymentRequest,
    ConfirmPaymentRequest,
    CreatePaymentRequest,
    DetachPaymentMethodRequest,
    IncrementAuthorizationRequest,
    ProviderCapabilities,
    ProviderPayment,
)

__all__ = ["WithoutHolds", "refuse_unsupported"]


def refuse_unsupported(
    provider: str, request: CreatePaymentRequest | ConfirmPaymentRequest
) -> None:
    """Raise ``NotSupportedByProviderError`` for a request that asks for a hold, a card to
    save or a charge of a saved card."""
    for asked, operation in (
        (request.capture_method is CaptureMethod.MANUAL, "capture_method=manual"),
        (request.setup_future_usage is not None, "setup_future_usage"),
        (request.off_session or request.saved_payment_method is not None, "off_session"),
    ):
        if asked:
            raise NotSupportedByProviderError.of(provider, operation)


class WithoutHolds:
    """The port's hold and saved-card operations, refused."""

    #: Takes money at once, and nothing else.
    capabilities: Final = ProviderCapabilities()

    @property
    def name(self) -> str:
        raise NotImplementedError  # pragma: no cover - each adapter names itself

    async def capture_payment(self, request: CapturePaymentRequest) -> ProviderPayment:
        raise NotSupportedByProviderError.of(self.name, "capture")

    async def increment_authorization(
        self, request: IncrementAuthorizationRequest
    ) -> ProviderPayment:
        raise NotSupportedByProviderError.of(self.name, "increment_authorization")

    async def detach_payment_method(self, request: DetachPaymentMethodRequest) -> None:
        raise NotSupportedByProviderError.of(self.name, "detach_payment_method")

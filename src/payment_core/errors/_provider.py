"""What a provider answered that the core must act on: declines, outages, refusals."""

from __future__ import annotations

from typing import ClassVar

import attrs

from payment_core.errors._base import PaymentError
from payment_core.outside_text import screen_code, screen_text


class ProviderError(PaymentError):
    """Root of what a payment provider adapter may raise (no SDK exception escapes an adapter).

    Its codes and messages come from the provider: they are screened as they are set (see
    :mod:`payment_core.outside_text`), so what is stored or shown from them never holds a card
    number, a control character or more than fits.
    """

    code: ClassVar[str] = "provider_error"


def _message(value: object) -> str:
    return screen_text(value) or ""


def _decline_code(value: object) -> str:
    return screen_code(value) or "declined"


def _reason_code(value: object) -> str:
    return screen_code(value) or "provider_rejected"


@attrs.frozen(auto_exc=True)
class ProviderDeclinedError(ProviderError):
    """The provider refused the operation for a definite reason (a card decline)."""

    code: ClassVar[str] = "provider_declined"
    decline_code: str = attrs.field(converter=_decline_code)
    message: str = attrs.field(converter=_message)

    def describe(self) -> str:
        return f"declined: {self.decline_code}"


@attrs.frozen(auto_exc=True)
class ProviderUnavailableError(ProviderError):
    """The outcome is unknown (timeout, connection error, 5xx, rate limit).

    The operation may or may not have happened at the provider; it is retried with the same
    idempotency key or settled by reconciliation, never guessed to have failed.
    """

    code: ClassVar[str] = "provider_unavailable"
    message: str = attrs.field(converter=_message)
    retry_after_seconds: int | None = None

    def describe(self) -> str:
        return f"provider unavailable: {self.message}"


@attrs.frozen(auto_exc=True)
class ProviderRejectedError(ProviderError):
    """The provider rejected the request as invalid; retrying it will not help."""

    code: ClassVar[str] = "provider_rejected"
    reason_code: str = attrs.field(converter=_reason_code)
    message: str = attrs.field(converter=_message)

    def describe(self) -> str:
        return f"rejected by provider: {self.reason_code}"


@attrs.frozen(auto_exc=True)
class CardDeclinedError(ProviderDeclinedError):
    """The card's issuer declined a change to a hold (an incremental authorization): the hold
    stays as it was."""

    code: ClassVar[str] = "card_declined"


@attrs.frozen(auto_exc=True)
class NotSupportedByProviderError(ProviderRejectedError):
    """The provider cannot do what was asked (a hold, a partial capture, an increment, a saved
    card): refused before anything changes.

    Build it with :meth:`of`; ``reason_code`` and ``message`` say the same for the code paths
    that treat every rejection alike.
    """

    code: ClassVar[str] = "not_supported_by_provider"
    provider: str = attrs.field(default="", kw_only=True)
    operation: str = attrs.field(default="", kw_only=True)

    @classmethod
    def of(cls, provider: str, operation: str) -> NotSupportedByProviderError:
        return cls(
            reason_code="not_supported_by_provider",
            message=f"{operation} is not supported by provider {provider}",
            provider=provider,
            operation=operation,
        )

    def describe(self) -> str:
        return f"{self.operation} is not supported by payment provider {self.provider[:40]}"

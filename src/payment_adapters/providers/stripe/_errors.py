"""An SDK error as one of the three errors the port allows, and a decline's code."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import stripe as stripe_sdk

from payment_adapters.providers._common import Redactor, retry_after
from payment_core.errors import (
    ProviderDeclinedError,
    ProviderError,
    ProviderRejectedError,
    ProviderUnavailableError,
)
from payment_core.intent_events import nonempty

__all__ = ["decline_code", "error_from"]


def error_from(exc: stripe_sdk.StripeError, redactor: Redactor) -> ProviderError:
    """An SDK error as one of the three errors the port allows; no SDK type escapes."""
    body = exc.json_body.get("error") if isinstance(exc.json_body, dict) else None
    error: Mapping[str, Any] = body if isinstance(body, dict) else {}
    message = redactor.clean(error.get("message"))
    code = nonempty(error.get("code")) or nonempty(exc.code)
    if isinstance(exc, stripe_sdk.CardError):
        return ProviderDeclinedError(
            decline_code=decline_code(error) or code or "card_declined",
            message=message or "The card was declined.",
        )
    if isinstance(exc, stripe_sdk.RateLimitError):
        return ProviderUnavailableError(
            message="stripe rate limit (429)",
            retry_after_seconds=retry_after(exc.headers),
        )
    if isinstance(exc, stripe_sdk.APIConnectionError):
        return ProviderUnavailableError(message="stripe connection failed or timed out")
    if isinstance(exc, stripe_sdk.AuthenticationError):
        # Stripe's message quotes part of the key: say nothing of it.
        return ProviderRejectedError(
            reason_code="authentication_failed", message="Stripe refused the API key."
        )
    if isinstance(exc, stripe_sdk.PermissionError):
        return ProviderRejectedError(
            reason_code="permission_denied",
            message=message or "The API key may not do this.",
        )
    if isinstance(exc, stripe_sdk.IdempotencyError):
        return ProviderRejectedError(
            reason_code="idempotency_error", message=message or "Idempotency key misuse."
        )
    if isinstance(exc, stripe_sdk.InvalidRequestError):
        return ProviderRejectedError(
            reason_code=code or "invalid_request", message=message or "Invalid request."
        )
    status = exc.http_status
    return ProviderUnavailableError(
        message=f"stripe answered {status}" if status else "stripe gave no usable answer",
        retry_after_seconds=retry_after(exc.headers),
    )


def decline_code(error: Mapping[str, Any]) -> str | None:
    """The decline code of an error object, else its code: ``generic_decline`` says no more
    than ``card_declined``, so the code is reported then."""
    decline = nonempty(error.get("decline_code"))
    return decline if decline and decline != "generic_decline" else nonempty(error.get("code"))

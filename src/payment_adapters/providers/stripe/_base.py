"""What the Stripe adapter's operations share: the SDK's client with its API version, the
calls through the shared retry loop, and the reading of a PaymentIntent."""

from __future__ import annotations

import logging
import re
from collections.abc import Awaitable, Callable, Mapping, Sequence
from typing import Any, Final, TypeVar

import stripe as stripe_sdk

from payment_adapters.providers._common import (
    Backoff,
    Redactor,
    call_with_retries,
    redact_text,
)
from payment_adapters.providers.ratelimit import TokenBucket
from payment_adapters.providers.stripe._errors import error_from
from payment_adapters.providers.stripe._transformers import EXPAND, payment_reply
from payment_core import signing
from payment_core.errors import ProviderRejectedError
from payment_core.ports import ProviderPayment

__all__ = ["STRIPE_API_BASE", "STRIPE_API_VERSION", "StripeBase", "never_set_up"]

logger = logging.getLogger(__name__)

T = TypeVar("T")

STRIPE_API_BASE: Final = "https://api.stripe.com"
#: The API version the requests and replies here are written for, sent on every request. The
#: first with ``allowed_payment_method_types`` on PaymentIntents; stripe-python 15.4.0 pins it.
STRIPE_API_VERSION: Final = "2026-07-29.dahlia"


class _SdkLogScrubber(logging.Filter):
    """Keeps request and response payloads out of the Stripe SDK's own log records.

    At DEBUG the SDK logs every request's parameters and every response body (which holds the
    intent's client secret); at INFO it logs provider error messages, which may quote what was
    sent. Payloads are dropped and the rest is redacted; the record itself still goes through.
    """

    _PAYLOAD = re.compile(r"\b(post_data|body)=('(?:[^'\\]|\\.)*'|\"(?:[^\"\\]|\\.)*\"|\S+)")

    def filter(self, record: logging.LogRecord) -> bool:
        if isinstance(record.msg, str) and not record.args:
            record.msg = redact_text(self._PAYLOAD.sub(r"\1=[not logged]", record.msg))
        return True


_SCRUBBER: Final = _SdkLogScrubber()


def _scrub_sdk_logs() -> None:
    sdk_logger = logging.getLogger("stripe")
    if _SCRUBBER not in sdk_logger.filters:
        sdk_logger.addFilter(_SCRUBBER)


def never_set_up() -> ProviderRejectedError:
    return ProviderRejectedError(
        reason_code="unknown_provider_payment", message="this payment was never set up at Stripe"
    )


class StripeBase:
    """The client, the calls and the reading of a PaymentIntent, which every group of
    operations (:mod:`._holds`, :mod:`._customers`, :class:`StripeProvider`) shares.

    ``webhook_secrets`` are the endpoint's signing secrets (several while one rotates);
    ``api_base`` points the SDK at another host (a local stand-in); ``return_url`` is where
    3-D Secure sends the customer back (without it Stripe answers ``use_stripe_sdk``, which
    the browser completes with the client secret).
    """

    def __init__(
        self,
        api_key: str,
        *,
        webhook_secrets: Sequence[str] = (),
        api_base: str | None = None,
        return_url: str | None = None,
        timeout: float = 30.0,
        backoff: Backoff | None = None,
        rate_limiter: TokenBucket | None = None,
        webhook_tolerance_seconds: int = signing.DEFAULT_TOLERANCE_SECONDS,
        name: str = "stripe",
        http_client: stripe_sdk.HTTPClient | None = None,
    ) -> None:
        if not api_key:
            raise ValueError("a Stripe API key is required")
        _scrub_sdk_logs()
        self._name = name
        self._webhook_secrets = tuple(s for s in webhook_secrets if s)
        self._return_url = return_url
        self._backoff = backoff or Backoff()
        self._limiter = rate_limiter if rate_limiter is not None else TokenBucket(25.0)
        self._tolerance = webhook_tolerance_seconds
        self._redactor = Redactor([api_key, *self._webhook_secrets])
        self._http = http_client or stripe_sdk.HTTPXClient(timeout=timeout)
        self._client = stripe_sdk.StripeClient(
            api_key,
            stripe_version=STRIPE_API_VERSION,
            base_addresses={"api": (api_base or STRIPE_API_BASE).rstrip("/")},
            http_client=self._http,
            max_network_retries=0,
        )

    def __repr__(self) -> str:
        return f"StripeProvider(name={self._name!r})"

    @property
    def name(self) -> str:
        return self._name

    #: Stripe's 3-D Secure is finished in the browser with the client secret.
    takes_verification_token: Final = False

    async def aclose(self) -> None:
        """Close the HTTP connections."""
        close: Callable[[], Awaitable[None]] = self._http.close_async
        await close()

    # ------------------------------------------------------------------ calls
    async def _call(self, operation: str, send: Callable[[], Awaitable[T]]) -> T:
        async def attempt() -> T:
            await self._limiter.acquire()
            try:
                return await send()
            except stripe_sdk.StripeError as exc:
                raise error_from(exc, self._redactor) from None

        return await call_with_retries(
            attempt, backoff=self._backoff, provider=self._name, operation=operation, logger=logger
        )

    def _payment(
        self, obj: Mapping[str, Any], *, expected_id: str | None, operation: str
    ) -> ProviderPayment:
        return payment_reply(obj, self._redactor, expected_id=expected_id, operation=operation)

    async def _intent(self, intent_id: str, operation: str) -> dict[str, Any]:
        """The intent as Stripe has it now (expanded), not yet read."""
        intent = await self._call(
            operation,
            lambda: self._client.v1.payment_intents.retrieve_async(
                intent_id, {"expand": list(EXPAND)}
            ),
        )
        return intent.to_dict()

    async def _retrieve(self, intent_id: str, operation: str) -> ProviderPayment:
        obj = await self._intent(intent_id, operation)
        return self._payment(obj, expected_id=intent_id, operation=operation)

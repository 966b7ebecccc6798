"""The Stripe adapter: its operations over the SDK's async client."""

from __future__ import annotations

import logging
import re
from collections.abc import Awaitable, Callable, Mapping, Sequence
from datetime import datetime
from typing import TYPE_CHECKING, Any, Final, TypeVar

import stripe as stripe_sdk

from payment_adapters.providers._common import (
    Backoff,
    Redactor,
    call_with_retries,
    redact_text,
    refuse_raw_card_data,
)
from payment_adapters.providers._unsupported import WithoutHolds, refuse_unsupported
from payment_adapters.providers.ratelimit import TokenBucket
from payment_adapters.providers.stripe import _webhooks
from payment_adapters.providers.stripe._disputes import StripeDisputes
from payment_adapters.providers.stripe._transformers import (
    EXPAND,
    error_from,
    intent_params,
    payment_reply,
    refund_params,
    refund_reply,
)
from payment_core import signing
from payment_core.errors import ProviderDeclinedError, ProviderRejectedError
from payment_core.intent_events import nonempty
from payment_core.ports import (
    CancelPaymentRequest,
    ConfirmPaymentRequest,
    CreatePaymentRequest,
    ProviderPayment,
    ProviderPaymentStatus,
    ProviderRefund,
    RefundRequest,
    RetrievePaymentRequest,
    RetrieveRefundRequest,
    WebhookEvent,
)

if TYPE_CHECKING:
    from stripe.params import PaymentIntentConfirmParams

__all__ = ["STRIPE_API_BASE", "STRIPE_API_VERSION", "StripeProvider"]

logger = logging.getLogger(__name__)

T = TypeVar("T")

STRIPE_API_BASE: Final = "https://api.stripe.com"
#: The API version the requests and replies here are written for, sent on every request. The
#: first with ``allowed_payment_method_types`` on PaymentIntents; stripe-python 15.4.0 pins it.
STRIPE_API_VERSION: Final = "2026-07-29.dahlia"
_REFUND_PAGES: Final = 10


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


def _never_set_up() -> ProviderRejectedError:
    return ProviderRejectedError(
        reason_code="unknown_provider_payment", message="this payment was never set up at Stripe"
    )


class StripeProvider(WithoutHolds, StripeDisputes):
    """The ``PaymentProvider`` port over Stripe's PaymentIntents and Refunds.

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

    # ------------------------------------------------------------------ payments
    async def create_payment(self, request: CreatePaymentRequest) -> ProviderPayment:
        refuse_unsupported(self.name, request)
        refuse_raw_card_data(payment_method=request.payment_method)
        params = intent_params(
            request.payment_id,
            request.amount,
            payment_method=request.payment_method,
            metadata=request.metadata,
            description=request.description,
        )
        intent = await self._call(
            "create_payment",
            lambda: self._client.v1.payment_intents.create_async(
                params, {"idempotency_key": request.idempotency_key}
            ),
        )
        return self._payment(intent.to_dict(), expected_id=None, operation="create_payment")

    async def confirm_payment(self, request: ConfirmPaymentRequest) -> ProviderPayment:
        refuse_unsupported(self.name, request)
        refuse_raw_card_data(payment_method=request.payment_method)
        intent_id = request.provider_payment_id
        if intent_id is None:
            # Never set up (not through the services): create and confirm in one call.
            create = intent_params(
                request.payment_id,
                request.amount,
                payment_method=request.payment_method,
                confirm=True,
            )
            if self._return_url:
                create["return_url"] = self._return_url
            intent = await self._call(
                "confirm_payment",
                lambda: self._client.v1.payment_intents.create_async(
                    create, {"idempotency_key": request.idempotency_key}
                ),
            )
            return self._payment(intent.to_dict(), expected_id=None, operation="confirm_payment")
        params: PaymentIntentConfirmParams = {
            "payment_method": request.payment_method,
            "expand": list(EXPAND),
        }
        if self._return_url:
            params["return_url"] = self._return_url
        try:
            intent = await self._call(
                "confirm_payment",
                lambda: self._client.v1.payment_intents.confirm_async(
                    intent_id, params, {"idempotency_key": request.idempotency_key}
                ),
            )
        except ProviderRejectedError as exc:
            if exc.reason_code != "payment_intent_unexpected_state":
                raise
            # Confirmed already (by the customer, or by a call whose key has expired): the
            # intent's own state is the answer, not a rejection.
            return await self._retrieve(intent_id, "confirm_payment")
        return self._payment(intent.to_dict(), expected_id=intent_id, operation="confirm_payment")

    async def _retrieve(self, intent_id: str, operation: str) -> ProviderPayment:
        intent = await self._call(
            operation,
            lambda: self._client.v1.payment_intents.retrieve_async(
                intent_id, {"expand": list(EXPAND)}
            ),
        )
        return self._payment(intent.to_dict(), expected_id=intent_id, operation=operation)

    async def retrieve_payment(self, request: RetrievePaymentRequest) -> ProviderPayment:
        """Where the intent stands; an intent our confirm never reached is confirmed now.

        The services ask only about payments they are confirming (``PROCESSING``), so an intent
        still waiting for confirmation means every attempt of our confirm was lost before
        Stripe acted on it: confirming it now (under the request's key) is what was asked for.
        An intent succeeds at most once, so this can never charge twice.
        """
        intent_id = request.provider_payment_id
        if intent_id is None:
            raise _never_set_up()
        payment = await self._retrieve(intent_id, "retrieve_payment")
        if request.payment_method and payment.status in (
            ProviderPaymentStatus.REQUIRES_CONFIRMATION,
            ProviderPaymentStatus.REQUIRES_PAYMENT_METHOD,
        ):
            logger.info("stripe intent %s was never confirmed; confirming it now", intent_id)
            try:
                return await self.confirm_payment(
                    ConfirmPaymentRequest(
                        payment_id=request.payment_id,
                        provider_payment_id=intent_id,
                        amount=request.amount,
                        payment_method=request.payment_method,
                        idempotency_key=request.idempotency_key,
                    )
                )
            except ProviderDeclinedError:
                return await self._retrieve(intent_id, "retrieve_payment")
        return payment

    async def cancel_payment(self, request: CancelPaymentRequest) -> None:
        intent_id = request.provider_payment_id
        if intent_id is None:
            return
        await self._call(
            "cancel_payment",
            lambda: self._client.v1.payment_intents.cancel_async(
                intent_id, None, {"idempotency_key": request.idempotency_key}
            ),
        )

    # ------------------------------------------------------------------ refunds
    async def refund(self, request: RefundRequest) -> ProviderRefund:
        intent_id = request.provider_payment_id
        if intent_id is None:
            raise _never_set_up()
        return await self._create_refund(intent_id, request)

    async def _create_refund(
        self, intent_id: str, request: RefundRequest | RetrieveRefundRequest
    ) -> ProviderRefund:
        """Ask for the refund of ``request``: its first request and any made again under its
        key send the very same parameters (Stripe refuses a key reused with others, and a
        refund asked for again must be the same refund)."""
        params = refund_params(
            intent_id,
            request.amount,
            refund_id=request.refund_id,
            payment_id=request.payment_id,
            key=request.idempotency_key,
            reason=request.reason,
        )
        refund = await self._call(
            "refund",
            lambda: self._client.v1.refunds.create_async(
                params, {"idempotency_key": request.idempotency_key}
            ),
        )
        return refund_reply(refund.to_dict(), payment_intent=intent_id)

    async def retrieve_refund(self, request: RetrieveRefundRequest) -> ProviderRefund:
        refund_id = request.provider_refund_id
        if refund_id is not None:
            refund = await self._call(
                "retrieve_refund", lambda: self._client.v1.refunds.retrieve_async(refund_id)
            )
            return refund_reply(refund.to_dict(), payment_intent=request.provider_payment_id)
        intent_id = request.provider_payment_id
        if intent_id is None:
            raise _never_set_up()
        # The attempt's answer was lost. Look for the refund it may have made (tagged with its
        # key, which outlives Stripe's 24-hour idempotency window); if there is none, the
        # attempt never happened and asking again with the same key makes it.
        found = await self._find_refund(intent_id, request.idempotency_key)
        if found is not None:
            return refund_reply(found, payment_intent=intent_id)
        return await self._create_refund(intent_id, request)

    async def _find_refund(self, intent_id: str, key: str) -> Mapping[str, Any] | None:
        starting_after: str | None = None
        for _ in range(_REFUND_PAGES):
            params: dict[str, Any] = {"payment_intent": intent_id, "limit": 100}
            if starting_after:
                params["starting_after"] = starting_after
            data = await self._list_refunds(params)
            items = data.get("data") or []
            for item in items:
                metadata = item.get("metadata") if isinstance(item, dict) else None
                if isinstance(metadata, dict) and metadata.get("idempotency_key") == key:
                    return dict(item)
            if not data.get("has_more") or not items:
                return None
            starting_after = nonempty(items[-1].get("id"))
        return None

    async def _list_refunds(self, params: dict[str, Any]) -> dict[str, Any]:
        page = await self._call(
            "retrieve_refund",
            lambda: self._client.v1.refunds.list_async(params),  # type: ignore[arg-type]
        )
        return page.to_dict()

    # ------------------------------------------------------------------ webhooks
    async def prepare_webhook(self, headers: Mapping[str, str], *, now: datetime) -> None:
        return None  # a shared secret: nothing to fetch

    def parse_webhook(
        self, body: bytes, headers: Mapping[str, str], *, now: datetime
    ) -> WebhookEvent:
        _webhooks.verify(
            body, headers, self._webhook_secrets, now=now, tolerance_seconds=self._tolerance
        )
        return self.translate_webhook(body)

    def translate_webhook(self, body: bytes) -> WebhookEvent:
        return _webhooks.translate(body)

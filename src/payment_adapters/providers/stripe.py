"""Stripe, through the official SDK's async API (``StripeClient`` + ``HTTPXClient``).

PaymentIntents with card payment methods, confirmed server-side; refunds against the intent.
Every POST carries the idempotency key the services derive from our ids, and a retry of an
unknown outcome sends the same key again with exactly the same parameters (Stripe refuses a key
reused with other parameters), so Stripe does the work at most once. Amounts go out and come back
in Stripe's own unit per currency (``_units.STRIPE_UNITS``), which is not always ISO 4217's.

Every request names the API version the adapter is written for (:data:`STRIPE_API_VERSION`),
whatever version the installed SDK pins.

The SDK's own retries (``max_network_retries``) would reuse the key too (it computes the
headers once per call), but they sleep on the wall clock with a fixed schedule and ignore
``Retry-After``; they are switched off and :func:`call_with_retries` does the retrying, with an
injectable backoff, the same as for the other providers.
"""

from __future__ import annotations

import logging
import re
from collections.abc import Awaitable, Callable, Mapping, Sequence
from datetime import datetime
from typing import TYPE_CHECKING, Any, Final, TypeVar
from uuid import UUID

import attrs
import stripe as stripe_sdk

from payment_adapters.providers._common import (
    Backoff,
    Redactor,
    call_with_retries,
    get_header,
    parse_retry_after,
    parse_uuid,
    redact_text,
    refuse_raw_card_data,
)
from payment_adapters.providers._units import STRIPE_UNITS
from payment_adapters.providers.ratelimit import TokenBucket
from payment_core import signing
from payment_core.errors import (
    ProviderDeclinedError,
    ProviderError,
    ProviderRejectedError,
    ProviderUnavailableError,
)
from payment_core.model.payment import Card, NextAction
from payment_core.money import Currency, Money
from payment_core.ports import (
    ConfirmPaymentRequest,
    CreatePaymentRequest,
    ProviderPayment,
    ProviderPaymentStatus,
    ProviderRefund,
    ProviderRefundStatus,
    RefundRequest,
    RetrievePaymentRequest,
    RetrieveRefundRequest,
    WebhookEvent,
    WebhookKind,
)
from payment_core.stripe_events import (
    REFUND_EVENT_TYPES,
    load_event,
    stripe_card,
    stripe_str,
    translate_event,
)
from payment_core.webhook_json import provider_id

if TYPE_CHECKING:
    from stripe.params import (
        PaymentIntentConfirmParams,
        PaymentIntentCreateParams,
        RefundCreateParams,
    )

__all__ = ["SIGNATURE_HEADER", "STRIPE_API_BASE", "STRIPE_API_VERSION", "StripeProvider"]

logger = logging.getLogger("payment_adapters.providers.stripe")

T = TypeVar("T")

STRIPE_API_BASE: Final = "https://api.stripe.com"
#: The API version the requests and replies here are written for, sent on every request. The
#: first with ``allowed_payment_method_types`` on PaymentIntents; stripe-python 15.4.0 pins it.
STRIPE_API_VERSION: Final = "2026-07-29.dahlia"
SIGNATURE_HEADER: Final = "Stripe-Signature"
_EXPAND: Final = ("payment_method", "latest_charge")
_REFUND_REASONS: Final = frozenset({"duplicate", "fraudulent", "requested_by_customer"})
_REFUND_PAGES: Final = 10

_PAYMENT_STATUS: Final[Mapping[str, ProviderPaymentStatus]] = {
    "requires_payment_method": ProviderPaymentStatus.REQUIRES_PAYMENT_METHOD,
    "requires_confirmation": ProviderPaymentStatus.REQUIRES_CONFIRMATION,
    "requires_action": ProviderPaymentStatus.REQUIRES_ACTION,
    "processing": ProviderPaymentStatus.PROCESSING,
    # Authorised, not captured yet: we never ask for manual capture, so it is on its way.
    "requires_capture": ProviderPaymentStatus.PROCESSING,
    "succeeded": ProviderPaymentStatus.SUCCEEDED,
    "canceled": ProviderPaymentStatus.CANCELED,
}

_REFUND_STATUS: Final[Mapping[str, ProviderRefundStatus]] = {
    "pending": ProviderRefundStatus.PENDING,
    "requires_action": ProviderRefundStatus.PENDING,
    "succeeded": ProviderRefundStatus.SUCCEEDED,
    "failed": ProviderRefundStatus.FAILED,
    "canceled": ProviderRefundStatus.FAILED,
}


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


class StripeProvider:
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
                raise self._translate_error(exc) from None

        return await call_with_retries(
            attempt, backoff=self._backoff, provider=self._name, operation=operation, logger=logger
        )

    def _translate_error(self, exc: stripe_sdk.StripeError) -> ProviderError:
        """An SDK error as one of the three errors the port allows; no SDK type escapes."""
        body = exc.json_body.get("error") if isinstance(exc.json_body, dict) else None
        error: Mapping[str, Any] = body if isinstance(body, dict) else {}
        message = self._redactor.clean(error.get("message"))
        code = stripe_str(error.get("code")) or stripe_str(exc.code)
        if isinstance(exc, stripe_sdk.CardError):
            decline = stripe_str(error.get("decline_code"))
            # ``generic_decline`` says no more than ``card_declined``: report the code then.
            failure = decline if decline and decline != "generic_decline" else code
            return ProviderDeclinedError(
                decline_code=failure or "card_declined",
                message=message or "The card was declined.",
            )
        if isinstance(exc, stripe_sdk.RateLimitError):
            return ProviderUnavailableError(
                message="stripe rate limit (429)",
                retry_after_seconds=parse_retry_after(get_header(exc.headers, "Retry-After")),
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
            retry_after_seconds=parse_retry_after(get_header(exc.headers, "Retry-After")),
        )

    # ------------------------------------------------------------------ replies
    def _payment(
        self, obj: Mapping[str, Any], *, expected_id: str | None, operation: str
    ) -> ProviderPayment:
        intent_id = stripe_str(obj.get("id"))
        amount = _stripe_money(obj)
        if intent_id is None or amount is None:
            raise ProviderUnavailableError(message="stripe reply is not a PaymentIntent")
        if expected_id is not None and intent_id != expected_id:
            raise ProviderUnavailableError(message="stripe reply names another PaymentIntent")
        metadata = obj.get("metadata")
        payment_id = parse_uuid(metadata.get("payment_id")) if isinstance(metadata, dict) else None
        raw_status = obj.get("status")
        status = _PAYMENT_STATUS.get(str(raw_status), ProviderPaymentStatus.PROCESSING)
        last_error = obj.get("last_payment_error")
        failure_code = failure_message = None
        if isinstance(last_error, dict):
            decline = stripe_str(last_error.get("decline_code"))
            code = stripe_str(last_error.get("code"))
            failure_code = decline if decline and decline != "generic_decline" else code
            failure_message = self._redactor.clean(last_error.get("message")) or None
            if status is ProviderPaymentStatus.REQUIRES_PAYMENT_METHOD:
                # The last attempt was declined: for us the payment failed.
                status = ProviderPaymentStatus.FAILED
        logger.debug(
            "stripe %s payment=%s intent=%s status=%s", operation, payment_id, intent_id, raw_status
        )
        return ProviderPayment(
            provider_payment_id=intent_id,
            status=status,
            amount=amount,
            payment_id=payment_id,
            card=_card(obj),
            next_action=_next_action(obj),
            failure_code=failure_code if status is ProviderPaymentStatus.FAILED else None,
            failure_message=failure_message if status is ProviderPaymentStatus.FAILED else None,
            client_secret=stripe_str(obj.get("client_secret")),
        )

    def _refund(self, obj: Mapping[str, Any], *, payment_intent: str | None) -> ProviderRefund:
        refund_id = stripe_str(obj.get("id"))
        amount = _stripe_money(obj)
        if refund_id is None or amount is None:
            raise ProviderUnavailableError(message="stripe reply is not a Refund")
        echoed = _id_of(obj.get("payment_intent"))
        if payment_intent is not None and echoed is not None and echoed != payment_intent:
            raise ProviderUnavailableError(message="stripe refund names another PaymentIntent")
        status = _REFUND_STATUS.get(str(obj.get("status")), ProviderRefundStatus.PENDING)
        logger.debug("stripe refund %s status=%s", refund_id, obj.get("status"))
        return ProviderRefund(
            provider_refund_id=refund_id,
            status=status,
            amount=amount,
            failure_reason=(
                stripe_str(obj.get("failure_reason")) or str(obj.get("status"))
                if status is ProviderRefundStatus.FAILED
                else None
            ),
        )

    # ------------------------------------------------------------------ payments
    async def create_payment(self, request: CreatePaymentRequest) -> ProviderPayment:
        refuse_raw_card_data(payment_method=request.payment_method)
        params: PaymentIntentCreateParams = {
            "amount": STRIPE_UNITS.to_provider(request.amount),
            "currency": request.amount.currency.code.lower(),
            "metadata": {**request.metadata, "payment_id": str(request.payment_id)},
            "allowed_payment_method_types": ["card"],
            "confirm": False,
            "expand": list(_EXPAND),
        }
        if request.description:
            params["description"] = request.description
        if request.payment_method:
            params["payment_method"] = request.payment_method
        intent = await self._call(
            "create_payment",
            lambda: self._client.v1.payment_intents.create_async(
                params, {"idempotency_key": request.idempotency_key}
            ),
        )
        return self._payment(intent.to_dict(), expected_id=None, operation="create_payment")

    async def confirm_payment(self, request: ConfirmPaymentRequest) -> ProviderPayment:
        refuse_raw_card_data(payment_method=request.payment_method)
        intent_id = request.provider_payment_id
        if intent_id is None:
            # Never set up (not through the services): create and confirm in one call.
            create: PaymentIntentCreateParams = {
                "amount": STRIPE_UNITS.to_provider(request.amount),
                "currency": request.amount.currency.code.lower(),
                "metadata": {"payment_id": str(request.payment_id)},
                "allowed_payment_method_types": ["card"],
                "payment_method": request.payment_method,
                "confirm": True,
                "expand": list(_EXPAND),
            }
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
            "expand": list(_EXPAND),
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
                intent_id, {"expand": list(_EXPAND)}
            ),
        )
        return self._payment(intent.to_dict(), expected_id=intent_id, operation=operation)

    async def retrieve_payment(self, request: RetrievePaymentRequest) -> ProviderPayment:
        """Where the intent stands; an intent our confirm never reached is confirmed now.

        The services ask only about payments they are confirming (``PROCESSING``), so an intent
        still waiting for confirmation means every attempt of our confirm was lost before
        Stripe acted on it: confirming it now is what was asked for. An intent succeeds at most
        once, so this can never charge twice.
        """
        intent_id = request.provider_payment_id
        if intent_id is None:
            raise ProviderRejectedError(
                reason_code="unknown_provider_payment",
                message="this payment was never set up at Stripe",
            )
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
                        idempotency_key=reconcile_key(request.payment_id),
                    )
                )
            except ProviderDeclinedError:
                return await self._retrieve(intent_id, "retrieve_payment")
        return payment

    async def cancel_payment(self, request: RetrievePaymentRequest, idempotency_key: str) -> None:
        intent_id = request.provider_payment_id
        if intent_id is None:
            return
        await self._call(
            "cancel_payment",
            lambda: self._client.v1.payment_intents.cancel_async(
                intent_id, None, {"idempotency_key": idempotency_key}
            ),
        )

    # ------------------------------------------------------------------ refunds
    async def refund(self, request: RefundRequest) -> ProviderRefund:
        intent_id = request.provider_payment_id
        if intent_id is None:
            raise ProviderRejectedError(
                reason_code="unknown_provider_payment",
                message="this payment was never set up at Stripe",
            )
        params = _refund_params(
            intent_id,
            request.amount,
            refund_id=request.refund_id,
            payment_id=request.payment_id,
            key=request.idempotency_key,
            reason=request.reason,
        )
        return await self._create_refund(params, request.idempotency_key, intent_id)

    async def _create_refund(
        self, params: RefundCreateParams, key: str, intent_id: str
    ) -> ProviderRefund:
        refund = await self._call(
            "refund",
            lambda: self._client.v1.refunds.create_async(params, {"idempotency_key": key}),
        )
        return self._refund(refund.to_dict(), payment_intent=intent_id)

    async def retrieve_refund(self, request: RetrieveRefundRequest) -> ProviderRefund:
        refund_id = request.provider_refund_id
        if refund_id is not None:
            refund = await self._call(
                "retrieve_refund", lambda: self._client.v1.refunds.retrieve_async(refund_id)
            )
            return self._refund(refund.to_dict(), payment_intent=request.provider_payment_id)
        intent_id = request.provider_payment_id
        if intent_id is None:
            raise ProviderRejectedError(
                reason_code="unknown_provider_payment",
                message="this payment was never set up at Stripe",
            )
        # The attempt's answer was lost. Look for the refund it may have made (tagged with its
        # key, which outlives Stripe's 24-hour idempotency window); if there is none, the
        # attempt never happened and asking again with the same key makes it.
        found = await self._find_refund(intent_id, request.idempotency_key)
        if found is not None:
            return self._refund(found, payment_intent=intent_id)
        # The very parameters of the attempt's own request (Stripe refuses a key reused with
        # others, and a refund asked for again must be the same refund).
        params = _refund_params(
            intent_id,
            request.amount,
            refund_id=request.refund_id,
            payment_id=request.payment_id,
            key=request.idempotency_key,
            reason=request.reason,
        )
        return await self._create_refund(params, request.idempotency_key, intent_id)

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
            starting_after = stripe_str(items[-1].get("id"))
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
        signing.verify(
            get_header(headers, SIGNATURE_HEADER),
            body,
            self._webhook_secrets,
            now=now,
            tolerance_seconds=self._tolerance,
        )
        return self.translate_webhook(body)

    def translate_webhook(self, body: bytes) -> WebhookEvent:
        event = load_event(body)
        translated = translate_event(event)
        obj: Mapping[str, Any] = event["data"]["object"]
        if translated.amount is not None:
            # Read in Stripe's unit, not ISO's (an ISK ``amount`` of 100 is one króna).
            translated = attrs.evolve(translated, amount=_stripe_money(obj))
        if translated.kind is WebhookKind.IGNORED and event["type"] in REFUND_EVENT_TYPES:
            if obj.get("status") == "canceled":
                # A canceled refund paid nothing back: for us it failed.
                translated = attrs.evolve(
                    translated,
                    kind=WebhookKind.REFUND_FAILED,
                    provider_refund_id=provider_id(obj.get("id")),
                    provider_payment_id=provider_id(_id_of(obj.get("payment_intent"))),
                    amount=_stripe_money(obj),
                    failure_code="canceled",
                )
            return translated
        if translated.failure_code == "generic_decline":
            last_error = obj.get("last_payment_error")
            code = stripe_str(last_error.get("code")) if isinstance(last_error, dict) else None
            translated = attrs.evolve(translated, failure_code=code or "card_declined")
        if translated.card is None and translated.kind is not WebhookKind.IGNORED:
            translated = attrs.evolve(translated, card=_card(obj))
        return translated


# ---------------------------------------------------------------------------- helpers


def reconcile_key(payment_id: UUID) -> str:
    """The key of a confirm that reconciliation makes for a confirm that never arrived."""
    return f"payment-{payment_id}-reconcile"


def _refund_params(
    intent_id: str,
    amount: Money,
    *,
    refund_id: UUID,
    payment_id: UUID | None,
    key: str,
    reason: str | None,
) -> RefundCreateParams:
    """The one way a refund's parameters are made: its first request and any re-creation under
    the same key send exactly these."""
    # The key tags the refund so that a lost answer can be found again (see retrieve_refund).
    metadata = {"refund_id": str(refund_id), "idempotency_key": key}
    if payment_id is not None:
        metadata["payment_id"] = str(payment_id)
    params: RefundCreateParams = {
        "payment_intent": intent_id,
        "amount": STRIPE_UNITS.to_provider(amount),
        "metadata": metadata,
    }
    if reason in _REFUND_REASONS:
        params["reason"] = reason
    return params


def _stripe_money(obj: Mapping[str, Any]) -> Money | None:
    """``amount`` and ``currency`` of a Stripe object, from Stripe's unit to ours."""
    amount, currency = obj.get("amount"), obj.get("currency")
    if type(amount) is not int or not isinstance(currency, str):
        return None
    try:
        return STRIPE_UNITS.from_provider(amount, Currency.of(currency.upper()))
    except ValueError:
        return None


def _id_of(value: object) -> str | None:
    """An id, whether Stripe sent the id or the expanded object."""
    if isinstance(value, dict):
        return stripe_str(value.get("id"))
    return stripe_str(value)


def _card(obj: Mapping[str, Any]) -> Card | None:
    """Brand, last 4 and expiry from the expanded payment method, else the latest charge."""
    method = obj.get("payment_method")
    if isinstance(method, dict) and isinstance(method.get("card"), dict):
        card = method["card"]
        try:
            return Card(
                brand=str(card.get("brand", "unknown")),
                last4=str(card.get("last4", "")),
                exp_month=card.get("exp_month") if type(card.get("exp_month")) is int else None,
                exp_year=card.get("exp_year") if type(card.get("exp_year")) is int else None,
            )
        except ValueError:
            return None
    charge = obj.get("latest_charge")
    if isinstance(charge, dict):
        return stripe_card(charge)
    return stripe_card(obj)


def _next_action(obj: Mapping[str, Any]) -> NextAction | None:
    action = obj.get("next_action")
    if not isinstance(action, dict) or not isinstance(action.get("type"), str):
        return None
    kind: str = action["type"]
    if kind == "redirect_to_url":
        redirect = action.get("redirect_to_url")
        url = redirect.get("url") if isinstance(redirect, dict) else None
        if isinstance(url, str) and url:
            return NextAction(type="redirect", url=url)
    # ``use_stripe_sdk`` and friends: the browser finishes it with the client secret.
    return NextAction(type=kind, url="")

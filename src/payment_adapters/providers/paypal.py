"""PayPal, over the Orders v2 and Payments v2 REST APIs with ``httpx``.

PayPal's official Python server SDK is synchronous, so it would block the event loop (or need a
thread per call) and it cannot take an arbitrary base URL for a local stand-in; the handful of
calls used here are plain JSON over HTTPS, so ``httpx.AsyncClient`` speaks them directly.

- Our create: an order with ``intent=CAPTURE`` (``custom_id`` = our payment id).
- Our confirm: capture the order, paying with the vaulted payment method given as the payment
  method (``payment_source.card.vault_id``); the payment method ``paypal`` means "capture what
  the buyer approved at PayPal" (no payment source). A buyer who still has to act (approve the
  order, pass 3-D Secure) gets ``next_action`` = the ``payer-action`` / ``approve`` link.
- Refunds: refund the order's capture (``custom_id`` = the refund attempt's idempotency key).
- Every POST carries ``PayPal-Request-Id`` = our idempotency key (PayPal keeps it for 6 hours;
  past that, reconciliation finds a lost refund by its ``custom_id`` rather than asking again).
- OAuth2 client credentials: the access token is cached, refreshed ahead of its expiry and
  once more when PayPal answers 401.

Amounts are PayPal's decimal text, whole units for HUF, JPY and TWD (``_units.PAYPAL_UNITS``).

Webhooks are verified offline (PayPal's documented CRC32 scheme): the signed message is
``transmission_id|transmission_time|webhook_id|crc32(raw body)``, signed SHA256withRSA with the
certificate at ``PAYPAL-CERT-URL``. The certificate is fetched only from an allow-listed PayPal
origin over HTTPS, without blocking the event loop (:meth:`PayPalProvider.prepare_webhook`, with
a timeout; one fetch per URL at a time), and cached per URL until it expires; nothing else is
trusted. PayPal redelivers a webhook for up to three days and does not document that a
redelivery gets a new transmission time, so a transmission time is accepted for
:data:`PAYPAL_REDELIVERY_WINDOW` (a replay inside it is caught by its event id, which the
signature covers); one from the future only within the clock tolerance.
"""

from __future__ import annotations

import asyncio
import base64
import binascii
import logging
import time
import zlib
from collections.abc import Awaitable, Callable, Collection, Mapping
from datetime import UTC, datetime, timedelta
from typing import Any, Final, TypeVar
from urllib.parse import urlsplit

import httpx
from cryptography import x509
from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import padding, rsa

from payment_adapters.providers._common import (
    Backoff,
    Redactor,
    call_with_retries,
    get_header,
    parse_retry_after,
    parse_rfc3339,
    parse_uuid,
    refuse_raw_card_data,
)
from payment_adapters.providers._http import HttpReply, JsonHttp
from payment_adapters.providers._units import PAYPAL_UNITS
from payment_adapters.providers.ratelimit import TokenBucket
from payment_core.errors import (
    ProviderDeclinedError,
    ProviderRejectedError,
    ProviderUnavailableError,
    ValidationError,
    WebhookSignatureError,
)
from payment_core.model.payment import Card, NextAction
from payment_core.money import Money
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
from payment_core.webhook_json import event_id as checked_event_id
from payment_core.webhook_json import load_object, provider_id

__all__ = [
    "APPROVAL_PAYMENT_METHOD",
    "PAYPAL_CERT_ORIGINS",
    "PAYPAL_LIVE_API_BASE",
    "PAYPAL_REDELIVERY_WINDOW",
    "PAYPAL_SANDBOX_API_BASE",
    "PayPalProvider",
]

logger = logging.getLogger("payment_adapters.providers.paypal")

T = TypeVar("T")

PAYPAL_SANDBOX_API_BASE: Final = "https://api-m.sandbox.paypal.com"
PAYPAL_LIVE_API_BASE: Final = "https://api-m.paypal.com"
#: Where a webhook's signing certificate may come from (scheme://host[:port], exact match).
PAYPAL_CERT_ORIGINS: Final = (
    "https://api.paypal.com",
    "https://api-m.paypal.com",
    "https://api.sandbox.paypal.com",
    "https://api-m.sandbox.paypal.com",
)
#: Confirming with this payment method captures what the buyer approved at PayPal.
APPROVAL_PAYMENT_METHOD: Final = "paypal"
#: How old a webhook's transmission time may be: PayPal retries a delivery "up to 25 times over
#: 3 days" (developer.paypal.com/api/rest/webhooks/rest), plus a day.
PAYPAL_REDELIVERY_WINDOW: Final = timedelta(days=4)

_AUTH_ALGO: Final = "SHA256withRSA"
_MAX_CERT_BYTES: Final = 64 * 1024
_MAX_CERTS: Final = 32
_MAX_BODY_FIELD: Final = 127
_MAX_CERT_LOCKS: Final = 256

_DECLINE_ISSUES: Final[Mapping[str, str]] = {
    "INSTRUMENT_DECLINED": "card_declined",
    "TRANSACTION_REFUSED": "card_declined",
    "CARD_EXPIRED": "expired_card",
    "INSUFFICIENT_FUNDS": "insufficient_funds",
    "PAYER_CANNOT_PAY": "card_declined",
}
_ACTION_ISSUES: Final = frozenset({"PAYER_ACTION_REQUIRED", "ORDER_NOT_APPROVED"})
_FINAL_REFUND_ISSUES: Final = frozenset(
    {
        "REFUND_AMOUNT_EXCEEDED",
        "CAPTURE_FULLY_REFUNDED",
        "REFUND_CAPTURE_CURRENCY_MISMATCH",
        "REFUND_TIME_LIMIT_EXCEEDED",
        "REFUND_NOT_ALLOWED",
        "PERMISSION_DENIED",
    }
)
#: Card processor response codes -> our failure codes.
_PROCESSOR_CODES: Final[Mapping[str, str]] = {
    "0500": "card_declined",
    "5100": "card_declined",
    "5120": "insufficient_funds",
    "5400": "expired_card",
    "00N7": "incorrect_cvc",
    "9500": "fraudulent",
}
_CAPTURE_STATUS: Final[Mapping[str, ProviderPaymentStatus]] = {
    "COMPLETED": ProviderPaymentStatus.SUCCEEDED,
    "PARTIALLY_REFUNDED": ProviderPaymentStatus.SUCCEEDED,
    "REFUNDED": ProviderPaymentStatus.SUCCEEDED,
    "PENDING": ProviderPaymentStatus.PROCESSING,
    "DECLINED": ProviderPaymentStatus.FAILED,
    "FAILED": ProviderPaymentStatus.FAILED,
}
_REFUND_STATUS: Final[Mapping[str, ProviderRefundStatus]] = {
    "COMPLETED": ProviderRefundStatus.SUCCEEDED,
    "PENDING": ProviderRefundStatus.PENDING,
    "FAILED": ProviderRefundStatus.FAILED,
    "CANCELLED": ProviderRefundStatus.FAILED,
}
_CAPTURE_EVENTS: Final[Mapping[str, WebhookKind]] = {
    "PAYMENT.CAPTURE.COMPLETED": WebhookKind.PAYMENT_SUCCEEDED,
    "PAYMENT.CAPTURE.DENIED": WebhookKind.PAYMENT_FAILED,
    "PAYMENT.CAPTURE.DECLINED": WebhookKind.PAYMENT_FAILED,
    "PAYMENT.CAPTURE.PENDING": WebhookKind.PAYMENT_PROCESSING,
}

#: Fetches the PEM certificate at a URL (already checked to be a PayPal address).
CertFetcher = Callable[[str], Awaitable[bytes]]


class PayPalProvider:
    """The ``PaymentProvider`` port over PayPal Orders v2.

    ``environment`` picks the sandbox or live API; ``api_base`` overrides it (a stand-in).
    ``webhook_id`` is the id PayPal gave the webhook endpoint (part of the signed message).
    ``cert_origins`` and ``cert_fetcher`` exist for tests: production keeps the defaults.
    ``webhook_tolerance_seconds`` bounds a transmission time in the future (clock skew),
    ``webhook_max_age`` one in the past (PayPal's redeliveries).
    """

    def __init__(
        self,
        client_id: str,
        client_secret: str,
        *,
        webhook_id: str | None = None,
        environment: str = "sandbox",
        api_base: str | None = None,
        return_url: str | None = None,
        cancel_url: str | None = None,
        timeout: float = 30.0,
        backoff: Backoff | None = None,
        rate_limiter: TokenBucket | None = None,
        cert_origins: Collection[str] = PAYPAL_CERT_ORIGINS,
        cert_fetcher: CertFetcher | None = None,
        webhook_tolerance_seconds: int = 300,
        webhook_max_age: timedelta = PAYPAL_REDELIVERY_WINDOW,
        cert_timeout: float = 5.0,
        token_refresh_margin_seconds: float = 300.0,
        clock: Callable[[], float] = time.monotonic,
        name: str = "paypal",
        http_client: httpx.AsyncClient | None = None,
    ) -> None:
        if not client_id or not client_secret:
            raise ValueError("a PayPal client id and client secret are required")
        if environment not in ("sandbox", "live"):
            raise ValueError("environment must be 'sandbox' or 'live'")
        self._name = name
        self._client_id = client_id
        self._client_secret = client_secret
        self._webhook_id = webhook_id
        self._return_url = return_url
        self._cancel_url = cancel_url
        self._backoff = backoff or Backoff()
        self._tolerance = webhook_tolerance_seconds
        self._max_age = webhook_max_age
        self._refresh_margin = token_refresh_margin_seconds
        self._clock = clock
        self._cert_origins = frozenset(_origin(o) for o in cert_origins)
        self._cert_fetcher = cert_fetcher or self._fetch_certificate
        self._cert_timeout = cert_timeout
        self._cert_client: httpx.AsyncClient | None = None
        self._cert_locks: dict[str, asyncio.Lock] = {}
        self._certs: dict[str, x509.Certificate] = {}
        self._redactor = Redactor([client_id, client_secret])
        base = api_base or (
            PAYPAL_LIVE_API_BASE if environment == "live" else PAYPAL_SANDBOX_API_BASE
        )
        self._http = JsonHttp(
            base_url=base,
            provider=name,
            timeout=timeout,
            limiter=rate_limiter if rate_limiter is not None else TokenBucket(25.0),
            client=http_client,
            logger=logger,
        )
        self._token: str | None = None
        self._token_expires_at = 0.0
        self._token_lock: asyncio.Lock | None = None

    def __repr__(self) -> str:
        return f"PayPalProvider(name={self._name!r}, base={self._http.base_url!r})"

    @property
    def name(self) -> str:
        return self._name

    #: PayPal's buyer approves at PayPal; the capture follows.
    takes_verification_token: Final = False

    async def aclose(self) -> None:
        await self._http.aclose()
        if self._cert_client is not None:
            await self._cert_client.aclose()

    # ------------------------------------------------------------------ auth
    async def _access_token(self, *, stale: str | None = None) -> str:
        """A valid token; ``stale`` names one PayPal refused, which is never handed out again."""
        token = self._token
        if token is not None and token != stale and self._clock() < self._token_expires_at:
            return token
        if self._token_lock is None:
            self._token_lock = asyncio.Lock()
        async with self._token_lock:
            token = self._token
            if token is not None and token != stale and self._clock() < self._token_expires_at:
                return token  # refreshed by another task while this one waited
            reply = await self._http.request(
                "POST",
                "/v1/oauth2/token",
                headers={},
                form={"grant_type": "client_credentials"},
                auth=(self._client_id, self._client_secret),
            )
            if reply.status in (400, 401, 403):
                self._token = None
                raise ProviderRejectedError(
                    reason_code="authentication_failed",
                    message="PayPal refused the client credentials.",
                )
            if not reply.ok:
                raise self._unavailable(reply)
            body = reply.object()
            token = body.get("access_token")
            expires_in = body.get("expires_in")
            if not isinstance(token, str) or not token or type(expires_in) is not int:
                raise ProviderUnavailableError(message="paypal token reply is malformed")
            margin = min(self._refresh_margin, expires_in / 2)
            self._token = token
            self._token_expires_at = self._clock() + expires_in - margin
            self._redactor = Redactor([self._client_id, self._client_secret, token])
            logger.debug("paypal access token refreshed; valid for %ss", expires_in)
            return token

    async def _api(
        self,
        method: str,
        path: str,
        *,
        json_body: object | None = None,
        request_id: str | None = None,
    ) -> HttpReply:
        token = await self._access_token()
        for attempt in (1, 2):
            headers = {"Authorization": f"Bearer {token}", "Prefer": "return=representation"}
            if request_id is not None:
                headers["PayPal-Request-Id"] = request_id
            reply = await self._http.request(method, path, headers=headers, json_body=json_body)
            if reply.status != 401 or attempt == 2:
                return reply
            # Revoked or expired early: one fresh token, then the same request again.
            token = await self._access_token(stale=token)
        raise AssertionError("unreachable")  # pragma: no cover

    async def _call(self, operation: str, attempt: Callable[[], Awaitable[T]]) -> T:
        return await call_with_retries(
            attempt, backoff=self._backoff, provider=self._name, operation=operation, logger=logger
        )

    # ------------------------------------------------------------------ errors
    def _issue(self, reply: HttpReply) -> tuple[str, str]:
        body = reply.object()
        details = body.get("details")
        issue = None
        description = None
        if isinstance(details, list) and details and isinstance(details[0], dict):
            issue = details[0].get("issue")
            description = details[0].get("description")
        name = body.get("name") or body.get("error")
        code = issue if isinstance(issue, str) and issue else name
        message = description if isinstance(description, str) else body.get("message")
        return (
            str(code or f"http_{reply.status}"),
            self._redactor.clean(message, default=f"PayPal answered {reply.status}"),
        )

    def _unavailable(self, reply: HttpReply) -> ProviderUnavailableError:
        return ProviderUnavailableError(
            message=f"paypal answered {reply.status}",
            retry_after_seconds=parse_retry_after(get_header(reply.headers, "Retry-After")),
        )

    def _error(self, reply: HttpReply) -> Exception:
        """A non-2xx reply that no operation-specific rule took, as a port error."""
        if reply.status == 429 or reply.status >= 500 or reply.status == 409:
            return self._unavailable(reply)
        issue, message = self._issue(reply)
        if reply.status == 401:
            return ProviderRejectedError(
                reason_code="authentication_failed", message="PayPal refused the access token."
            )
        if reply.status == 403:
            return ProviderRejectedError(reason_code="permission_denied", message=message)
        if reply.status in (400, 404, 422):
            return ProviderRejectedError(reason_code=issue.lower(), message=message)
        return self._unavailable(reply)

    # ------------------------------------------------------------------ replies
    def _order(self, reply: HttpReply) -> Mapping[str, Any]:
        order = reply.object()
        if not isinstance(order.get("id"), str) or not isinstance(order.get("status"), str):
            raise ProviderUnavailableError(message="paypal reply is not an order")
        return order

    def _order_payment(
        self, order: Mapping[str, Any], *, expected_id: str | None, awaiting_payer: bool
    ) -> ProviderPayment:
        order_id: str = order["id"]
        if expected_id is not None and order_id != expected_id:
            raise ProviderUnavailableError(message="paypal reply names another order")
        unit = _first_unit(order)
        capture = _last_capture(unit)
        amount = _money(capture.get("amount")) if capture else None
        amount = amount or _money(unit.get("amount"))
        if amount is None:
            raise ProviderUnavailableError(message="paypal order has no amount")
        payment_id = parse_uuid(unit.get("custom_id"))
        if capture is not None and capture.get("custom_id") is not None:
            payment_id = parse_uuid(capture.get("custom_id"))
        order_status = order["status"]
        failure_code = failure_message = None
        next_action = None
        if capture is not None:
            status = _CAPTURE_STATUS.get(
                str(capture.get("status")), ProviderPaymentStatus.PROCESSING
            )
            if status is ProviderPaymentStatus.FAILED:
                failure_code = _processor_code(capture)
                failure_message = "The payment was declined."
        elif order_status == "PAYER_ACTION_REQUIRED" or (
            awaiting_payer and order_status in ("CREATED", "SAVED")
        ):
            status = ProviderPaymentStatus.REQUIRES_ACTION
            link = _link(order, "payer-action") or _link(order, "approve")
            next_action = NextAction(type="redirect", url=link) if link else None
        elif order_status == "APPROVED":
            status = ProviderPaymentStatus.REQUIRES_CONFIRMATION
        elif order_status == "VOIDED":
            status = ProviderPaymentStatus.CANCELED
        elif order_status in ("CREATED", "SAVED"):
            status = ProviderPaymentStatus.REQUIRES_PAYMENT_METHOD
        else:
            status = ProviderPaymentStatus.PROCESSING
        logger.debug(
            "paypal order=%s payment=%s status=%s capture=%s",
            order_id,
            payment_id,
            order_status,
            capture.get("status") if capture else None,
        )
        return ProviderPayment(
            provider_payment_id=order_id,
            status=status,
            amount=amount,
            payment_id=payment_id,
            card=_card(order),
            next_action=next_action,
            failure_code=failure_code,
            failure_message=failure_message,
        )

    def _refund_reply(self, refund: Mapping[str, Any]) -> ProviderRefund:
        refund_id = refund.get("id")
        amount = _money(refund.get("amount"))
        if not isinstance(refund_id, str) or amount is None:
            raise ProviderUnavailableError(message="paypal reply is not a refund")
        status = _REFUND_STATUS.get(str(refund.get("status")), ProviderRefundStatus.PENDING)
        reason = None
        if status is ProviderRefundStatus.FAILED:
            details = refund.get("status_details")
            reason = details.get("reason") if isinstance(details, dict) else None
            reason = str(reason or refund.get("status")).lower()
        return ProviderRefund(
            provider_refund_id=refund_id, status=status, amount=amount, failure_reason=reason
        )

    # ------------------------------------------------------------------ payments
    async def create_payment(self, request: CreatePaymentRequest) -> ProviderPayment:
        unit: dict[str, Any] = {
            "reference_id": str(request.payment_id),
            "custom_id": str(request.payment_id),
            "amount": _amount(request.amount),
        }
        if request.description:
            unit["description"] = request.description[:_MAX_BODY_FIELD]
        body: dict[str, Any] = {"intent": "CAPTURE", "purchase_units": [unit]}
        if self._return_url:
            body["application_context"] = {
                "return_url": self._return_url,
                "cancel_url": self._cancel_url or self._return_url,
                "user_action": "PAY_NOW",
            }

        async def attempt() -> ProviderPayment:
            reply = await self._api(
                "POST", "/v2/checkout/orders", json_body=body, request_id=request.idempotency_key
            )
            if not reply.ok:
                raise self._error(reply)
            return self._order_payment(self._order(reply), expected_id=None, awaiting_payer=False)

        return await self._call("create_payment", attempt)

    async def _get_order(self, order_id: str, operation: str) -> Mapping[str, Any]:
        async def attempt() -> Mapping[str, Any]:
            reply = await self._api("GET", f"/v2/checkout/orders/{order_id}")
            if not reply.ok:
                raise self._error(reply)
            return self._order(reply)

        return await self._call(operation, attempt)

    async def _capture(
        self, order_id: str, payment_method: str | None, key: str, operation: str
    ) -> ProviderPayment:
        body: dict[str, Any] = {}
        if payment_method and payment_method != APPROVAL_PAYMENT_METHOD:
            body["payment_source"] = {"card": {"vault_id": payment_method}}

        async def attempt() -> ProviderPayment | None:
            reply = await self._api(
                "POST", f"/v2/checkout/orders/{order_id}/capture", json_body=body, request_id=key
            )
            if reply.ok:
                return self._order_payment(
                    self._order(reply), expected_id=order_id, awaiting_payer=True
                )
            if reply.status == 422:
                issue, message = self._issue(reply)
                if issue in _DECLINE_ISSUES:
                    raise ProviderDeclinedError(
                        decline_code=_DECLINE_ISSUES[issue], message=message
                    )
                if issue in _ACTION_ISSUES or issue == "ORDER_ALREADY_CAPTURED":
                    return None  # the order itself says what is next
            raise self._error(reply)

        captured = await self._call(operation, attempt)
        if captured is not None:
            return captured
        order = await self._get_order(order_id, operation)
        return self._order_payment(order, expected_id=order_id, awaiting_payer=True)

    async def confirm_payment(self, request: ConfirmPaymentRequest) -> ProviderPayment:
        refuse_raw_card_data(payment_method=request.payment_method)
        if request.provider_payment_id is None:
            raise ProviderRejectedError(
                reason_code="unknown_provider_payment",
                message="this payment has no PayPal order",
            )
        return await self._capture(
            request.provider_payment_id,
            request.payment_method,
            request.idempotency_key,
            "confirm_payment",
        )

    async def retrieve_payment(self, request: RetrievePaymentRequest) -> ProviderPayment:
        order_id = request.provider_payment_id
        if order_id is None:
            raise ProviderRejectedError(
                reason_code="unknown_provider_payment",
                message="this payment has no PayPal order",
            )
        order = await self._get_order(order_id, "retrieve_payment")
        unit = _first_unit(order)
        method = None
        if _last_capture(unit) is None and request.payment_method:
            if order["status"] == "APPROVED":
                # The buyer approved (or passed 3-D Secure) after our capture asked them to.
                method = APPROVAL_PAYMENT_METHOD
            elif (
                order["status"] in ("CREATED", "SAVED")
                and request.payment_method != APPROVAL_PAYMENT_METHOD
            ):
                method = request.payment_method  # our capture never reached PayPal
        if method is None:
            return self._order_payment(order, expected_id=order_id, awaiting_payer=True)
        # The services ask only about payments they are confirming: finish the capture. An
        # order is captured at most once, so this can never charge twice.
        logger.info("paypal order %s was never captured; capturing it now", order_id)
        # One key per capture body: a capture of what the buyer approved (no payment source)
        # is another request than a capture with the vaulted method, and PayPal answers a
        # request id used before with that first request's answer.
        key = f"payment-{request.payment_id}-reconcile"
        if method == APPROVAL_PAYMENT_METHOD:
            key += "-approved"
        try:
            return await self._capture(order_id, method, key, "retrieve_payment")
        except ProviderDeclinedError as exc:
            amount = _money(unit.get("amount"))
            if amount is None:
                raise
            return ProviderPayment(
                provider_payment_id=order_id,
                status=ProviderPaymentStatus.FAILED,
                amount=amount,
                payment_id=parse_uuid(unit.get("custom_id")),
                failure_code=exc.decline_code,
                failure_message=exc.message,
            )

    async def cancel_payment(self, request: RetrievePaymentRequest, idempotency_key: str) -> None:
        # An uncaptured CAPTURE order cannot be voided through the API; PayPal lets it expire.
        logger.debug("paypal order %s left to expire", request.provider_payment_id)

    # ------------------------------------------------------------------ refunds
    async def _capture_id(self, order_id: str, operation: str) -> tuple[str, Mapping[str, Any]]:
        order = await self._get_order(order_id, operation)
        unit = _first_unit(order)
        capture = _last_capture(unit)
        if capture is None or not isinstance(capture.get("id"), str):
            raise ProviderRejectedError(
                reason_code="not_captured", message="the PayPal order has no capture to refund"
            )
        return str(capture["id"]), unit

    async def _post_refund(
        self, capture_id: str, amount: Money, key: str, *, note: str | None = None
    ) -> ProviderRefund:
        body: dict[str, Any] = {"amount": _amount(amount), "custom_id": key[:_MAX_BODY_FIELD]}
        if note:
            body["note_to_payer"] = note[:255]

        async def attempt() -> Mapping[str, Any]:
            reply = await self._api(
                "POST", f"/v2/payments/captures/{capture_id}/refund", json_body=body, request_id=key
            )
            if reply.ok:
                return reply.object()
            if reply.status == 422:
                issue, message = self._issue(reply)
                if issue in _FINAL_REFUND_ISSUES:
                    raise ProviderRejectedError(reason_code=issue.lower(), message=message)
                # Any other refusal is definite: nothing moved; a later attempt may pass.
                raise ProviderDeclinedError(decline_code=issue.lower(), message=message)
            raise self._error(reply)

        refund = await self._call("refund", attempt)
        if _money(refund.get("amount")) is None and isinstance(refund.get("id"), str):
            refund = await self._get_refund(str(refund["id"]))  # a minimal representation
        return self._refund_reply(refund)

    async def _get_refund(self, refund_id: str) -> Mapping[str, Any]:
        async def attempt() -> Mapping[str, Any]:
            reply = await self._api("GET", f"/v2/payments/refunds/{refund_id}")
            if not reply.ok:
                raise self._error(reply)
            return reply.object()

        return await self._call("retrieve_refund", attempt)

    async def refund(self, request: RefundRequest) -> ProviderRefund:
        if request.provider_payment_id is None:
            raise ProviderRejectedError(
                reason_code="unknown_provider_payment",
                message="this payment has no PayPal order",
            )
        capture_id, _ = await self._capture_id(request.provider_payment_id, "refund")
        return await self._post_refund(capture_id, request.amount, request.idempotency_key)

    async def retrieve_refund(self, request: RetrieveRefundRequest) -> ProviderRefund:
        if request.provider_refund_id is not None:
            return self._refund_reply(await self._get_refund(request.provider_refund_id))
        if request.provider_payment_id is None:
            raise ProviderRejectedError(
                reason_code="unknown_provider_payment",
                message="this payment has no PayPal order",
            )
        capture_id, unit = await self._capture_id(request.provider_payment_id, "retrieve_refund")
        payments = unit.get("payments")
        refunds = payments.get("refunds") if isinstance(payments, dict) else None
        for refund in refunds if isinstance(refunds, list) else ():
            if isinstance(refund, dict) and refund.get("custom_id") == request.idempotency_key:
                if _money(refund.get("amount")) is None:
                    return self._refund_reply(await self._get_refund(str(refund.get("id"))))
                return self._refund_reply(refund)
        # No refund carries this attempt's key: it never happened; make it now, same key.
        return await self._post_refund(capture_id, request.amount, request.idempotency_key)

    # ------------------------------------------------------------------ webhooks
    async def prepare_webhook(self, headers: Mapping[str, str], *, now: datetime) -> None:
        """Fetch the delivery's signing certificate, if it is a PayPal one not cached yet.

        Never raises: a certificate that cannot be had makes :meth:`parse_webhook` refuse the
        delivery. Deliveries naming one URL wait for a single fetch; one that verification
        would refuse anyway (no webhook id, another algorithm, a time out of the window)
        fetches nothing.
        """
        url = get_header(headers, "PAYPAL-CERT-URL")
        if not url or len(url) > 500 or not self._allowed_cert_url(url) or url in self._certs:
            return
        sent = parse_rfc3339(get_header(headers, "PAYPAL-TRANSMISSION-TIME"))
        if (
            not self._webhook_id
            or get_header(headers, "PAYPAL-AUTH-ALGO") != _AUTH_ALGO
            or sent is None
            or self._stale(sent, now) is not None
        ):
            return
        lock = self._cert_locks.get(url)
        if lock is None:
            if len(self._cert_locks) >= _MAX_CERT_LOCKS:
                self._cert_locks = {u: k for u, k in self._cert_locks.items() if k.locked()}
            lock = self._cert_locks[url] = asyncio.Lock()
        async with lock:
            if url in self._certs:
                return  # fetched by the delivery this one waited for
            try:
                async with asyncio.timeout(self._cert_timeout):
                    pem = await self._cert_fetcher(url)
                cert = x509.load_pem_x509_certificate(pem)
            except (TimeoutError, httpx.HTTPError, OSError, ValueError):
                logger.warning("paypal webhook certificate could not be fetched or read")
                return
            if len(self._certs) >= _MAX_CERTS:
                self._certs.pop(next(iter(self._certs)))
            self._certs[url] = cert

    async def _fetch_certificate(self, url: str) -> bytes:
        """GET the PEM certificate, at most ``_MAX_CERT_BYTES`` of it."""
        if self._cert_client is None:
            self._cert_client = httpx.AsyncClient(
                timeout=self._cert_timeout, follow_redirects=False
            )
        async with self._cert_client.stream("GET", url) as response:
            if response.status_code != 200:
                raise ValueError("no certificate at that address")
            pem = b""
            async for chunk in response.aiter_bytes():
                pem += chunk
                if len(pem) > _MAX_CERT_BYTES:
                    raise ValueError("certificate too large")
        return pem

    def _allowed_cert_url(self, url: str) -> bool:
        parts = urlsplit(url)
        return "@" not in parts.netloc and _origin(url) in self._cert_origins and bool(parts.path)

    def parse_webhook(
        self, body: bytes, headers: Mapping[str, str], *, now: datetime
    ) -> WebhookEvent:
        self._verify(body, headers, now)
        return self.translate_webhook(body)

    def _verify(self, body: bytes, headers: Mapping[str, str], now: datetime) -> None:
        if not self._webhook_id:
            raise WebhookSignatureError(reason="no webhook id is configured")
        transmission_id = get_header(headers, "PAYPAL-TRANSMISSION-ID")
        transmission_time = get_header(headers, "PAYPAL-TRANSMISSION-TIME")
        signature = get_header(headers, "PAYPAL-TRANSMISSION-SIG")
        cert_url = get_header(headers, "PAYPAL-CERT-URL")
        algorithm = get_header(headers, "PAYPAL-AUTH-ALGO")
        if not (transmission_id and transmission_time and signature and cert_url):
            raise WebhookSignatureError(reason="missing signature header")
        if algorithm != _AUTH_ALGO:
            raise WebhookSignatureError(reason="unsupported signature algorithm")
        if max(len(transmission_id), len(transmission_time), len(cert_url)) > 500:
            raise WebhookSignatureError(reason="signature header too long")
        sent = parse_rfc3339(transmission_time)
        if sent is None:
            raise WebhookSignatureError(reason="malformed timestamp")
        stale = self._stale(sent, now)
        if stale is not None:
            raise WebhookSignatureError(reason=stale)
        try:
            raw_signature = base64.b64decode(signature, validate=True)
        except (binascii.Error, ValueError):
            raise WebhookSignatureError(reason="malformed signature") from None
        certificate = self._certificate(cert_url, now)
        key = certificate.public_key()
        if not isinstance(key, rsa.RSAPublicKey):
            raise WebhookSignatureError(reason="certificate key is not RSA")
        message = f"{transmission_id}|{transmission_time}|{self._webhook_id}|{zlib.crc32(body)}"
        try:
            key.verify(raw_signature, message.encode(), padding.PKCS1v15(), hashes.SHA256())
        except InvalidSignature:
            raise WebhookSignatureError(reason="no signature matches") from None

    def _stale(self, sent: datetime, now: datetime) -> str | None:
        """Why a transmission time is refused: older than PayPal's redeliveries, or ahead of
        our clock by more than the tolerance; ``None`` when it is fine."""
        age = (now - sent).total_seconds()
        if age > self._max_age.total_seconds():
            return "timestamp too old"
        if -age > self._tolerance:
            return "timestamp in the future"
        return None

    def _certificate(self, url: str, now: datetime) -> x509.Certificate:
        """The signing certificate at ``url`` as :meth:`prepare_webhook` fetched it."""
        if not self._allowed_cert_url(url):
            raise WebhookSignatureError(reason="certificate URL is not a PayPal address")
        cert = self._certs.get(url)
        if cert is None:
            raise WebhookSignatureError(reason="certificate unavailable")
        if not cert.not_valid_before_utc - timedelta(minutes=5) <= now <= cert.not_valid_after_utc:
            raise WebhookSignatureError(reason="certificate expired or not yet valid")
        return cert

    def translate_webhook(self, body: bytes) -> WebhookEvent:
        event = load_object(body)
        event_id = checked_event_id(event.get("id"))
        event_type = event.get("event_type")
        resource = event.get("resource")
        if not isinstance(event_type, str) or not isinstance(resource, dict):
            raise ValidationError(field="resource", reason="an event needs a type and a resource")
        created_at = parse_rfc3339(event.get("create_time")) or datetime.fromtimestamp(0, UTC)
        kind = _CAPTURE_EVENTS.get(event_type)
        if kind is not None:
            related = resource.get("supplementary_data")
            related_ids = related.get("related_ids") if isinstance(related, dict) else None
            order_id = related_ids.get("order_id") if isinstance(related_ids, dict) else None
            return WebhookEvent(
                id=event_id,
                type=event_type,
                kind=kind,
                created_at=created_at,
                provider_payment_id=provider_id(order_id),
                payment_id=parse_uuid(resource.get("custom_id")),
                amount=_money(resource.get("amount")),
                failure_code=(
                    _processor_code(resource) if kind is WebhookKind.PAYMENT_FAILED else None
                ),
            )
        if event_type == "PAYMENT.CAPTURE.REFUNDED":
            status = _REFUND_STATUS.get(str(resource.get("status")))
            if status in (ProviderRefundStatus.SUCCEEDED, ProviderRefundStatus.FAILED):
                return WebhookEvent(
                    id=event_id,
                    type=event_type,
                    kind=(
                        WebhookKind.REFUND_SUCCEEDED
                        if status is ProviderRefundStatus.SUCCEEDED
                        else WebhookKind.REFUND_FAILED
                    ),
                    created_at=created_at,
                    provider_refund_id=provider_id(resource.get("id")),
                    amount=_money(resource.get("amount")),
                    failure_code="refund_failed" if status is ProviderRefundStatus.FAILED else None,
                )
        if event_type == "PAYMENT.CAPTURE.REVERSED":
            # PayPal took the money back (a reversal, not a refund we asked for): nothing in
            # our model moves by itself; someone has to look.
            logger.warning("paypal reversed a capture (event %s); needs a human", event_id)
        return WebhookEvent(
            id=event_id, type=event_type, kind=WebhookKind.IGNORED, created_at=created_at
        )


# ---------------------------------------------------------------------------- helpers


def _origin(url: str) -> str:
    parts = urlsplit(url.strip())
    host = (parts.hostname or "").lower()
    port = f":{parts.port}" if parts.port else ""
    return f"{parts.scheme.lower()}://{host}{port}"


def _str(value: object) -> str | None:
    return value if isinstance(value, str) and value else None


def _amount(money: Money) -> dict[str, str]:
    return {"currency_code": money.currency.code, "value": PAYPAL_UNITS.to_decimal_text(money)}


def _money(value: object) -> Money | None:
    if not isinstance(value, dict):
        return None
    currency, amount = value.get("currency_code"), value.get("value")
    if not isinstance(currency, str) or not isinstance(amount, str):
        return None
    try:
        return Money.parse(amount, currency)
    except ValueError:
        return None


def _first_unit(order: Mapping[str, Any]) -> Mapping[str, Any]:
    units = order.get("purchase_units")
    if isinstance(units, list) and units and isinstance(units[0], dict):
        return units[0]
    return {}


def _last_capture(unit: Mapping[str, Any]) -> Mapping[str, Any] | None:
    payments = unit.get("payments")
    captures = payments.get("captures") if isinstance(payments, dict) else None
    if isinstance(captures, list) and captures and isinstance(captures[-1], dict):
        return captures[-1]
    return None


def _link(obj: Mapping[str, Any], rel: str) -> str | None:
    links = obj.get("links")
    for link in links if isinstance(links, list) else ():
        if isinstance(link, dict) and link.get("rel") == rel and isinstance(link.get("href"), str):
            return str(link["href"])
    return None


def _processor_code(capture: Mapping[str, Any]) -> str:
    response = capture.get("processor_response")
    code = response.get("response_code") if isinstance(response, dict) else None
    return _PROCESSOR_CODES.get(str(code), "card_declined")


def _card(order: Mapping[str, Any]) -> Card | None:
    source = order.get("payment_source")
    card = source.get("card") if isinstance(source, dict) else None
    if not isinstance(card, dict):
        return None
    month = year = None
    expiry = card.get("expiry")
    if isinstance(expiry, str) and len(expiry) == 7 and expiry[4] == "-":
        year_text, month_text = expiry.split("-")
        if year_text.isdigit() and month_text.isdigit():
            year, month = int(year_text), int(month_text)
    try:
        return Card(
            brand=str(card.get("brand", "unknown")).lower(),
            last4=str(card.get("last_digits", "")),
            exp_month=month,
            exp_year=year,
        )
    except ValueError:
        return None

"""The PayPal adapter: its operations over Orders v2 and Payments v2."""

from __future__ import annotations

import logging
import time
from collections.abc import Awaitable, Callable, Collection, Mapping
from datetime import datetime, timedelta
from typing import Any, Final, TypeVar

import httpx

from payment_adapters.providers._common import (
    Backoff,
    call_with_retries,
    parse_uuid,
    refuse_raw_card_data,
)
from payment_adapters.providers._http import HttpReply, JsonHttp
from payment_adapters.providers._unsupported import WithoutHolds, refuse_unsupported
from payment_adapters.providers.paypal import _disputes, _webhooks
from payment_adapters.providers.paypal._auth import AccessTokens
from payment_adapters.providers.paypal._certificates import (
    PAYPAL_CERT_ORIGINS,
    CertFetcher,
    Certificates,
)
from payment_adapters.providers.paypal._transformers import (
    ACTION_ISSUES,
    DECLINE_ISSUES,
    FINAL_REFUND_ISSUES,
    amount_of,
    error_from,
    first_unit,
    issue_of,
    last_capture,
    order_of,
    order_payment,
    paypal_money,
    refund_reply,
)
from payment_adapters.providers.ratelimit import TokenBucket
from payment_core.errors import ProviderDeclinedError, ProviderRejectedError
from payment_core.money import Money
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

__all__ = [
    "APPROVAL_PAYMENT_METHOD",
    "PAYPAL_LIVE_API_BASE",
    "PAYPAL_SANDBOX_API_BASE",
    "PayPalProvider",
]

logger = logging.getLogger(__name__)

T = TypeVar("T")

PAYPAL_SANDBOX_API_BASE: Final = "https://api-m.sandbox.paypal.com"
PAYPAL_LIVE_API_BASE: Final = "https://api-m.paypal.com"
#: Confirming with this payment method captures what the buyer approved at PayPal.
APPROVAL_PAYMENT_METHOD: Final = "paypal"

_MAX_BODY_FIELD: Final = 127


def _no_order() -> ProviderRejectedError:
    return ProviderRejectedError(
        reason_code="unknown_provider_payment", message="this payment has no PayPal order"
    )


class PayPalProvider(WithoutHolds, _disputes.PayPalDisputes):
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
        webhook_max_age: timedelta = _webhooks.PAYPAL_REDELIVERY_WINDOW,
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
        self._return_url = return_url
        self._cancel_url = cancel_url
        self._backoff = backoff or Backoff()
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
        self._tokens = AccessTokens(
            self._http,
            client_id,
            client_secret,
            refresh_margin=token_refresh_margin_seconds,
            clock=clock,
        )
        self._certificates = Certificates(
            origins=cert_origins, fetcher=cert_fetcher, timeout=cert_timeout
        )
        self._webhooks = _webhooks.WebhookVerifier(
            webhook_id,
            self._certificates,
            tolerance_seconds=webhook_tolerance_seconds,
            max_age=webhook_max_age,
        )

    def __repr__(self) -> str:
        return f"PayPalProvider(name={self._name!r}, base={self._http.base_url!r})"

    @property
    def name(self) -> str:
        return self._name

    #: PayPal's buyer approves at PayPal; the capture follows.
    takes_verification_token: Final = False

    async def aclose(self) -> None:
        await self._http.aclose()
        await self._certificates.aclose()

    # ------------------------------------------------------------------ calls
    async def _api(
        self,
        method: str,
        path: str,
        *,
        json_body: object | None = None,
        request_id: str | None = None,
    ) -> HttpReply:
        token = await self._tokens.get()
        for attempt in (1, 2):
            headers = {"Authorization": f"Bearer {token}", "Prefer": "return=representation"}
            if request_id is not None:
                headers["PayPal-Request-Id"] = request_id
            reply = await self._http.request(method, path, headers=headers, json_body=json_body)
            if reply.status != 401 or attempt == 2:
                return reply
            # Revoked or expired early: one fresh token, then the same request again.
            token = await self._tokens.get(stale=token)
        raise AssertionError("unreachable")  # pragma: no cover

    async def _call(self, operation: str, attempt: Callable[[], Awaitable[T]]) -> T:
        return await call_with_retries(
            attempt, backoff=self._backoff, provider=self._name, operation=operation, logger=logger
        )

    def _error(self, reply: HttpReply) -> Exception:
        return error_from(reply, self._tokens.redactor)

    def _issue(self, reply: HttpReply) -> tuple[str, str]:
        return issue_of(reply, self._tokens.redactor)

    # ------------------------------------------------------------------ payments
    async def create_payment(self, request: CreatePaymentRequest) -> ProviderPayment:
        refuse_unsupported(self.name, request)
        unit: dict[str, Any] = {
            "reference_id": str(request.payment_id),
            "custom_id": str(request.payment_id),
            "amount": amount_of(request.amount),
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
            return order_payment(order_of(reply), expected_id=None, awaiting_payer=False)

        return await self._call("create_payment", attempt)

    async def _get_order(self, order_id: str, operation: str) -> Mapping[str, Any]:
        async def attempt() -> Mapping[str, Any]:
            reply = await self._api("GET", f"/v2/checkout/orders/{order_id}")
            if not reply.ok:
                raise self._error(reply)
            return order_of(reply)

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
                return order_payment(order_of(reply), expected_id=order_id, awaiting_payer=True)
            if reply.status == 422:
                issue, message = self._issue(reply)
                if issue in DECLINE_ISSUES:
                    raise ProviderDeclinedError(decline_code=DECLINE_ISSUES[issue], message=message)
                if issue in ACTION_ISSUES or issue == "ORDER_ALREADY_CAPTURED":
                    return None  # the order itself says what is next
            raise self._error(reply)

        captured = await self._call(operation, attempt)
        if captured is not None:
            return captured
        order = await self._get_order(order_id, operation)
        return order_payment(order, expected_id=order_id, awaiting_payer=True)

    async def confirm_payment(self, request: ConfirmPaymentRequest) -> ProviderPayment:
        refuse_unsupported(self.name, request)
        refuse_raw_card_data(payment_method=request.payment_method)
        if request.provider_payment_id is None:
            raise _no_order()
        return await self._capture(
            request.provider_payment_id,
            request.payment_method,
            request.idempotency_key,
            "confirm_payment",
        )

    async def retrieve_payment(self, request: RetrievePaymentRequest) -> ProviderPayment:
        order_id = request.provider_payment_id
        if order_id is None:
            raise _no_order()
        order = await self._get_order(order_id, "retrieve_payment")
        unit = first_unit(order)
        method = None
        if last_capture(unit) is None and request.payment_method:
            if order["status"] == "APPROVED":
                # The buyer approved (or passed 3-D Secure) after our capture asked them to.
                method = APPROVAL_PAYMENT_METHOD
            elif (
                order["status"] in ("CREATED", "SAVED")
                and request.payment_method != APPROVAL_PAYMENT_METHOD
            ):
                method = request.payment_method  # our capture never reached PayPal
        if method is None:
            return order_payment(order, expected_id=order_id, awaiting_payer=True)
        # The services ask only about payments they are confirming: finish the capture. An
        # order is captured at most once, so this can never charge twice.
        logger.info("paypal order %s was never captured; capturing it now", order_id)
        # One key per capture body: a capture of what the buyer approved (no payment source)
        # is another request than a capture with the vaulted method, and PayPal answers a
        # request id used before with that first request's answer.
        key = request.idempotency_key
        if method == APPROVAL_PAYMENT_METHOD:
            key += "-approved"
        try:
            return await self._capture(order_id, method, key, "retrieve_payment")
        except ProviderDeclinedError as exc:
            amount = paypal_money(unit.get("amount"))
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

    async def cancel_payment(self, request: CancelPaymentRequest) -> None:
        # An uncaptured CAPTURE order cannot be voided through the API; PayPal lets it expire.
        logger.debug("paypal order %s left to expire", request.provider_payment_id)

    # ------------------------------------------------------------------ refunds
    async def _capture_id(self, order_id: str, operation: str) -> tuple[str, Mapping[str, Any]]:
        order = await self._get_order(order_id, operation)
        unit = first_unit(order)
        capture = last_capture(unit)
        if capture is None or not isinstance(capture.get("id"), str):
            raise ProviderRejectedError(
                reason_code="not_captured", message="the PayPal order has no capture to refund"
            )
        return str(capture["id"]), unit

    async def _post_refund(
        self, capture_id: str, amount: Money, key: str, *, note: str | None = None
    ) -> ProviderRefund:
        body: dict[str, Any] = {"amount": amount_of(amount), "custom_id": key[:_MAX_BODY_FIELD]}
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
                if issue in FINAL_REFUND_ISSUES:
                    raise ProviderRejectedError(reason_code=issue.lower(), message=message)
                # Any other refusal is definite: nothing moved; a later attempt may pass.
                raise ProviderDeclinedError(decline_code=issue.lower(), message=message)
            raise self._error(reply)

        refund = await self._call("refund", attempt)
        if paypal_money(refund.get("amount")) is None and isinstance(refund.get("id"), str):
            refund = await self._get_refund(str(refund["id"]))  # a minimal representation
        return refund_reply(refund)

    async def _get_refund(self, refund_id: str) -> Mapping[str, Any]:
        async def attempt() -> Mapping[str, Any]:
            reply = await self._api("GET", f"/v2/payments/refunds/{refund_id}")
            if not reply.ok:
                raise self._error(reply)
            return reply.object()

        return await self._call("retrieve_refund", attempt)

    async def refund(self, request: RefundRequest) -> ProviderRefund:
        if request.provider_payment_id is None:
            raise _no_order()
        capture_id, _ = await self._capture_id(request.provider_payment_id, "refund")
        return await self._post_refund(capture_id, request.amount, request.idempotency_key)

    async def retrieve_refund(self, request: RetrieveRefundRequest) -> ProviderRefund:
        if request.provider_refund_id is not None:
            return refund_reply(await self._get_refund(request.provider_refund_id))
        if request.provider_payment_id is None:
            raise _no_order()
        capture_id, unit = await self._capture_id(request.provider_payment_id, "retrieve_refund")
        payments = unit.get("payments")
        refunds = payments.get("refunds") if isinstance(payments, dict) else None
        for refund in refunds if isinstance(refunds, list) else ():
            if isinstance(refund, dict) and refund.get("custom_id") == request.idempotency_key:
                if paypal_money(refund.get("amount")) is None:
                    return refund_reply(await self._get_refund(str(refund.get("id"))))
                return refund_reply(refund)
        # No refund carries this attempt's key: it never happened; make it now, same key.
        return await self._post_refund(capture_id, request.amount, request.idempotency_key)

    # ------------------------------------------------------------------ webhooks
    async def prepare_webhook(self, headers: Mapping[str, str], *, now: datetime) -> None:
        """Fetch the delivery's signing certificate (see :meth:`WebhookVerifier.prepare`)."""
        await self._webhooks.prepare(headers, now=now)

    def parse_webhook(
        self, body: bytes, headers: Mapping[str, str], *, now: datetime
    ) -> WebhookEvent:
        self._webhooks.verify(body, headers, now=now)
        return self.translate_webhook(body)

    def translate_webhook(self, body: bytes) -> WebhookEvent:
        return _webhooks.translate(body)

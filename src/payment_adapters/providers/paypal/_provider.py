"""The PayPal adapter: its operations over Orders v2 and Payments v2."""

from __future__ import annotations

import logging
import time
from collections.abc import Callable, Collection, Mapping
from datetime import datetime, timedelta
from typing import Any, Final

import httpx

from payment_adapters.providers._common import Backoff, parse_uuid, refuse_raw_card_data
from payment_adapters.providers._http import JsonHttp
from payment_adapters.providers.paypal import _disputes, _webhooks
from payment_adapters.providers.paypal._auth import AccessTokens
from payment_adapters.providers.paypal._certificates import (
    PAYPAL_CERT_ORIGINS,
    CertFetcher,
    Certificates,
)
from payment_adapters.providers.paypal._client import no_order
from payment_adapters.providers.paypal._holds import PayPalHolds
from payment_adapters.providers.paypal._orders import payment_of
from payment_adapters.providers.paypal._refunds import PayPalRefunds
from payment_adapters.providers.paypal._transformers import (
    ACTION_ISSUES,
    DECLINE_ISSUES,
    amount_of,
    first_unit,
    last_authorization,
    last_capture,
    order_of,
    paypal_money,
)
from payment_adapters.providers.paypal._vault import (
    APPROVAL_PAYMENT_METHOD,
    PayPalVault,
    card_source,
)
from payment_adapters.providers.ratelimit import TokenBucket
from payment_core.errors import NotSupportedByProviderError, ProviderDeclinedError
from payment_core.model.payment import CaptureMethod
from payment_core.ports import (
    ConfirmPaymentRequest,
    CreatePaymentRequest,
    ProviderCapabilities,
    ProviderPayment,
    ProviderPaymentStatus,
    RetrievePaymentRequest,
    WebhookEvent,
)

__all__ = [
    "APPROVAL_PAYMENT_METHOD",
    "PAYPAL_LIVE_API_BASE",
    "PAYPAL_SANDBOX_API_BASE",
    "PayPalProvider",
]

logger = logging.getLogger(__name__)

PAYPAL_SANDBOX_API_BASE: Final = "https://api-m.sandbox.paypal.com"
PAYPAL_LIVE_API_BASE: Final = "https://api-m.paypal.com"

_MAX_BODY_FIELD: Final = 127
#: An order paid already (by an earlier attempt whose answer was lost): read it instead.
_DONE_ALREADY: Final = frozenset({"ORDER_ALREADY_CAPTURED", "ORDER_ALREADY_AUTHORIZED"})


class PayPalProvider(PayPalHolds, PayPalVault, PayPalRefunds, _disputes.PayPalDisputes):
    """The ``PaymentProvider`` port over PayPal Orders v2, Payments v2 and the vault.

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

    #: Holds (``intent=AUTHORIZE``), partial captures (``final_capture=true``), increases
    #: (``reauthorize``: only where PayPal allows it, see :class:`PayPalHolds`), cards saved in
    #: the vault and charged merchant-initiated.
    capabilities: Final = ProviderCapabilities.all()

    async def aclose(self) -> None:
        await self._http.aclose()
        await self._certificates.aclose()

    # ------------------------------------------------------------------ payments
    async def create_payment(self, request: CreatePaymentRequest) -> ProviderPayment:
        if request.setup_future_usage is not None and (
            request.payment_method == APPROVAL_PAYMENT_METHOD
        ):
            raise NotSupportedByProviderError.of(self.name, "setup_future_usage with paypal")
        unit: dict[str, Any] = {
            "reference_id": str(request.payment_id),
            "custom_id": str(request.payment_id),
            "amount": amount_of(request.amount),
        }
        if request.description:
            unit["description"] = request.description[:_MAX_BODY_FIELD]
        # The card comes with the confirm (an order created with one is processed at once).
        intent = "AUTHORIZE" if request.capture_method is CaptureMethod.MANUAL else "CAPTURE"
        body: dict[str, Any] = {"intent": intent, "purchase_units": [unit]}
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
            return payment_of(order_of(reply), expected_id=None, awaiting_payer=False)

        return await self._call("create_payment", attempt)

    async def _pay(
        self, order_id: str, action: str, body: Mapping[str, Any], key: str, operation: str
    ) -> ProviderPayment:
        """Capture (``action="capture"``) or authorize (``"authorize"``) an order."""

        async def attempt() -> ProviderPayment | None:
            reply = await self._api(
                "POST", f"/v2/checkout/orders/{order_id}/{action}", json_body=body, request_id=key
            )
            if reply.ok:
                return payment_of(order_of(reply), expected_id=order_id, awaiting_payer=True)
            if reply.status == 422:
                issue, message = self._issue(reply)
                if issue in DECLINE_ISSUES:
                    raise ProviderDeclinedError(decline_code=DECLINE_ISSUES[issue], message=message)
                if issue in ACTION_ISSUES or issue in _DONE_ALREADY:
                    return None  # the order itself says what is next
            raise self._error(reply)

        paid = await self._call(operation, attempt)
        if paid is not None:
            return paid
        order = await self._get_order(order_id, operation)
        return payment_of(order, expected_id=order_id, awaiting_payer=True)

    async def confirm_payment(self, request: ConfirmPaymentRequest) -> ProviderPayment:
        refuse_raw_card_data(payment_method=request.payment_method)
        if request.provider_payment_id is None:
            raise no_order()
        body = card_source(
            self.name,
            request.payment_method,
            setup_future_usage=request.setup_future_usage,
            customer_id=request.customer_id,
            saved_payment_method=request.saved_payment_method,
            off_session=request.off_session,
        )
        manual = request.capture_method is CaptureMethod.MANUAL
        return await self._pay(
            request.provider_payment_id,
            "authorize" if manual else "capture",
            body,
            request.idempotency_key,
            "confirm_payment",
        )

    async def retrieve_payment(self, request: RetrievePaymentRequest) -> ProviderPayment:
        order_id = request.provider_payment_id
        if order_id is None:
            raise no_order()
        order = await self._get_order(order_id, "retrieve_payment")
        unit = first_unit(order)
        method = None
        paid = last_capture(unit) is not None or last_authorization(unit) is not None
        if not paid and request.payment_method:
            if order["status"] == "APPROVED":
                # The buyer approved (or passed 3-D Secure) after our capture asked them to.
                method = APPROVAL_PAYMENT_METHOD
            elif (
                order["status"] in ("CREATED", "SAVED")
                and request.payment_method != APPROVAL_PAYMENT_METHOD
            ):
                method = request.payment_method  # our capture never reached PayPal
        if method is None:
            return payment_of(order, expected_id=order_id, awaiting_payer=True)
        # The services ask only about payments they are confirming: finish the capture (or
        # the authorization of a hold). An order is paid at most once: never twice.
        action = "authorize" if order.get("intent") == "AUTHORIZE" else "capture"
        logger.info("paypal order %s was never paid; %s it now", order_id, action)
        # One key per body: paying what the buyer approved (no payment source) is another
        # request than paying with the vaulted method, and PayPal answers a request id used
        # before with that first request's answer.
        key = request.idempotency_key
        if method == APPROVAL_PAYMENT_METHOD:
            key += "-approved"
        try:
            return await self._pay(
                order_id, action, card_source(self.name, method), key, "retrieve_payment"
            )
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

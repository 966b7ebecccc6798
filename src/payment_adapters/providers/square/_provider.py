"""The Square adapter: its operations over the Payments and Refunds APIs."""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable, Mapping, Sequence
from datetime import datetime
from typing import Any, Final, TypeVar
from urllib.parse import urlencode
from uuid import UUID

import httpx

from payment_adapters.providers._common import (
    Backoff,
    Redactor,
    call_with_retries,
    refuse_raw_card_data,
)
from payment_adapters.providers._http import HttpReply, JsonHttp
from payment_adapters.providers._unsupported import WithoutHolds, refuse_unsupported
from payment_adapters.providers.ratelimit import TokenBucket
from payment_adapters.providers.square import _disputes, _webhooks
from payment_adapters.providers.square._lookup import PaymentLookup
from payment_adapters.providers.square._transformers import (
    VERIFICATION_CODES,
    attempt_key,
    error_from,
    first_error,
    parse_placeholder,
    payment_key,
    payment_reply,
    placeholder_id,
    refund_reply,
    square_key,
    to_square_money,
)
from payment_core.errors import (
    ProviderDeclinedError,
    ProviderRejectedError,
    ProviderUnavailableError,
)
from payment_core.model.payment import NextAction
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
    "SQUARE_LIVE_API_BASE",
    "SQUARE_SANDBOX_API_BASE",
    "SQUARE_VERSION",
    "SquareProvider",
]

logger = logging.getLogger(__name__)

T = TypeVar("T")

SQUARE_SANDBOX_API_BASE: Final = "https://connect.squareupsandbox.com"
SQUARE_LIVE_API_BASE: Final = "https://connect.squareup.com"
SQUARE_VERSION: Final = "2025-10-16"


class SquareProvider(WithoutHolds, _disputes.SquareDisputes):
    """The ``PaymentProvider`` port over Square's Payments API.

    ``webhook_signature_keys`` (several while one rotates) and ``notification_url`` (exactly as
    registered with Square) verify webhooks. ``verification_url`` is where a buyer whose bank
    wants Strong Customer Authentication is sent (our page running Square's ``verifyBuyer``;
    ``{payment_id}`` is replaced); without it the next action is ``verify_buyer`` with no URL.
    """

    def __init__(
        self,
        access_token: str,
        *,
        webhook_signature_keys: Sequence[str] = (),
        notification_url: str | None = None,
        environment: str = "sandbox",
        api_base: str | None = None,
        square_version: str = SQUARE_VERSION,
        location_id: str | None = None,
        verification_url: str | None = None,
        timeout: float = 30.0,
        backoff: Backoff | None = None,
        rate_limiter: TokenBucket | None = None,
        name: str = "square",
        http_client: httpx.AsyncClient | None = None,
    ) -> None:
        if not access_token:
            raise ValueError("a Square access token is required")
        if environment not in ("sandbox", "live"):
            raise ValueError("environment must be 'sandbox' or 'live'")
        self._name = name
        self._access_token = access_token
        self._signature_keys = tuple(k for k in webhook_signature_keys if k)
        self._notification_url = notification_url
        self._version = square_version
        self._location_id = location_id
        self._verification_url = verification_url
        self._backoff = backoff or Backoff()
        self._redactor = Redactor([access_token, *self._signature_keys])
        self._http = JsonHttp(
            base_url=api_base
            or (SQUARE_LIVE_API_BASE if environment == "live" else SQUARE_SANDBOX_API_BASE),
            provider=name,
            timeout=timeout,
            limiter=rate_limiter if rate_limiter is not None else TokenBucket(20.0),
            client=http_client,
            logger=logger,
        )
        self._lookup = PaymentLookup(
            self._get_payment, self._list_payments, location_id=location_id
        )

    def __repr__(self) -> str:
        return f"SquareProvider(name={self._name!r}, base={self._http.base_url!r})"

    @property
    def name(self) -> str:
        return self._name

    #: Square's SCA: the buyer's ``verifyBuyer`` token comes with a confirm.
    takes_verification_token: Final = True

    async def aclose(self) -> None:
        await self._http.aclose()

    # ------------------------------------------------------------------ calls
    async def _send(
        self,
        method: str,
        path: str,
        *,
        json_body: object | None = None,
        params: Mapping[str, str] | None = None,
    ) -> HttpReply:
        headers = {
            "Authorization": f"Bearer {self._access_token}",
            "Square-Version": self._version,
        }
        if params is not None:
            path = f"{path}?{urlencode(dict(params))}"
        return await self._http.request(method, path, headers=headers, json_body=json_body)

    async def _call(self, operation: str, attempt: Callable[[], Awaitable[T]]) -> T:
        return await call_with_retries(
            attempt, backoff=self._backoff, provider=self._name, operation=operation, logger=logger
        )

    async def _object(
        self,
        operation: str,
        method: str,
        path: str,
        field: str,
        *,
        json_body: object = None,
    ) -> Mapping[str, Any]:
        """``body[field]`` of a successful call, retried while the outcome is unknown."""

        async def attempt() -> Mapping[str, Any]:
            reply = await self._send(method, path, json_body=json_body)
            if not reply.ok:
                raise error_from(reply, self._redactor)
            obj = reply.object().get(field)
            if not isinstance(obj, dict):
                raise ProviderUnavailableError(message=f"square reply has no {field}")
            return obj

        return await self._call(operation, attempt)

    def _payment(
        self, payment: Mapping[str, Any], *, fallback_id: str | None = None
    ) -> ProviderPayment:
        return payment_reply(payment, fallback_id=fallback_id, verify_buyer=self._verify_buyer)

    def _verify_buyer(self, payment_id: UUID | None) -> NextAction:
        if self._verification_url:
            return NextAction(
                type="redirect",
                url=self._verification_url.replace("{payment_id}", str(payment_id or "")),
            )
        return NextAction(type="verify_buyer", url="")

    # ------------------------------------------------------------------ payments
    async def create_payment(self, request: CreatePaymentRequest) -> ProviderPayment:
        refuse_unsupported(self.name, request)
        # Nothing to create at Square until the card is known (see the package doc).
        return ProviderPayment(
            provider_payment_id=placeholder_id(request.payment_id, request.amount),
            status=ProviderPaymentStatus.REQUIRES_PAYMENT_METHOD,
            amount=request.amount,
            payment_id=request.payment_id,
        )

    async def confirm_payment(self, request: ConfirmPaymentRequest) -> ProviderPayment:
        refuse_unsupported(self.name, request)
        refuse_raw_card_data(payment_method=request.payment_method)
        body: dict[str, Any] = {
            # Not the confirm's key for a first attempt: reconciliation must be able to ask
            # exactly the same question again (see retrieve_payment).
            "idempotency_key": attempt_key(request),
            "source_id": request.payment_method,
            "amount_money": to_square_money(request.amount),
            "autocomplete": False,
            "reference_id": str(request.payment_id),
        }
        if self._location_id:
            body["location_id"] = self._location_id
        if request.verification_token is not None:
            body["verification_token"] = request.verification_token

        async def attempt() -> Mapping[str, Any]:
            reply = await self._send("POST", "/v2/payments", json_body=body)
            if reply.ok:
                payment = reply.object().get("payment")
                if isinstance(payment, dict):
                    return payment
                raise ProviderUnavailableError(message="square reply has no payment")
            category, code, _ = first_error(reply, self._redactor)
            if category == "PAYMENT_METHOD_ERROR" and code in VERIFICATION_CODES:
                payment = reply.object().get("payment")
                return payment if isinstance(payment, dict) else {}
            raise error_from(reply, self._redactor)

        payment = await self._call("confirm_payment", attempt)
        if not payment:
            # Strong Customer Authentication wanted, and no payment object came back.
            return ProviderPayment(
                provider_payment_id=request.provider_payment_id or "",
                status=ProviderPaymentStatus.REQUIRES_ACTION,
                amount=request.amount,
                payment_id=request.payment_id,
                next_action=self._verify_buyer(request.payment_id),
            )
        self._lookup.remember(request.provider_payment_id, payment)
        if payment.get("status") == "APPROVED":
            payment = await self._complete(str(payment["id"]))
        return self._payment(payment, fallback_id=request.provider_payment_id)

    async def _complete(self, square_id: str) -> Mapping[str, Any]:
        try:
            return await self._object(
                "confirm_payment",
                "POST",
                f"/v2/payments/{square_id}/complete",
                "payment",
                json_body={},
            )
        except ProviderRejectedError:
            # Completed already (a retry whose first answer was lost)? Its state says.
            payment = await self._get_payment(square_id)
            if payment.get("status") == "COMPLETED":
                return payment
            raise

    async def _get_payment(self, square_id: str) -> Mapping[str, Any]:
        return await self._object("retrieve_payment", "GET", f"/v2/payments/{square_id}", "payment")

    async def _list_payments(self, params: Mapping[str, str]) -> Mapping[str, Any]:
        async def attempt() -> Mapping[str, Any]:
            reply = await self._send("GET", "/v2/payments", params=params)
            if not reply.ok:
                raise error_from(reply, self._redactor)
            return reply.object()

        return await self._call("retrieve_payment", attempt)

    async def retrieve_payment(self, request: RetrievePaymentRequest) -> ProviderPayment:
        payment = await self._lookup.find(request.provider_payment_id)
        if payment is None:
            placeholder = request.provider_payment_id or ""
            if not request.payment_method or parse_placeholder(placeholder) is None:
                return ProviderPayment(
                    provider_payment_id=placeholder,
                    status=ProviderPaymentStatus.REQUIRES_PAYMENT_METHOD,
                    amount=request.amount,
                    payment_id=request.payment_id,
                )
            # Square never saw our confirm (every attempt was lost). The services ask only
            # about payments they are confirming: make the payment now, under the very key
            # the confirm used (Square's first-attempt key, not the request's), so that a
            # confirm still on its way cannot charge twice.
            logger.info("square never saw payment %s; confirming it now", request.payment_id)
            try:
                return await self.confirm_payment(
                    ConfirmPaymentRequest(
                        payment_id=request.payment_id,
                        provider_payment_id=placeholder,
                        amount=request.amount,
                        payment_method=request.payment_method,
                        idempotency_key=payment_key(request.payment_id),
                    )
                )
            except ProviderDeclinedError:
                payment = await self._lookup.find(placeholder)
                if payment is None:
                    raise
                return self._payment(payment, fallback_id=placeholder)
        if payment.get("status") == "APPROVED":
            # Authorised by the confirm whose answer was lost: finish what it started.
            payment = await self._complete(str(payment["id"]))
        return self._payment(payment, fallback_id=request.provider_payment_id)

    async def cancel_payment(self, request: CancelPaymentRequest) -> None:
        # Square's cancel takes no idempotency key: it is idempotent by the payment's state.
        if parse_placeholder(request.provider_payment_id) is not None:
            return  # never confirmed: there is nothing at Square to release
        if request.provider_payment_id:
            await self._object(
                "cancel_payment",
                "POST",
                f"/v2/payments/{request.provider_payment_id}/cancel",
                "payment",
                json_body={},
            )

    # ------------------------------------------------------------------ refunds
    async def _payment_for_refund(self, provider_payment_id: str | None) -> str:
        payment = await self._lookup.find(provider_payment_id)
        if payment is None or not isinstance(payment.get("id"), str):
            raise ProviderRejectedError(
                reason_code="unknown_provider_payment",
                message="Square has no payment for this one of ours",
            )
        return str(payment["id"])

    async def _post_refund(self, square_id: str, amount: Money, key: str) -> ProviderRefund:
        body = {
            "idempotency_key": square_key(key),
            "payment_id": square_id,
            "amount_money": to_square_money(amount),
            # Square refunds have no metadata: the reason carries our key (see retrieve_refund).
            "reason": _refund_tag(key),
        }
        refund = await self._object("refund", "POST", "/v2/refunds", "refund", json_body=body)
        return refund_reply(refund)

    async def refund(self, request: RefundRequest) -> ProviderRefund:
        square_id = await self._payment_for_refund(request.provider_payment_id)
        return await self._post_refund(square_id, request.amount, request.idempotency_key)

    async def retrieve_refund(self, request: RetrieveRefundRequest) -> ProviderRefund:
        if request.provider_refund_id is not None:
            refund = await self._object(
                "retrieve_refund", "GET", f"/v2/refunds/{request.provider_refund_id}", "refund"
            )
            return refund_reply(refund)
        square_id = await self._payment_for_refund(request.provider_payment_id)
        payment = await self._get_payment(square_id)
        tag = _refund_tag(request.idempotency_key)
        for refund_id in payment.get("refund_ids") or ():
            if not isinstance(refund_id, str):
                continue
            refund = await self._object(
                "retrieve_refund", "GET", f"/v2/refunds/{refund_id}", "refund"
            )
            if refund.get("reason") == tag:
                return refund_reply(refund)
        # No refund carries this attempt's key: it never happened; make it now, same key.
        return await self._post_refund(square_id, request.amount, request.idempotency_key)

    # ------------------------------------------------------------------ webhooks
    async def prepare_webhook(self, headers: Mapping[str, str], *, now: datetime) -> None:
        return None  # a shared secret: nothing to fetch

    def parse_webhook(
        self, body: bytes, headers: Mapping[str, str], *, now: datetime
    ) -> WebhookEvent:
        _webhooks.verify(
            body,
            headers,
            signature_keys=self._signature_keys,
            notification_url=self._notification_url,
        )
        return self.translate_webhook(body)

    def translate_webhook(self, body: bytes) -> WebhookEvent:
        return _webhooks.translate(body)


def _refund_tag(key: str) -> str:
    """The ``reason`` that carries a refund attempt's key (Square refunds have no metadata)."""
    return f"ref:{key}"[:192]

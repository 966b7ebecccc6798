"""Square, over the Payments and Refunds APIs with ``httpx``.

Square's official Python SDK is generated, synchronous-first and tied to its own environments;
the few JSON calls used here go through ``httpx.AsyncClient`` directly (``Authorization:
Bearer``, ``Square-Version``), which also lets a local stand-in take Square's place.

Square has no object to "set up" before the card is known: a payment is created with its source
and is authorised there and then. So:

- Our create calls nothing and answers a *placeholder* provider id,
  ``sqpending_<our payment id, hex>_<amount>_<currency>``: it names everything needed to find the
  Square payment later, without a database of our own.
- Our confirm creates the Square payment (``source_id`` = the payment method,
  ``autocomplete=false``, ``reference_id`` = our payment id, ``idempotency_key`` = ours), then
  completes it. A lost answer is found again by listing payments of that exact amount
  (``GET /v2/payments?total=…``) and matching ``reference_id``; nothing is ever re-created to
  find it.
- Strong Customer Authentication: a bank that wants the buyer verified declines with
  ``CARD_DECLINED_VERIFICATION_REQUIRED``; the buyer runs Square's ``verifyBuyer`` in the
  browser and the confirm brings its ``verification_token``. Each such attempt is a new Square
  payment under its own key, derived from our payment id and the attempt (its token), so a
  retry of one attempt is the same request and a new attempt is never refused as a reused key.
- Refunds: ``POST /v2/refunds`` with our key; the refund's ``reason`` carries the key
  (``ref:<key>``) so that reconciliation finds a refund whose answer was lost.

Square caps idempotency keys at 45 characters: a longer key of ours is replaced by a fixed
45-character digest of it, the same for every retry.

Webhooks: ``x-square-hmacsha256-signature`` = base64(HMAC-SHA256(signature key, notification
URL + raw body)). Square signs no timestamp; a replayed delivery is caught by its event id.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import logging
import re
from collections.abc import Awaitable, Callable, Mapping, Sequence
from datetime import UTC, datetime
from typing import Any, Final, TypeVar
from urllib.parse import urlencode
from uuid import UUID

import httpx

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
from payment_adapters.providers._units import SQUARE_UNITS
from payment_adapters.providers.ratelimit import TokenBucket
from payment_core.errors import (
    ProviderDeclinedError,
    ProviderRejectedError,
    ProviderUnavailableError,
    ValidationError,
    WebhookSignatureError,
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
from payment_core.webhook_json import event_id as checked_event_id
from payment_core.webhook_json import load_object, provider_id

__all__ = [
    "SIGNATURE_HEADER",
    "SQUARE_LIVE_API_BASE",
    "SQUARE_SANDBOX_API_BASE",
    "SQUARE_VERSION",
    "SquareProvider",
]

logger = logging.getLogger("payment_adapters.providers.square")

T = TypeVar("T")

SQUARE_SANDBOX_API_BASE: Final = "https://connect.squareupsandbox.com"
SQUARE_LIVE_API_BASE: Final = "https://connect.squareup.com"
SQUARE_VERSION: Final = "2025-10-16"
SIGNATURE_HEADER: Final = "x-square-hmacsha256-signature"

_MAX_KEY: Final = 45
_PLACEHOLDER: Final = re.compile(
    r"^sqpending_(?P<id>[0-9a-f]{32})_(?P<amount>\d{1,15})_(?P<cur>[A-Z]{3})$"
)
_LIST_PAGES: Final = 10
_MAX_RESOLVED: Final = 10_000
_VERIFICATION_CODES: Final = frozenset({"CARD_DECLINED_VERIFICATION_REQUIRED"})
_DECLINE_CODES: Final[Mapping[str, str]] = {
    "GENERIC_DECLINE": "card_declined",
    "CARD_DECLINED": "card_declined",
    "INSUFFICIENT_FUNDS": "insufficient_funds",
    "CVV_FAILURE": "incorrect_cvc",
    "ADDRESS_VERIFICATION_FAILURE": "incorrect_zip",
    "INVALID_EXPIRATION": "expired_card",
    "EXPIRED_CARD": "expired_card",
    "CARD_DECLINED_CALL_ISSUER": "call_issuer",
    "INVALID_CARD": "invalid_card",
}
_PAYMENT_STATUS: Final[Mapping[str, ProviderPaymentStatus]] = {
    # Authorised, not captured: our confirm completes it straight away.
    "APPROVED": ProviderPaymentStatus.PROCESSING,
    "PENDING": ProviderPaymentStatus.PROCESSING,
    "COMPLETED": ProviderPaymentStatus.SUCCEEDED,
    "CANCELED": ProviderPaymentStatus.CANCELED,
    "FAILED": ProviderPaymentStatus.FAILED,
}
_REFUND_STATUS: Final[Mapping[str, ProviderRefundStatus]] = {
    "PENDING": ProviderRefundStatus.PENDING,
    "COMPLETED": ProviderRefundStatus.SUCCEEDED,
    "REJECTED": ProviderRefundStatus.FAILED,
    "FAILED": ProviderRefundStatus.FAILED,
}
_PAYMENT_EVENT_KINDS: Final[Mapping[str, WebhookKind]] = {
    "COMPLETED": WebhookKind.PAYMENT_SUCCEEDED,
    "FAILED": WebhookKind.PAYMENT_FAILED,
    "CANCELED": WebhookKind.PAYMENT_CANCELED,
    "APPROVED": WebhookKind.PAYMENT_PROCESSING,
    "PENDING": WebhookKind.PAYMENT_PROCESSING,
}


def square_key(key: str) -> str:
    """Our idempotency key as Square takes it (at most 45 characters), stable across retries."""
    if len(key) <= _MAX_KEY:
        return key
    return "h" + hashlib.sha256(key.encode()).hexdigest()[: _MAX_KEY - 1]


def payment_key(payment_id: UUID) -> str:
    """The idempotency key of our first Square payment attempt for a payment of ours.

    Derived from our payment id alone, so that reconciliation can ask the same question again.
    """
    return f"sq-pay-{payment_id.hex}"


def attempt_key(request: ConfirmPaymentRequest) -> str:
    """The Square key of one confirm attempt: :func:`payment_key`, or for an attempt with a
    buyer-verification token, the confirm's own key (derived from our payment id and the
    attempt), fitted to Square's 45 characters."""
    if request.verification_token is None:
        return payment_key(request.payment_id)
    return square_key(request.idempotency_key)


def placeholder_id(payment_id: UUID, amount: Money) -> str:
    """The provider id of a payment before Square has heard of it (see the module doc)."""
    return f"sqpending_{payment_id.hex}_{amount.amount}_{amount.currency.code}"


def _parse_placeholder(value: str | None) -> tuple[UUID, Money] | None:
    match = _PLACEHOLDER.match(value or "")
    if match is None:
        return None
    try:
        return UUID(match["id"]), Money(int(match["amount"]), Currency.of(match["cur"]))
    except ValueError:
        return None


class SquareProvider:
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
        self._resolved: dict[str, str] = {}
        self._http = JsonHttp(
            base_url=api_base
            or (SQUARE_LIVE_API_BASE if environment == "live" else SQUARE_SANDBOX_API_BASE),
            provider=name,
            timeout=timeout,
            limiter=rate_limiter if rate_limiter is not None else TokenBucket(20.0),
            client=http_client,
            logger=logger,
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
                raise self._error(reply)
            obj = reply.object().get(field)
            if not isinstance(obj, dict):
                raise ProviderUnavailableError(message=f"square reply has no {field}")
            return obj

        return await self._call(operation, attempt)

    # ------------------------------------------------------------------ errors
    def _first_error(self, reply: HttpReply) -> tuple[str, str, str]:
        errors = reply.object().get("errors")
        first = errors[0] if isinstance(errors, list) and errors else None
        if not isinstance(first, dict):
            return "", f"http_{reply.status}", f"Square answered {reply.status}"
        return (
            str(first.get("category") or ""),
            str(first.get("code") or f"http_{reply.status}"),
            self._redactor.clean(first.get("detail"), default=f"Square answered {reply.status}"),
        )

    def _error(self, reply: HttpReply) -> Exception:
        category, code, detail = self._first_error(reply)
        if reply.status == 429 or category == "RATE_LIMIT_ERROR":
            return ProviderUnavailableError(
                message="square rate limit (429)",
                retry_after_seconds=parse_retry_after(get_header(reply.headers, "Retry-After")),
            )
        if reply.status >= 500 or category == "API_ERROR" or reply.status == 409:
            return ProviderUnavailableError(
                message=f"square answered {reply.status}",
                retry_after_seconds=parse_retry_after(get_header(reply.headers, "Retry-After")),
            )
        if reply.status == 401 or category == "AUTHENTICATION_ERROR":
            return ProviderRejectedError(
                reason_code="authentication_failed", message="Square refused the access token."
            )
        if category in ("PAYMENT_METHOD_ERROR", "REFUND_ERROR"):
            return ProviderDeclinedError(
                decline_code=_DECLINE_CODES.get(code, code.lower()), message=detail
            )
        if reply.status == 403:
            return ProviderRejectedError(reason_code="permission_denied", message=detail)
        if 400 <= reply.status < 500:
            return ProviderRejectedError(reason_code=code.lower(), message=detail)
        return ProviderUnavailableError(message=f"square answered {reply.status}")

    # ------------------------------------------------------------------ replies
    def _payment(
        self, payment: Mapping[str, Any], *, fallback_id: str | None = None
    ) -> ProviderPayment:
        payment_ref = payment.get("id")
        amount = _money(payment.get("amount_money"))
        if not isinstance(payment_ref, str) or amount is None:
            raise ProviderUnavailableError(message="square reply is not a payment")
        raw = str(payment.get("status"))
        status = _PAYMENT_STATUS.get(raw, ProviderPaymentStatus.PROCESSING)
        codes = _card_error_codes(payment)
        failure_code = None
        next_action = None
        payment_id = parse_uuid(payment.get("reference_id"))
        if status is ProviderPaymentStatus.FAILED:
            if codes & _VERIFICATION_CODES:
                status = ProviderPaymentStatus.REQUIRES_ACTION
                next_action = self._verify_buyer(payment_id)
            else:
                code = next(iter(sorted(codes)), "GENERIC_DECLINE")
                failure_code = _DECLINE_CODES.get(code, code.lower())
        logger.debug("square payment=%s ours=%s status=%s", payment_ref, payment_id, raw)
        if next_action is not None and _parse_placeholder(fallback_id) is not None:
            # A verified buyer pays with a new Square payment: ours keeps its placeholder
            # (never this attempt's id) until then, so that the new payment's webhook, which
            # derives the placeholder, finds it (see translate_webhook).
            payment_ref = fallback_id
        return ProviderPayment(
            provider_payment_id=payment_ref or fallback_id or "",
            status=status,
            amount=amount,
            payment_id=payment_id,
            card=_card(payment),
            next_action=next_action,
            failure_code=failure_code,
            failure_message="The payment was declined." if failure_code else None,
        )

    def _verify_buyer(self, payment_id: UUID | None) -> NextAction:
        if self._verification_url:
            return NextAction(
                type="redirect",
                url=self._verification_url.replace("{payment_id}", str(payment_id or "")),
            )
        return NextAction(type="verify_buyer", url="")

    def _refund_reply(self, refund: Mapping[str, Any]) -> ProviderRefund:
        refund_id = refund.get("id")
        amount = _money(refund.get("amount_money"))
        if not isinstance(refund_id, str) or amount is None:
            raise ProviderUnavailableError(message="square reply is not a refund")
        status = _REFUND_STATUS.get(str(refund.get("status")), ProviderRefundStatus.PENDING)
        return ProviderRefund(
            provider_refund_id=refund_id,
            status=status,
            amount=amount,
            failure_reason=(
                str(refund.get("status")).lower() if status is ProviderRefundStatus.FAILED else None
            ),
        )

    # ------------------------------------------------------------------ payments
    async def create_payment(self, request: CreatePaymentRequest) -> ProviderPayment:
        # Nothing to create at Square until the card is known (see the module doc).
        return ProviderPayment(
            provider_payment_id=placeholder_id(request.payment_id, request.amount),
            status=ProviderPaymentStatus.REQUIRES_PAYMENT_METHOD,
            amount=request.amount,
            payment_id=request.payment_id,
        )

    async def confirm_payment(self, request: ConfirmPaymentRequest) -> ProviderPayment:
        refuse_raw_card_data(payment_method=request.payment_method)
        body: dict[str, Any] = {
            # Not the confirm's key for a first attempt: reconciliation must be able to ask
            # exactly the same question again (see retrieve_payment).
            "idempotency_key": attempt_key(request),
            "source_id": request.payment_method,
            "amount_money": _square_money(request.amount),
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
            category, code, _ = self._first_error(reply)
            if category == "PAYMENT_METHOD_ERROR" and code in _VERIFICATION_CODES:
                payment = reply.object().get("payment")
                return payment if isinstance(payment, dict) else {}
            raise self._error(reply)

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
        self._remember(request.provider_payment_id, payment)
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

    def _remember(self, placeholder: str | None, payment: Mapping[str, Any]) -> None:
        if placeholder is None or _parse_placeholder(placeholder) is None:
            return  # only a placeholder needs resolving
        # A failed attempt is not what the placeholder stands for: a later one may be.
        if isinstance(payment.get("id"), str) and payment.get("status") != "FAILED":
            if len(self._resolved) >= _MAX_RESOLVED:
                self._resolved.pop(next(iter(self._resolved)))
            self._resolved[placeholder] = str(payment["id"])

    async def _find_payment(self, provider_payment_id: str | None) -> Mapping[str, Any] | None:
        """The Square payment behind one of our provider ids, or ``None`` if it has none."""
        if provider_payment_id is None:
            return None
        parsed = _parse_placeholder(provider_payment_id)
        if parsed is None:
            payment = await self._get_payment(provider_payment_id)  # a real Square id
            ours = parse_uuid(payment.get("reference_id"))
            amount = _money(payment.get("amount_money"))
            if payment.get("status") != "FAILED" or ours is None or amount is None:
                return payment
            # A declined attempt (the bank wanted the buyer verified): a later attempt, whose
            # answer may have been lost, is the one that counts.
            return await self._list_attempts(ours, amount) or payment
        known = self._resolved.get(provider_payment_id)
        if known is not None:
            return await self._get_payment(known)
        best = await self._list_attempts(*parsed)
        if best is not None:
            self._remember(provider_payment_id, best)
        return best

    async def _list_attempts(self, payment_id: UUID, amount: Money) -> Mapping[str, Any] | None:
        """The Square payment made for ``payment_id`` that took the money, else any attempt."""
        cursor: str | None = None
        best: Mapping[str, Any] | None = None
        for _ in range(_LIST_PAGES):
            params = {
                "total": str(SQUARE_UNITS.to_provider(amount)),
                "sort_order": "DESC",
                "limit": "100",
            }
            if self._location_id:
                params["location_id"] = self._location_id
            if cursor:
                params["cursor"] = cursor
            page = await self._list_payments(params)
            for payment in page.get("payments") or ():
                if not isinstance(payment, dict) or payment.get("reference_id") != str(payment_id):
                    continue
                if _money(payment.get("amount_money")) != amount:
                    continue
                # Several attempts may exist (one declined for want of buyer verification,
                # then a verified one); one that took the money wins over one that did not.
                if best is None or (
                    best.get("status") == "FAILED" and payment.get("status") != "FAILED"
                ):
                    best = payment
            cursor = page.get("cursor") if isinstance(page.get("cursor"), str) else None
            if not cursor:
                break
        return best

    async def _list_payments(self, params: Mapping[str, str]) -> Mapping[str, Any]:
        async def attempt() -> Mapping[str, Any]:
            reply = await self._send("GET", "/v2/payments", params=params)
            if not reply.ok:
                raise self._error(reply)
            return reply.object()

        return await self._call("retrieve_payment", attempt)

    async def retrieve_payment(self, request: RetrievePaymentRequest) -> ProviderPayment:
        payment = await self._find_payment(request.provider_payment_id)
        if payment is None:
            placeholder = request.provider_payment_id or ""
            if not request.payment_method or _parse_placeholder(placeholder) is None:
                return ProviderPayment(
                    provider_payment_id=placeholder,
                    status=ProviderPaymentStatus.REQUIRES_PAYMENT_METHOD,
                    amount=request.amount,
                    payment_id=request.payment_id,
                )
            # Square never saw our confirm (every attempt was lost). The services ask only
            # about payments they are confirming: make the payment now, under the very key
            # the confirm used, so that a confirm still on its way cannot charge twice.
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
                payment = await self._find_payment(placeholder)
                if payment is None:
                    raise
                return self._payment(payment, fallback_id=placeholder)
        if payment.get("status") == "APPROVED":
            # Authorised by the confirm whose answer was lost: finish what it started.
            payment = await self._complete(str(payment["id"]))
        return self._payment(payment, fallback_id=request.provider_payment_id)

    async def cancel_payment(self, request: RetrievePaymentRequest, idempotency_key: str) -> None:
        if _parse_placeholder(request.provider_payment_id) is not None:
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
        payment = await self._find_payment(provider_payment_id)
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
            "amount_money": _square_money(amount),
            # Square refunds have no metadata: the reason carries our key (see retrieve_refund).
            "reason": f"ref:{key}"[:192],
        }
        refund = await self._object("refund", "POST", "/v2/refunds", "refund", json_body=body)
        return self._refund_reply(refund)

    async def refund(self, request: RefundRequest) -> ProviderRefund:
        square_id = await self._payment_for_refund(request.provider_payment_id)
        return await self._post_refund(square_id, request.amount, request.idempotency_key)

    async def retrieve_refund(self, request: RetrieveRefundRequest) -> ProviderRefund:
        if request.provider_refund_id is not None:
            refund = await self._object(
                "retrieve_refund", "GET", f"/v2/refunds/{request.provider_refund_id}", "refund"
            )
            return self._refund_reply(refund)
        square_id = await self._payment_for_refund(request.provider_payment_id)
        payment = await self._get_payment(square_id)
        tag = f"ref:{request.idempotency_key}"[:192]
        for refund_id in payment.get("refund_ids") or ():
            if not isinstance(refund_id, str):
                continue
            refund = await self._object(
                "retrieve_refund", "GET", f"/v2/refunds/{refund_id}", "refund"
            )
            if refund.get("reason") == tag:
                return self._refund_reply(refund)
        # No refund carries this attempt's key: it never happened; make it now, same key.
        return await self._post_refund(square_id, request.amount, request.idempotency_key)

    # ------------------------------------------------------------------ webhooks
    async def prepare_webhook(self, headers: Mapping[str, str], *, now: datetime) -> None:
        return None  # a shared secret: nothing to fetch

    def parse_webhook(
        self, body: bytes, headers: Mapping[str, str], *, now: datetime
    ) -> WebhookEvent:
        if not self._signature_keys or not self._notification_url:
            raise WebhookSignatureError(reason="no webhook signature key is configured")
        signature = get_header(headers, SIGNATURE_HEADER)
        if not signature:
            raise WebhookSignatureError(reason="missing signature header")
        if len(signature) > 200:
            raise WebhookSignatureError(reason="signature header too long")
        payload = self._notification_url.encode() + body
        # Compared as bytes: compare_digest refuses str holding non-ASCII characters with a
        # TypeError, and a forged header may hold anything.
        candidate = signature.strip().encode("utf-8", "replace")
        matched = False
        for key in self._signature_keys:
            expected = base64.b64encode(hmac.new(key.encode(), payload, hashlib.sha256).digest())
            # Every key is checked (no early exit): timing says nothing about which matched.
            matched |= hmac.compare_digest(expected, candidate)
        if not matched:
            raise WebhookSignatureError(reason="no signature matches")
        return self.translate_webhook(body)

    def translate_webhook(self, body: bytes) -> WebhookEvent:
        event = load_object(body)
        event_id = checked_event_id(event.get("event_id"), field="event_id")
        event_type = event.get("type")
        data = event.get("data")
        obj = data.get("object") if isinstance(data, dict) else None
        if not isinstance(event_type, str) or not isinstance(obj, dict):
            raise ValidationError(field="data.object", reason="an event needs a type and an object")
        created_at = parse_rfc3339(event.get("created_at")) or datetime.fromtimestamp(0, UTC)
        payment = obj.get("payment")
        if event_type in ("payment.created", "payment.updated") and isinstance(payment, dict):
            raw = str(payment.get("status"))
            kind = _PAYMENT_EVENT_KINDS.get(raw, WebhookKind.IGNORED)
            codes = _card_error_codes(payment)
            failure_code = None
            if kind is WebhookKind.PAYMENT_FAILED:
                if codes & _VERIFICATION_CODES:
                    kind = WebhookKind.PAYMENT_REQUIRES_ACTION
                else:
                    code = next(iter(sorted(codes)), "GENERIC_DECLINE")
                    failure_code = _DECLINE_CODES.get(code, code.lower())
            ours = parse_uuid(payment.get("reference_id"))
            amount = _money(payment.get("amount_money"))
            return WebhookEvent(
                id=event_id,
                type=event_type,
                kind=kind,
                created_at=created_at,
                provider_payment_id=provider_id(payment.get("id")),
                payment_id=ours,
                amount=amount,
                card=_card(payment),
                failure_code=failure_code,
                # Our create named it so until Square did (a confirm whose answer was lost).
                placeholder_payment_id=(
                    placeholder_id(ours, amount) if ours and amount and amount.is_positive else None
                ),
            )
        refund = obj.get("refund")
        if event_type in ("refund.created", "refund.updated") and isinstance(refund, dict):
            status = _REFUND_STATUS.get(str(refund.get("status")))
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
                    provider_refund_id=provider_id(refund.get("id")),
                    provider_payment_id=provider_id(refund.get("payment_id")),
                    amount=_money(refund.get("amount_money")),
                    failure_code=(
                        str(refund.get("status")).lower()
                        if status is ProviderRefundStatus.FAILED
                        else None
                    ),
                )
        return WebhookEvent(
            id=event_id, type=event_type, kind=WebhookKind.IGNORED, created_at=created_at
        )


# ---------------------------------------------------------------------------- helpers


def _str(value: object) -> str | None:
    return value if isinstance(value, str) and value else None


def _square_money(money: Money) -> dict[str, Any]:
    return {"amount": SQUARE_UNITS.to_provider(money), "currency": money.currency.code}


def _money(value: object) -> Money | None:
    if not isinstance(value, dict):
        return None
    amount, currency = value.get("amount"), value.get("currency")
    if type(amount) is not int or not isinstance(currency, str):
        return None
    try:
        return SQUARE_UNITS.from_provider(amount, Currency.of(currency))
    except ValueError:
        return None


def _card_error_codes(payment: Mapping[str, Any]) -> set[str]:
    details = payment.get("card_details")
    errors = details.get("errors") if isinstance(details, dict) else None
    return {
        str(e["code"])
        for e in (errors if isinstance(errors, list) else ())
        if isinstance(e, dict) and isinstance(e.get("code"), str)
    }


def _card(payment: Mapping[str, Any]) -> Card | None:
    details = payment.get("card_details")
    card = details.get("card") if isinstance(details, dict) else None
    if not isinstance(card, dict):
        return None
    try:
        return Card(
            brand=str(card.get("card_brand", "unknown")).lower(),
            last4=str(card.get("last_4", "")),
            exp_month=card.get("exp_month") if type(card.get("exp_month")) is int else None,
            exp_year=card.get("exp_year") if type(card.get("exp_year")) is int else None,
        )
    except ValueError:
        return None

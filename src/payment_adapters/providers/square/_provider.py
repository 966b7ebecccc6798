"""The Square adapter: its operations over the Payments, Refunds, Customers and Cards APIs
(holds in ``_holds``, cards on file in ``_cards``, the calls themselves in ``_client``)."""

from __future__ import annotations

import logging
from collections.abc import Mapping, Sequence
from datetime import datetime
from typing import Any, Final

import attrs
import httpx

from payment_adapters.providers._common import Backoff, Redactor, refuse_raw_card_data
from payment_adapters.providers._http import JsonHttp
from payment_adapters.providers.ratelimit import TokenBucket
from payment_adapters.providers.square import _disputes, _webhooks
from payment_adapters.providers.square._cards import SquareCards, is_card_on_file
from payment_adapters.providers.square._holds import SquareHolds, hold_view
from payment_adapters.providers.square._lookup import PaymentLookup
from payment_adapters.providers.square._transformers import (
    VERIFICATION_CODES,
    attempt_key,
    error_from,
    first_error,
    parse_placeholder,
    payment_key,
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
from payment_core.model.payment import CaptureMethod
from payment_core.money import Money
from payment_core.ports import (
    CancelPaymentRequest,
    ConfirmPaymentRequest,
    CreatePaymentRequest,
    ProviderCapabilities,
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

SQUARE_SANDBOX_API_BASE: Final = "https://connect.squareupsandbox.com"
SQUARE_LIVE_API_BASE: Final = "https://connect.squareup.com"
SQUARE_VERSION: Final = "2025-10-16"


class SquareProvider(SquareHolds, SquareCards, _disputes.SquareDisputes):
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

    #: Holds (partial captures and increases where the payment's ``capabilities`` allow
    #: them, else ``NotSupportedByProviderError``), cards on file and charges of them.
    capabilities: Final = ProviderCapabilities.all()

    #: Square's SCA: the buyer's ``verifyBuyer`` token comes with a confirm.
    takes_verification_token: Final = True

    async def aclose(self) -> None:
        await self._http.aclose()

    # ------------------------------------------------------------------ payments
    async def create_payment(self, request: CreatePaymentRequest) -> ProviderPayment:
        # Nothing to create at Square until the card is known (see the package doc).
        return ProviderPayment(
            provider_payment_id=placeholder_id(request.payment_id, request.amount),
            status=ProviderPaymentStatus.REQUIRES_PAYMENT_METHOD,
            amount=request.amount,
            payment_id=request.payment_id,
        )

    async def confirm_payment(self, request: ConfirmPaymentRequest) -> ProviderPayment:
        refuse_raw_card_data(payment_method=request.payment_method)
        held = request.capture_method is CaptureMethod.MANUAL
        body: dict[str, Any] = {
            # Not the confirm's key for a first attempt: reconciliation must be able to ask
            # exactly the same question again (see retrieve_payment).
            "idempotency_key": attempt_key(request),
            "source_id": request.payment_method,
            "amount_money": to_square_money(request.amount),
            "autocomplete": False,
            "reference_id": str(request.payment_id),
        }
        if held:
            # At its deadline Square lets the hold go; it never takes the money by itself.
            body["delay_action"] = "CANCEL"
        if is_card_on_file(request.payment_method) and request.customer_id:
            # A card on file is charged for its customer (Square requires it).
            body["customer_id"] = request.customer_id
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
                if request.off_session:
                    # Nobody is there to verify: the guest has to pay on-session.
                    raise ProviderDeclinedError(
                        decline_code="authentication_required",
                        message="The card's bank wants the cardholder to authenticate.",
                    )
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
        if payment.get("status") == "APPROVED" and not held:
            payment = await self._complete(str(payment["id"]))
        reply = self._held(payment, request.provider_payment_id, held=held)
        if request.setup_future_usage is not None and reply.status in (
            ProviderPaymentStatus.SUCCEEDED,
            ProviderPaymentStatus.REQUIRES_CAPTURE,
        ):
            saved = await self._save_card(payment, request.payment_id, request.customer_id)
            reply = attrs.evolve(reply, saved_method=saved)
        return reply

    def _held(
        self, payment: Mapping[str, Any], fallback_id: str | None, *, held: bool
    ) -> ProviderPayment:
        return hold_view(payment, self._payment(payment, fallback_id=fallback_id), held=held)

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

    async def retrieve_payment(self, request: RetrievePaymentRequest) -> ProviderPayment:
        reply = await self._retrieve(request)
        if reply.status is ProviderPaymentStatus.REQUIRES_ACTION and is_card_on_file(
            request.payment_method
        ):
            # A charge of a card on file that reconciliation settles: nobody is there to
            # verify, so the bank's wish is a failure (the guest pays on-session).
            return attrs.evolve(
                reply,
                status=ProviderPaymentStatus.FAILED,
                next_action=None,
                failure_code="authentication_required",
                failure_message="The card's bank wants the cardholder to authenticate.",
            )
        return reply

    async def _retrieve(self, request: RetrievePaymentRequest) -> ProviderPayment:
        held = request.capture_method is CaptureMethod.MANUAL
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
            # and with the very body the confirm used (Square's first-attempt key, not the
            # request's), so that a confirm still on its way cannot charge twice.
            logger.info("square never saw payment %s; confirming it now", request.payment_id)
            customer = None
            if is_card_on_file(request.payment_method):
                customer = await self._customer_of_card(request.payment_method)
            try:
                return await self.confirm_payment(
                    ConfirmPaymentRequest(
                        payment_id=request.payment_id,
                        provider_payment_id=placeholder,
                        amount=request.amount,
                        payment_method=request.payment_method,
                        idempotency_key=payment_key(request.payment_id),
                        capture_method=request.capture_method,
                        customer_id=customer,
                        off_session=is_card_on_file(request.payment_method),
                    )
                )
            except ProviderDeclinedError:
                payment = await self._lookup.find(placeholder)
                if payment is None:
                    raise
                return self._held(payment, placeholder, held=held)
        if payment.get("status") == "APPROVED" and not held:
            # Authorised by the confirm whose answer was lost: finish what it started.
            payment = await self._complete(str(payment["id"]))
        return self._held(payment, request.provider_payment_id, held=held)

    async def cancel_payment(self, request: CancelPaymentRequest) -> None:
        # Square's cancel takes no idempotency key: it is idempotent by the payment's state.
        if parse_placeholder(request.provider_payment_id) is not None:
            return  # never confirmed: there is nothing at Square to release
        if not request.provider_payment_id:
            return
        try:
            await self._object(
                "cancel_payment",
                "POST",
                f"/v2/payments/{request.provider_payment_id}/cancel",
                "payment",
                json_body={},
            )
        except ProviderRejectedError:
            # Let go already (a hold Square cancelled at its deadline)? Its state says.
            payment = await self._get_payment(request.provider_payment_id)
            if payment.get("status") != "CANCELED":
                raise

    # ------------------------------------------------------------------ refunds
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
        square_id = str((await self._found_payment(request.provider_payment_id))["id"])
        return await self._post_refund(square_id, request.amount, request.idempotency_key)

    async def retrieve_refund(self, request: RetrieveRefundRequest) -> ProviderRefund:
        if request.provider_refund_id is not None:
            refund = await self._object(
                "retrieve_refund", "GET", f"/v2/refunds/{request.provider_refund_id}", "refund"
            )
            return refund_reply(refund)
        # The lookup has just read the payment (its ``refund_ids`` too): no second GET.
        payment = await self._found_payment(request.provider_payment_id)
        square_id = str(payment["id"])
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

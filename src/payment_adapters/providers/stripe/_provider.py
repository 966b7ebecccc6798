"""The Stripe adapter: its operations over the SDK's async client."""

from __future__ import annotations

import logging
from collections.abc import Mapping
from datetime import datetime
from typing import TYPE_CHECKING, Any, Final

from payment_adapters.providers._common import refuse_raw_card_data
from payment_adapters.providers.stripe import _webhooks
from payment_adapters.providers.stripe._base import (
    STRIPE_API_BASE,
    STRIPE_API_VERSION,
    never_set_up,
)
from payment_adapters.providers.stripe._customers import StripeSavedCards
from payment_adapters.providers.stripe._disputes import StripeDisputes
from payment_adapters.providers.stripe._holds import StripeHolds
from payment_adapters.providers.stripe._transformers import (
    EXPAND,
    OFF_SESSION_TAG,
    STRIPE_UNITS,
    IntentOptions,
    intent_params,
    refund_params,
    refund_reply,
)
from payment_core.errors import (
    NotSupportedByProviderError,
    ProviderDeclinedError,
    ProviderRejectedError,
)
from payment_core.intent_events import nonempty
from payment_core.model.payment import CaptureMethod
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

if TYPE_CHECKING:
    from stripe.params import PaymentIntentConfirmParams

__all__ = ["STRIPE_API_BASE", "STRIPE_API_VERSION", "StripeProvider"]

logger = logging.getLogger(__name__)

_REFUND_PAGES: Final = 10
#: What Stripe's ``setup_future_usage`` takes.
_SETUP_FUTURE_USAGE: Final = frozenset({"off_session", "on_session"})


class StripeProvider(StripeHolds, StripeSavedCards, StripeDisputes):
    """The ``PaymentProvider`` port over Stripe's PaymentIntents, Refunds and Customers.

    ``webhook_secrets`` are the endpoint's signing secrets (several while one rotates);
    ``api_base`` points the SDK at another host (a local stand-in); ``return_url`` is where
    3-D Secure sends the customer back (without it Stripe answers ``use_stripe_sdk``, which
    the browser completes with the client secret).
    """

    #: Holds (captured whole or in part, raised where the card allows: see
    #: :meth:`increment_authorization`), saved cards and charges without the guest.
    capabilities: Final = ProviderCapabilities(
        manual_capture=True,
        partial_capture=True,
        increment_authorization=True,
        save_payment_method=True,
        off_session=True,
    )

    async def _options(
        self, request: CreatePaymentRequest | ConfirmPaymentRequest, operation: str
    ) -> IntentOptions:
        """What the intent asks beyond taking money at once; a card to save without a
        customer gets a new one (once the amount is known to be one Stripe can take)."""
        STRIPE_UNITS.to_provider(request.amount)
        usage = request.setup_future_usage
        if usage is not None and usage not in _SETUP_FUTURE_USAGE:
            raise NotSupportedByProviderError.of(self.name, f"setup_future_usage={usage[:20]}")
        customer = request.customer_id
        if usage is not None and customer is None:
            customer = await self._customer_for(request.payment_id, operation)
        return IntentOptions(
            hold=request.capture_method is CaptureMethod.MANUAL,
            customer=customer,
            setup_future_usage=usage,
            off_session=request.off_session,
        )

    def _confirm_params(
        self, payment_method: str, *, off_session: bool
    ) -> PaymentIntentConfirmParams:
        """The one way a confirm's parameters are made (a confirm made again by
        reconciliation sends the same)."""
        params: PaymentIntentConfirmParams = {
            "payment_method": payment_method,
            "expand": list(EXPAND),
        }
        if self._return_url:
            params["return_url"] = self._return_url
        if off_session:
            params["off_session"] = True
        return params

    # ------------------------------------------------------------------ payments
    async def create_payment(self, request: CreatePaymentRequest) -> ProviderPayment:
        method = request.saved_payment_method or request.payment_method
        refuse_raw_card_data(payment_method=method)
        params = intent_params(
            request.payment_id,
            request.amount,
            payment_method=method,
            metadata=request.metadata,
            description=request.description,
            options=await self._options(request, "create_payment"),
        )
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
            create = intent_params(
                request.payment_id,
                request.amount,
                payment_method=request.payment_method,
                confirm=True,
                options=await self._options(request, "confirm_payment"),
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
        # A hold, a customer and a card to save were asked for when the intent was created.
        params = self._confirm_params(request.payment_method, off_session=request.off_session)
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

    async def retrieve_payment(self, request: RetrievePaymentRequest) -> ProviderPayment:
        """Where the intent stands; an intent our confirm never reached is confirmed now.

        The services ask only about payments they are confirming (``PROCESSING``), so an intent
        still waiting for confirmation means every attempt of our confirm was lost before
        Stripe acted on it: confirming it now (under the request's key) is what was asked for,
        without the guest if the intent was created for that (its metadata says so). An
        intent succeeds at most once, so this can never charge twice.
        """
        intent_id = request.provider_payment_id
        if intent_id is None:
            raise never_set_up()
        obj = await self._intent(intent_id, "retrieve_payment")
        payment = self._payment(obj, expected_id=intent_id, operation="retrieve_payment")
        if request.payment_method and payment.status in (
            ProviderPaymentStatus.REQUIRES_CONFIRMATION,
            ProviderPaymentStatus.REQUIRES_PAYMENT_METHOD,
        ):
            logger.info("stripe intent %s was never confirmed; confirming it now", intent_id)
            metadata = obj.get("metadata")
            tags: Mapping[str, Any] = metadata if isinstance(metadata, dict) else {}
            try:
                return await self.confirm_payment(
                    ConfirmPaymentRequest(
                        payment_id=request.payment_id,
                        provider_payment_id=intent_id,
                        amount=request.amount,
                        payment_method=request.payment_method,
                        idempotency_key=request.idempotency_key,
                        capture_method=request.capture_method,
                        off_session=tags.get(OFF_SESSION_TAG) == "true",
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
            raise never_set_up()
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
            raise never_set_up()
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

"""The fake payment provider: real, deterministic, in process.

It is the service's default provider (``PAYMENT_PROVIDER=fake``) for development, demos and
tests. Its payment-method tokens mirror Stripe's test tokens and their outcomes are fixed by the
wire contract (:mod:`._fake_tokens`). Its webhooks use Stripe's signature scheme with the
``Fake-Signature`` header and Stripe's event shape (:mod:`payment_core.intent_events`).

Outcomes are a function of the token, so a fresh process (a restart, another worker) answers
``retrieve`` about a payment it has never seen exactly as the one that confirmed it would.
"""

from __future__ import annotations

import hashlib
from collections.abc import Callable, Mapping, Sequence
from datetime import datetime
from typing import Any, Final, TypeVar
from uuid import UUID

import attrs

from payment_core import signing
from payment_core.errors import (
    ProviderDeclinedError,
    ProviderError,
    ProviderRejectedError,
    ProviderUnavailableError,
)
from payment_core.intent_events import event_body, translate_intent_event
from payment_core.model.payment import NextAction
from payment_core.money import Money
from payment_core.ports import (
    CancelPaymentRequest,
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
from payment_core.testing._fake_tokens import DECLINE_MESSAGES, FAKE_TOKENS, FakeToken
from payment_core.testing._faults import Faults

__all__ = ["FAKE_TOKENS", "FakeProvider", "FakeToken"]

T = TypeVar("T")

#: How many intents, refunds and calls the fake keeps. It is the service's default provider, so
#: a long demo must not grow without bound (about 0.6 KB per payment); an intent it has
#: forgotten is answered from its token, as by a freshly started process.
DEFAULT_MAX_REMEMBERED: Final = 50_000

SIGNATURE_HEADER: Final = "Fake-Signature"
DEFAULT_WEBHOOK_SECRET: Final = "whsec_fake"  # noqa: S105 - the contract's documented default


@attrs.define(slots=True)
class _Intent:
    id: str
    payment_id: UUID
    amount: Money
    status: ProviderPaymentStatus
    payment_method: str | None = None
    refunded: int = 0


def _suffix(value: UUID) -> str:
    return value.hex


class FakeProvider:
    """A deterministic provider whose behaviour is fixed by the payment-method token."""

    def __init__(
        self,
        *,
        webhook_secrets: Sequence[str] = (DEFAULT_WEBHOOK_SECRET,),
        name: str = "fake",
        redirect_base: str = "https://fake-provider.test/3ds",
        max_remembered: int = DEFAULT_MAX_REMEMBERED,
    ) -> None:
        self._name = name
        self._secrets = tuple(webhook_secrets)
        self._redirect_base = redirect_base
        self._intents: dict[str, _Intent] = {}
        self._refunds: dict[str, ProviderRefund] = {}
        #: Every call, in order, with its idempotency key: tests assert retries reuse keys.
        self.calls: list[tuple[str, str | None]] = []
        self._faults = Faults()
        if type(max_remembered) is not int or max_remembered < 1:
            raise ValueError("max_remembered must be a positive int")
        self._max_remembered = max_remembered

    @property
    def name(self) -> str:
        return self._name

    #: Its 3-D Secure completes by webhook: a confirm brings no verification token.
    takes_verification_token: Final = False

    # ------------------------------------------------------------------ failure injection
    def inject_failure(
        self,
        operation: str,
        error: ProviderError,
        *,
        times: int = 1,
        after_effect: bool = False,
    ) -> None:
        """Make the next ``times`` calls of ``operation`` raise ``error``.

        ``operation`` is a method name (``confirm_payment``, ``refund``, ...). With
        ``after_effect`` the call does its work first and then raises, as a provider does when
        the money moved but the answer was lost (a timeout): a retry with the same idempotency
        key then gets the first answer, never a second charge or refund.
        """
        self._faults.inject(operation, error, times=times, after_effect=after_effect)

    def _call(self, operation: str, key: str | None, body: Callable[[], T]) -> T:
        # The operations' bodies are plain functions: nothing in them waits, and a coroutine
        # per layer would only cost time on every call.
        self.calls.append((operation, key))
        if len(self.calls) > self._max_remembered:
            del self.calls[: len(self.calls) // 2]  # the oldest half; amortised O(1)
        failure = self._faults.next(operation)
        if failure is not None and not failure.after_effect:
            raise failure.error
        result = body()
        if failure is not None:
            raise failure.error
        return result

    # ------------------------------------------------------------------ helpers
    @staticmethod
    def _token(method: str | None) -> FakeToken:
        token = FAKE_TOKENS.get(method or "pm_card_visa")
        if token is None:
            raise ProviderRejectedError(
                reason_code="invalid_payment_method",
                message="No such payment method; use one of the fake provider's test tokens.",
            )
        return token

    def _secret_for(self, intent_id: str) -> str:
        digest = hashlib.sha256(f"{self._name}:{intent_id}".encode()).hexdigest()[:24]
        return f"{intent_id}_secret_{digest}"

    def _reply(self, intent: _Intent, *, amount: Money | None = None) -> ProviderPayment:
        token = FAKE_TOKENS.get(intent.payment_method or "")
        status = intent.status
        card = (
            token.card
            if token and status is not ProviderPaymentStatus.REQUIRES_PAYMENT_METHOD
            else None
        )
        next_action = None
        failure_code = failure_message = None
        if status is ProviderPaymentStatus.REQUIRES_ACTION:
            next_action = NextAction(type="redirect", url=f"{self._redirect_base}/{intent.id}")
        if status is ProviderPaymentStatus.FAILED and token and token.decline_code:
            failure_code = token.decline_code
            failure_message = DECLINE_MESSAGES.get(token.decline_code)
        return ProviderPayment(
            provider_payment_id=intent.id,
            status=status,
            amount=amount or intent.amount,
            payment_id=intent.payment_id,
            card=card,
            next_action=next_action,
            failure_code=failure_code,
            failure_message=failure_message,
            client_secret=self._secret_for(intent.id),
        )

    def _intent_for(
        self, provider_payment_id: str | None, payment_id: UUID, amount: Money
    ) -> _Intent:
        intent_id = provider_payment_id or f"pi_fake_{_suffix(payment_id)}"
        intent = self._intents.get(intent_id)
        if intent is None:
            intent = _Intent(
                id=intent_id,
                payment_id=payment_id,
                amount=amount,
                status=ProviderPaymentStatus.REQUIRES_PAYMENT_METHOD,
            )
            self._intents[intent_id] = intent
            _forget_oldest(self._intents, self._max_remembered)
        return intent

    # ------------------------------------------------------------------ payments
    async def create_payment(self, request: CreatePaymentRequest) -> ProviderPayment:
        return self._call(
            "create_payment", request.idempotency_key, lambda: self._create_payment(request)
        )

    def _create_payment(self, request: CreatePaymentRequest) -> ProviderPayment:
        intent = self._intent_for(None, request.payment_id, request.amount)
        if request.payment_method is not None:
            intent.payment_method = request.payment_method
        return self._reply(intent)

    async def confirm_payment(self, request: ConfirmPaymentRequest) -> ProviderPayment:
        return self._call(
            "confirm_payment", request.idempotency_key, lambda: self._confirm_payment(request)
        )

    def _confirm_payment(self, request: ConfirmPaymentRequest) -> ProviderPayment:
        token = self._token(request.payment_method)
        intent = self._intent_for(request.provider_payment_id, request.payment_id, request.amount)
        if intent.status in (ProviderPaymentStatus.SUCCEEDED, ProviderPaymentStatus.FAILED):
            return self._reply(intent)  # a retry with the same key: the same answer
        intent.payment_method = request.payment_method
        if token.outcome == "declined":
            intent.status = ProviderPaymentStatus.FAILED
            raise ProviderDeclinedError(
                decline_code=token.decline_code or "card_declined",
                message=DECLINE_MESSAGES.get(token.decline_code or "", "Declined."),
            )
        if token.outcome == "requires_action":
            intent.status = ProviderPaymentStatus.REQUIRES_ACTION
            return self._reply(intent)
        intent.status = ProviderPaymentStatus.SUCCEEDED
        if token.outcome == "timeout":
            # The charge went through, but the answer never arrived.
            raise ProviderUnavailableError(message="the provider did not answer in time")
        if token.outcome == "mismatch":
            return self._reply(
                intent, amount=Money(intent.amount.amount + 1, intent.amount.currency)
            )
        return self._reply(intent)

    async def retrieve_payment(self, request: RetrievePaymentRequest) -> ProviderPayment:
        return self._call(
            "retrieve_payment", request.idempotency_key, lambda: self._retrieve_payment(request)
        )

    def _retrieve_payment(self, request: RetrievePaymentRequest) -> ProviderPayment:
        intent = self._intent_for(request.provider_payment_id, request.payment_id, request.amount)
        if (
            intent.status is ProviderPaymentStatus.REQUIRES_PAYMENT_METHOD
            and request.payment_method
        ):
            # Never seen by this process: answer from the token, as the confirming one would.
            intent.payment_method = request.payment_method
            token = FAKE_TOKENS.get(request.payment_method)
            if token is not None:
                intent.status = {
                    "declined": ProviderPaymentStatus.FAILED,
                    "requires_action": ProviderPaymentStatus.REQUIRES_ACTION,
                }.get(token.outcome, ProviderPaymentStatus.SUCCEEDED)
        if (
            FAKE_TOKENS.get(intent.payment_method or "", None)
            and FAKE_TOKENS[intent.payment_method or ""].outcome == "mismatch"
        ):
            return self._reply(
                intent, amount=Money(intent.amount.amount + 1, intent.amount.currency)
            )
        return self._reply(intent)

    async def cancel_payment(self, request: CancelPaymentRequest) -> None:
        return self._call(
            "cancel_payment", request.idempotency_key, lambda: self._cancel_payment(request)
        )

    def _cancel_payment(self, request: CancelPaymentRequest) -> None:
        intent = self._intent_for(request.provider_payment_id, request.payment_id, request.amount)
        if intent.status is not ProviderPaymentStatus.SUCCEEDED:
            intent.status = ProviderPaymentStatus.CANCELED

    # ------------------------------------------------------------------ refunds
    async def refund(self, request: RefundRequest) -> ProviderRefund:
        return self._call("refund", request.idempotency_key, lambda: self._refund(request))

    def _refund(self, request: RefundRequest) -> ProviderRefund:
        existing = self._refunds.get(request.idempotency_key)
        if existing is not None:
            return existing  # same key, same answer: a retry never refunds twice
        intent = self._intent_for(request.provider_payment_id, request.payment_id, request.amount)
        method = request.payment_method or intent.payment_method
        if intent.status is ProviderPaymentStatus.REQUIRES_PAYMENT_METHOD and method:
            intent.status = ProviderPaymentStatus.SUCCEEDED  # a restarted process, see retrieve
            intent.payment_method = method
        token = FAKE_TOKENS.get(method or "")
        if token is not None and token.refunds_fail:
            raise ProviderDeclinedError(
                decline_code="refund_failed", message="The refund could not be processed."
            )
        refund = ProviderRefund(
            provider_refund_id=f"re_fake_{_suffix(request.refund_id)}",
            status=ProviderRefundStatus.SUCCEEDED,
            amount=request.amount,
        )
        self._refunds[request.idempotency_key] = refund
        _forget_oldest(self._refunds, self._max_remembered)
        intent.refunded += request.amount.amount
        return refund

    async def retrieve_refund(self, request: RetrieveRefundRequest) -> ProviderRefund:
        return self._call(
            "retrieve_refund", request.idempotency_key, lambda: self._retrieve_refund(request)
        )

    def _retrieve_refund(self, request: RetrieveRefundRequest) -> ProviderRefund:
        existing = self._refunds.get(request.idempotency_key)
        if existing is not None:
            return existing
        # Unknown here: ask again with the same key, which is what retrieving by key means.
        return self._refund(
            RefundRequest(
                refund_id=request.refund_id,
                payment_id=request.payment_id or UUID(int=0),
                provider_payment_id=request.provider_payment_id,
                amount=request.amount,
                idempotency_key=request.idempotency_key,
                reason=request.reason,
                payment_method=request.payment_method,
            )
        )

    def refunds_made(self, refund_id: UUID) -> list[ProviderRefund]:
        """The refunds this provider made for one of our refunds (whatever the keys used).

        More than one would mean money given back twice: tests assert it never happens.
        """
        provider_refund_id = f"re_fake_{_suffix(refund_id)}"
        return [r for r in self._refunds.values() if r.provider_refund_id == provider_refund_id]

    # ------------------------------------------------------------------ webhooks
    async def prepare_webhook(self, headers: Mapping[str, str], *, now: datetime) -> None:
        return None  # a shared secret: nothing to fetch

    def parse_webhook(
        self, body: bytes, headers: Mapping[str, str], *, now: datetime
    ) -> WebhookEvent:
        header = signing.get_header(headers, SIGNATURE_HEADER)
        signing.verify(header, body, self._secrets, now=now)
        return self.translate_webhook(body)

    def translate_webhook(self, body: bytes) -> WebhookEvent:
        event = translate_intent_event(body)
        # Keep our own books in step with what the provider told the service.
        if event.provider_payment_id and event.provider_payment_id in self._intents:
            intent = self._intents[event.provider_payment_id]
            status = {
                WebhookKind.PAYMENT_SUCCEEDED: ProviderPaymentStatus.SUCCEEDED,
                WebhookKind.PAYMENT_FAILED: ProviderPaymentStatus.FAILED,
            }.get(event.kind)
            if status is not None and intent.status is not ProviderPaymentStatus.SUCCEEDED:
                intent.status = status
        return event

    def build_webhook(
        self,
        event_type: str,
        obj: Mapping[str, Any],
        *,
        event_id: str,
        now: datetime,
        secret: str | None = None,
    ) -> tuple[bytes, dict[str, str]]:
        """A signed delivery (body and headers) of a Stripe-shaped event, for tests and demos."""
        body = event_body(event_type, obj, event_id=event_id, created=now)
        header = signing.signature_header(secret or self._secrets[0], int(now.timestamp()), body)
        return body, {SIGNATURE_HEADER: header}

    def payment_intent_object(
        self, provider_payment_id: str, *, status: str = "succeeded"
    ) -> dict[str, Any]:
        """The ``data.object`` of a ``payment_intent.*`` event about a known intent."""
        intent = self._intents[provider_payment_id]
        token = FAKE_TOKENS.get(intent.payment_method or "")
        obj: dict[str, Any] = {
            "id": intent.id,
            "object": "payment_intent",
            "amount": intent.amount.amount,
            "currency": intent.amount.currency.code.lower(),
            "status": status,
            "metadata": {"payment_id": str(intent.payment_id)},
        }
        if token is not None:
            obj["payment_method_details"] = {"card": attrs.asdict(token.card)}
        return obj


def _forget_oldest(memory: dict[str, Any], limit: int) -> None:
    # Dicts keep insertion order: the first key is the oldest.
    while len(memory) > limit:
        del memory[next(iter(memory))]

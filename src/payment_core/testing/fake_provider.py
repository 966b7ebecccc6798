"""The fake payment provider: real, deterministic, in process.

It is the service's default provider (``PAYMENT_PROVIDER=fake``) for development, demos and
tests. Its payment-method tokens mirror Stripe's test tokens and their outcomes are fixed by the
wire contract (:mod:`._fake_tokens`). Its webhooks use Stripe's signature scheme with the
``Fake-Signature`` header and Stripe's event shape (:mod:`payment_core.intent_events`).

Outcomes are a function of the token, so a fresh process (a restart, another worker) answers
``retrieve`` about a payment it has never seen exactly as the one that confirmed it would.
Holds (:mod:`._fake_holds`), saved cards (:mod:`._fake_saved`) and disputes
(:mod:`._fake_disputes`) are parts of their own.
"""

from __future__ import annotations

import hashlib
from collections.abc import Callable, Sequence
from datetime import UTC, datetime, timedelta
from typing import Final, TypeVar
from uuid import UUID

from payment_core.errors import (
    ProviderDeclinedError,
    ProviderError,
    ProviderRejectedError,
    ProviderUnavailableError,
)
from payment_core.model.payment import CaptureMethod, NextAction
from payment_core.money import Money
from payment_core.ports import (
    CancelPaymentRequest,
    Clock,
    ConfirmPaymentRequest,
    CreatePaymentRequest,
    ProviderCapabilities,
    ProviderPayment,
    ProviderPaymentStatus,
    ProviderRefund,
    RetrievePaymentRequest,
)
from payment_core.testing._fake_disputes import DEFAULT_DISPUTE_DELAY, FakeDisputes
from payment_core.testing._fake_holds import FakeHolds
from payment_core.testing._fake_refunds import FakeRefunds
from payment_core.testing._fake_saved import FakeSavedCards
from payment_core.testing._fake_state import Intent, forget_oldest, suffix
from payment_core.testing._fake_tokens import DECLINE_MESSAGES, FAKE_TOKENS, FakeToken
from payment_core.testing._fake_webhooks import (
    DEFAULT_WEBHOOK_SECRET,
    SIGNATURE_HEADER,
    FakeWebhooks,
)
from payment_core.testing._faults import Faults

__all__ = [
    "DEFAULT_AUTHORIZATION_TTL",
    "DEFAULT_WEBHOOK_SECRET",
    "FAKE_TOKENS",
    "SIGNATURE_HEADER",
    "FakeProvider",
    "FakeToken",
]

T = TypeVar("T")

#: How many intents, refunds and calls the fake keeps. It is the service's default provider, so
#: a long demo must not grow without bound (about 0.6 KB per payment); an intent it has
#: forgotten is answered from its token, as by a freshly started process.
DEFAULT_MAX_REMEMBERED: Final = 50_000


#: How long its holds last, as Stripe's online card holds (``FAKE_AUTHORIZATION_TTL_SECONDS``).
DEFAULT_AUTHORIZATION_TTL: Final = timedelta(days=7)


class _SystemClock:
    def now(self) -> datetime:
        return datetime.now(UTC)


class FakeProvider(FakeHolds, FakeSavedCards, FakeRefunds, FakeWebhooks, FakeDisputes):
    """A deterministic provider whose behaviour is fixed by the payment-method token.

    It can do everything the port asks (holds, partial captures, increases, saved cards,
    off-session charges), unless ``capabilities`` says less. Its holds last
    ``authorization_ttl`` on ``clock`` (the harness gives it its settable clock, so that a test
    moves a hold to its expiry at once).
    """

    def __init__(
        self,
        *,
        webhook_secrets: Sequence[str] = (DEFAULT_WEBHOOK_SECRET,),
        name: str = "fake",
        redirect_base: str = "https://fake-provider.test/3ds",
        max_remembered: int = DEFAULT_MAX_REMEMBERED,
        clock: Clock | None = None,
        authorization_ttl: timedelta = DEFAULT_AUTHORIZATION_TTL,
        capabilities: ProviderCapabilities | None = None,
        dispute_delay: timedelta = DEFAULT_DISPUTE_DELAY,
    ) -> None:
        if authorization_ttl <= timedelta(0):
            raise ValueError("authorization_ttl must be positive")
        self.clock: Clock = clock or _SystemClock()
        self.authorization_ttl = authorization_ttl
        #: Everything by default (it is the reference the real providers are measured
        #: against); less, to see how the service answers a provider that cannot hold.
        self.capabilities = capabilities or ProviderCapabilities.all()
        self._detached: set[str] = set()
        self._name = name
        self._secrets = tuple(webhook_secrets)
        self._redirect_base = redirect_base
        self._intents: dict[str, Intent] = {}
        self._refunds: dict[str, ProviderRefund] = {}
        #: Every call, in order, with its idempotency key: tests assert retries reuse keys.
        self.calls: list[tuple[str, str | None]] = []
        self._faults = Faults()
        if type(max_remembered) is not int or max_remembered < 1:
            raise ValueError("max_remembered must be a positive int")
        self._max_remembered = max_remembered
        self._init_disputes(dispute_delay)

    @property
    def name(self) -> str:
        return self._name

    #: Its 3-D Secure completes by webhook: a confirm brings no verification token.
    takes_verification_token: Final = False

    def _now(self) -> datetime:
        return self.clock.now()

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
    def _token(self, method: str | None) -> FakeToken:
        token = self._token_of(method or "pm_card_visa")
        if token is None:
            raise ProviderRejectedError(
                reason_code="invalid_payment_method",
                message="No such payment method; use one of the fake provider's test tokens.",
            )
        return token

    def _secret_for(self, intent_id: str) -> str:
        digest = hashlib.sha256(f"{self._name}:{intent_id}".encode()).hexdigest()[:24]
        return f"{intent_id}_secret_{digest}"

    def _reply(self, intent: Intent, *, amount: Money | None = None) -> ProviderPayment:
        token = self._token_of(intent.payment_method)
        status = intent.status
        held = status is ProviderPaymentStatus.REQUIRES_CAPTURE
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
            amount_capturable=intent.amount_capturable if held else 0,
            amount_received=intent.amount_received,
            authorization_expires_at=intent.expires_at if held else None,
            saved_method=intent.saved,
        )

    def _intent_for(
        self, provider_payment_id: str | None, payment_id: UUID, amount: Money
    ) -> Intent:
        intent_id = provider_payment_id or f"pi_fake_{suffix(payment_id)}"
        intent = self._intents.get(intent_id)
        if intent is None:
            intent = Intent(
                id=intent_id,
                payment_id=payment_id,
                amount=amount,
                status=ProviderPaymentStatus.REQUIRES_PAYMENT_METHOD,
            )
            self._intents[intent_id] = intent
            forget_oldest(self._intents, self._max_remembered)
        return intent

    def _recall(self, intent: Intent, method: str | None, capture_method: CaptureMethod) -> None:
        """An intent this process never confirmed (a restart, another worker): answer from its
        token, as the process that confirmed it would."""
        if intent.status is not ProviderPaymentStatus.REQUIRES_PAYMENT_METHOD or not method:
            return
        intent.payment_method = method
        intent.capture_method = capture_method
        token = self._token_of(method)
        if token is None:
            return
        status = {
            "declined": ProviderPaymentStatus.FAILED,
            "requires_action": ProviderPaymentStatus.REQUIRES_ACTION,
        }.get(token.outcome, ProviderPaymentStatus.SUCCEEDED)
        if status is ProviderPaymentStatus.SUCCEEDED and capture_method is CaptureMethod.MANUAL:
            self._hold(intent)
        else:
            intent.status = status
            if status is ProviderPaymentStatus.SUCCEEDED:
                intent.amount_received = intent.amount.amount

    # ------------------------------------------------------------------ payments
    async def create_payment(self, request: CreatePaymentRequest) -> ProviderPayment:
        return self._call(
            "create_payment", request.idempotency_key, lambda: self._create_payment(request)
        )

    def _create_payment(self, request: CreatePaymentRequest) -> ProviderPayment:
        intent = self._intent_for(None, request.payment_id, request.amount)
        method = request.saved_payment_method or request.payment_method
        if method is not None:
            intent.payment_method = method
        intent.capture_method = request.capture_method
        intent.setup_future_usage = request.setup_future_usage
        intent.customer_id = request.customer_id
        intent.off_session = request.off_session
        return self._reply(intent)

    async def confirm_payment(self, request: ConfirmPaymentRequest) -> ProviderPayment:
        return self._call(
            "confirm_payment", request.idempotency_key, lambda: self._confirm_payment(request)
        )

    def _confirm_payment(self, request: ConfirmPaymentRequest) -> ProviderPayment:
        token = self._token(request.payment_method)
        intent = self._intent_for(request.provider_payment_id, request.payment_id, request.amount)
        if intent.status in (
            ProviderPaymentStatus.SUCCEEDED,
            ProviderPaymentStatus.FAILED,
            ProviderPaymentStatus.REQUIRES_CAPTURE,
        ):
            return self._reply(intent)  # a retry with the same key: the same answer
        intent.payment_method = request.payment_method
        intent.capture_method = request.capture_method
        intent.setup_future_usage = request.setup_future_usage or intent.setup_future_usage
        intent.customer_id = request.customer_id or intent.customer_id
        intent.off_session = request.off_session
        try:
            self._check_saved_charge(request.payment_method, off_session=request.off_session)
        except ProviderDeclinedError:
            intent.status = ProviderPaymentStatus.FAILED
            raise
        if token.outcome == "declined":
            intent.status = ProviderPaymentStatus.FAILED
            raise ProviderDeclinedError(
                decline_code=token.decline_code or "card_declined",
                message=DECLINE_MESSAGES.get(token.decline_code or "", "Declined."),
            )
        if token.outcome == "requires_action":
            intent.status = ProviderPaymentStatus.REQUIRES_ACTION
            return self._reply(intent)
        if request.capture_method is CaptureMethod.MANUAL:
            self._hold(intent)
        else:
            intent.status = ProviderPaymentStatus.SUCCEEDED
            intent.amount_received = intent.amount.amount
        self._save_card(intent)
        if token.disputes and intent.status is ProviderPaymentStatus.SUCCEEDED:
            self.open_dispute(intent.id)
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
        self._recall(intent, request.payment_method, request.capture_method)
        self._expire_if_due(intent)
        self._save_card(intent)
        token = self._token_of(intent.payment_method)
        if token is not None and token.outcome == "mismatch":
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
            # A hold is released whole.
            intent.status = ProviderPaymentStatus.CANCELED
            intent.amount_capturable = 0

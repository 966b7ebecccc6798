"""Payment use cases: create, confirm, cancel, read, and settling a payment from a provider reply.

Provider calls never happen inside a database transaction: a confirm commits ``PROCESSING``
first, calls the provider with an idempotency key derived from the payment id, then commits the
outcome. A crash in between leaves the payment ``PROCESSING``, which the reconciliation sweep
settles by asking the provider; nothing is ever charged twice.
"""

from __future__ import annotations

import hashlib
import logging
from collections.abc import Mapping
from typing import Final
from uuid import UUID

import attrs

from payment_core.card_data import find_raw_card_data
from payment_core.errors import (
    ConcurrencyError,
    IdempotencyKeyReusedError,
    NotFoundError,
    ProviderDeclinedError,
    ProviderError,
    ProviderRejectedError,
    ProviderUnavailableError,
    RawCardDataError,
    ValidationError,
)
from payment_core.ids import id_for_request
from payment_core.model.billing import BillingRecordType
from payment_core.model.payment import Card, Payment, PaymentStatus
from payment_core.money import Currency, Money, check_amount_in_range
from payment_core.pagination import Page, PageRequest
from payment_core.ports import (
    CancelPaymentRequest,
    ConfirmPaymentRequest,
    CreatePaymentRequest,
    ProviderPayment,
    ProviderPaymentStatus,
    RetrievePaymentRequest,
    UnitOfWork,
)
from payment_core.services._deps import Dependencies
from payment_core.services._refunding import open_refund
from payment_core.services.billing import append_record
from payment_core.services.invoices import pay_invoices

__all__ = [
    "DEFAULT_PAYMENT_METHOD",
    "CreatePayment",
    "PaymentService",
    "SettleOutcome",
    "confirm_key",
]

logger = logging.getLogger("payment_core.payments")

DEFAULT_PAYMENT_METHOD: Final = "pm_card_visa"
MAX_METADATA_KEYS: Final = 20
MAX_METADATA_KEY: Final = 40
MAX_METADATA_VALUE: Final = 500
MAX_DESCRIPTION: Final = 1000
MAX_TOKEN: Final = 255
MAX_VERIFICATION_TOKEN: Final = 2048


@attrs.frozen(slots=True)
class CreatePayment:
    """The input of :meth:`PaymentService.create`, validated there."""

    booking_id: UUID
    guest_id: UUID
    amount: int
    currency: str
    provider: str | None = None
    payment_method: str | None = None
    description: str | None = None
    metadata: Mapping[str, str] = attrs.field(factory=dict)


class SettleOutcome:
    """What applying a provider reply did (for reconciliation's summary)."""

    SETTLED: Final = "settled"
    UNKNOWN: Final = "unknown"
    #: Still unknown after the whole reconciliation schedule: for a person to look into.
    FLAGGED: Final = "flagged"
    MISMATCH: Final = "mismatch"
    UNCHANGED: Final = "unchanged"


def _check_token(value: str | None, field: str, longest: int = MAX_TOKEN) -> str | None:
    if value is None:
        return None
    if not isinstance(value, str) or not 1 <= len(value) <= longest:
        raise ValidationError(field=field, reason=f"must be 1 to {longest} characters")
    if not value.isascii() or not value.isprintable() or " " in value:
        raise ValidationError(field=field, reason="must be a provider token (printable ASCII)")
    return value


def confirm_key(payment_id: UUID, payment_method: str, verification_token: str | None) -> str:
    """The provider idempotency key of one confirm attempt.

    The first attempt's is derived from the payment id alone. An attempt with the buyer's
    verification token is another request, so it gets its own key, derived from the payment id
    and the attempt (its token and payment method): a retry of that attempt is the same request
    under the same key, a new attempt never reuses one.
    """
    if verification_token is None:
        return f"payment-{payment_id}-confirm"
    attempt = hashlib.sha256(f"{payment_method}\n{verification_token}".encode()).hexdigest()
    return f"payment-{payment_id}-confirm-verified-{attempt[:32]}"


def validate_metadata(metadata: Mapping[str, str] | None) -> dict[str, str]:
    """Stripe's limits: at most 20 keys, keys up to 40 characters, string values up to 500."""
    if metadata is None:
        return {}
    if not isinstance(metadata, Mapping):
        raise ValidationError(field="metadata", reason="must be an object")
    if len(metadata) > MAX_METADATA_KEYS:
        raise ValidationError(field="metadata", reason=f"at most {MAX_METADATA_KEYS} keys")
    out: dict[str, str] = {}
    for key, value in metadata.items():
        if not isinstance(key, str) or not 1 <= len(key) <= MAX_METADATA_KEY:
            raise ValidationError(
                field="metadata", reason=f"keys must be 1 to {MAX_METADATA_KEY} characters"
            )
        if not isinstance(value, str) or len(value) > MAX_METADATA_VALUE:
            raise ValidationError(
                field=f"metadata.{key}",
                reason=f"must be a string of at most {MAX_METADATA_VALUE} characters",
            )
        out[key] = value
    return out


class PaymentService:
    """Create, confirm, cancel and read payments."""

    def __init__(self, deps: Dependencies) -> None:
        self._deps = deps

    # ------------------------------------------------------------------ helpers
    async def _require(self, uow: UnitOfWork, payment_id: UUID, *, lock: bool = False) -> Payment:
        payment = await uow.payments.get(payment_id, for_update=lock)
        if payment is None:
            raise NotFoundError(entity="payment", key=str(payment_id))
        return payment

    # ------------------------------------------------------------------ queries
    async def get(self, payment_id: UUID) -> Payment:
        async with self._deps.uow() as uow:
            return await self._require(uow, payment_id)

    async def get_by_reference(self, reference: str) -> Payment:
        async with self._deps.uow() as uow:
            payment = await uow.payments.get_by_reference(reference)
        if payment is None:
            raise NotFoundError(entity="payment", key=reference)
        return payment

    async def list_by_booking(self, booking_id: UUID, page: PageRequest) -> Page[Payment]:
        async with self._deps.uow() as uow:
            return await uow.payments.list_by_booking(booking_id, page)

    async def list_by_guest(self, guest_id: UUID, page: PageRequest) -> Page[Payment]:
        async with self._deps.uow() as uow:
            return await uow.payments.list_by_guest(guest_id, page)

    # ------------------------------------------------------------------ create
    def validate(self, command: CreatePayment) -> tuple[Money, str, dict[str, str]]:
        """Check a create command completely before anything happens."""
        if command.metadata is not None and not isinstance(command.metadata, Mapping):
            raise ValidationError(field="metadata", reason="must be an object")
        found = find_raw_card_data(
            {
                "payment_method": command.payment_method,
                "description": command.description,
                "metadata": command.metadata or {},
            }
        )
        if found is not None:
            raise RawCardDataError(field=found)
        for field in ("booking_id", "guest_id"):
            if not isinstance(getattr(command, field), UUID):
                raise ValidationError(field=field, reason="must be a UUID")
        amount = Money(check_amount_in_range(command.amount), Currency.of(command.currency))
        provider = command.provider or self._deps.config.default_provider
        self._deps.providers.get(provider)
        _check_token(command.payment_method, "payment_method")
        if command.description is not None and (
            not isinstance(command.description, str) or len(command.description) > MAX_DESCRIPTION
        ):
            raise ValidationError(
                field="description", reason=f"at most {MAX_DESCRIPTION} characters"
            )
        return amount, provider, validate_metadata(command.metadata)

    async def create(
        self,
        command: CreatePayment,
        *,
        idempotency_key: str | None = None,
        inbox: tuple[str, str] | None = None,
        unless_booking_cancelled: bool = False,
    ) -> Payment:
        """Create a ``PENDING`` payment and set it up at the provider.

        The provider is asked first (with a key derived from the new payment's id), then the
        payment and its ``payment.initiated`` event are committed together. With
        ``idempotency_key`` the payment's id is derived from it
        (:func:`~payment_core.ids.id_for_request`): a retry under the same key returns the
        payment the first call made (the provider, if asked again, sees the same key), and the
        same key for another booking, guest, amount or provider raises
        :class:`~payment_core.errors.IdempotencyKeyReusedError`. With ``inbox`` =
        ``(consumer, event_id)`` the consumed event is recorded in the same transaction, and a
        duplicate raises :class:`DuplicateEventError`. With ``unless_booking_cancelled`` the
        booking is locked in that transaction; when it is cancelled, only the inbox row is
        committed and :class:`BookingCancelledError` is raised. Both errors carry the payment
        that was set up at the provider and not saved.
        """
        amount, provider_name, metadata = self.validate(command)
        provider = self._deps.providers.get(provider_name)
        deps = self._deps
        payment_id = (
            deps.ids.new_id()
            if idempotency_key is None
            else id_for_request("payment.create", idempotency_key)
        )

        async def made_before() -> Payment | None:
            # Only looked for when something failed, so a create costs no extra read: a
            # retry asks the provider again under the same key (which answers as it did the
            # first time), and then meets the payment saved under its id.
            if idempotency_key is None:
                return None
            return await self._made_under(idempotency_key, payment_id, command, amount)

        try:
            reply = await self._deps.call_provider(
                provider,
                "create_payment",
                lambda: provider.create_payment(
                    CreatePaymentRequest(
                        payment_id=payment_id,
                        amount=amount,
                        idempotency_key=f"payment-{payment_id}-create",
                        description=command.description,
                        metadata={**metadata, "payment_id": str(payment_id)},
                        payment_method=command.payment_method,
                    )
                ),
            )
        except ProviderRejectedError:
            # A provider refuses its key with other parameters: a key reused for another payment.
            if (made := await made_before()) is not None:
                return made
            raise
        if reply.amount != amount or (
            reply.payment_id is not None and reply.payment_id != payment_id
        ):
            if (made := await made_before()) is not None:
                return made
            deps.observer.amount_mismatch(provider_name)
            logger.warning(
                "provider %s created payment %s with another amount", provider_name, payment_id
            )
            raise ProviderRejectedError(
                reason_code="provider_amount_mismatch",
                message="the provider's reply does not match the requested amount",
            )
        payment = Payment.initiate(
            id=payment_id,
            reference=deps.ids.new_reference("pay"),
            booking_id=command.booking_id,
            guest_id=command.guest_id,
            amount=amount,
            provider=provider_name,
            now=deps.clock.now(),
            event_id=deps.ids.new_id(),
            payment_method=command.payment_method,
            provider_payment_id=reply.provider_payment_id,
            client_secret=reply.client_secret,
            description=command.description,
            metadata=metadata,
        )
        try:
            async with deps.uow() as uow:
                if inbox is not None and not await uow.inbox.add(*inbox):
                    raise DuplicateEventError(event_id=inbox[1], payment=payment)
                if unless_booking_cancelled and await uow.bookings.lock(command.booking_id):
                    await uow.commit()  # the event is handled: it creates nothing
                    raise BookingCancelledError(payment=payment)
                await uow.payments.add(payment)
                await uow.commit()
        except ConcurrencyError:
            # Its id is taken: by what an earlier call under the same key made.
            if (made := await made_before()) is not None:
                return made
            raise
        deps.observer.payment_outcome(provider_name, payment.status.value)
        return payment

    async def _made_under(
        self, key: str, payment_id: UUID, command: CreatePayment, amount: Money
    ) -> Payment | None:
        """The payment an earlier create under ``key`` made, if any; the key reused for
        another payment raises :class:`IdempotencyKeyReusedError`."""
        async with self._deps.uow() as uow:
            made = await uow.payments.get(payment_id)
        if made is None:
            return None
        provider = command.provider or self._deps.config.default_provider
        if (made.booking_id, made.guest_id, made.amount, made.provider) != (
            command.booking_id,
            command.guest_id,
            amount,
            provider,
        ):
            raise IdempotencyKeyReusedError(key=key)
        return made

    # ------------------------------------------------------------------ confirm
    async def confirm(
        self,
        payment_id: UUID,
        payment_method: str | None = None,
        verification_token: str | None = None,
        *,
        idempotency_key: str | None = None,
    ) -> Payment:
        """``PENDING -> PROCESSING``, ask the provider, and record what it said.

        ``verification_token`` is the buyer's proof of Strong Customer Authentication, for a
        provider that takes one (Square): it goes with the attempt, and with it a
        ``PROCESSING`` payment that waits for the buyer is confirmed again, as a new attempt
        (under its own key, see :func:`confirm_key`).

        With ``idempotency_key``, the same confirm again (its answer lost) answers as the
        first did: the payment as that confirm left it, asking the provider again (under the
        same provider key) if it had not answered; not ``InvalidTransitionError``.
        """
        # Card data first: a spaced card number is not a valid token either, but it must be
        # refused as what it is (raw_card_data_forbidden), never echoed as a bad token.
        for field, value in (
            ("payment_method", payment_method),
            ("verification_token", verification_token),
        ):
            if isinstance(value, str) and find_raw_card_data(value) is not None:
                raise RawCardDataError(field=field)
        _check_token(payment_method, "payment_method")
        _check_token(verification_token, "verification_token", MAX_VERIFICATION_TOKEN)
        deps = self._deps
        request_id = (
            None if idempotency_key is None else id_for_request("payment.confirm", idempotency_key)
        )

        async def start() -> tuple[Payment, bool]:
            async with deps.uow() as uow:
                payment = await self._require(uow, payment_id, lock=True)
                if request_id is not None and payment.moved_by_request == request_id:
                    if payment_method not in (None, payment.payment_method):
                        raise IdempotencyKeyReusedError(key=idempotency_key or "")
                    return payment, payment.status is PaymentStatus.PROCESSING
                method = payment_method or payment.payment_method or DEFAULT_PAYMENT_METHOD
                if verification_token is None:
                    payment.start_processing(
                        now=deps.clock.now(),
                        payment_method=method,
                        reconcile_after=deps.config.reconcile_after,
                        request=request_id,
                    )
                elif not deps.providers.get(payment.provider).takes_verification_token:
                    raise ValidationError(
                        field="verification_token",
                        reason=f"provider {payment.provider} takes no verification token",
                    )
                elif payment.status is PaymentStatus.PROCESSING:
                    payment.retry_verified(
                        now=deps.clock.now(),
                        payment_method=method,
                        reconcile_after=deps.config.reconcile_after,
                        request=request_id,
                    )
                else:
                    payment.start_processing(
                        now=deps.clock.now(),
                        payment_method=method,
                        reconcile_after=deps.config.reconcile_after,
                        request=request_id,
                    )
                await uow.payments.update(payment)
                await uow.commit()
                return payment, True

        payment, ask = await deps.retrying(start)
        if not ask:
            return payment
        provider = deps.providers.get(payment.provider)
        assert payment.payment_method is not None
        request = ConfirmPaymentRequest(
            payment_id=payment.id,
            provider_payment_id=payment.provider_payment_id,
            amount=payment.amount,
            payment_method=payment.payment_method,
            idempotency_key=confirm_key(payment.id, payment.payment_method, verification_token),
            verification_token=verification_token,
        )
        try:
            reply = await self._deps.call_provider(
                provider, "confirm_payment", lambda: provider.confirm_payment(request)
            )
        except ProviderDeclinedError as exc:
            return await self._fail(payment.id, exc.decline_code, exc.message)
        except ProviderRejectedError as exc:
            return await self._fail(payment.id, exc.reason_code, exc.message)
        except ProviderUnavailableError as exc:
            # Outcome unknown: stays PROCESSING until a webhook or reconciliation settles it.
            logger.warning("confirm of payment %s has an unknown outcome: %s", payment.id, exc)
            return await self.get(payment.id)
        updated, _ = await self.settle(payment.id, reply)
        return updated

    async def _fail(self, payment_id: UUID, code: str, message: str | None) -> Payment:
        deps = self._deps

        async def run() -> Payment:
            async with deps.uow() as uow:
                payment = await self._require(uow, payment_id, lock=True)
                if payment.status is PaymentStatus.PROCESSING:
                    payment.fail(
                        now=deps.clock.now(),
                        event_id=deps.ids.new_id(),
                        code=code,
                        message=message,
                    )
                    await uow.payments.update(payment)
                    await uow.commit()
                    deps.observer.payment_outcome(payment.provider, payment.status.value)
                return payment

        return await deps.retrying(run)

    # ------------------------------------------------------------------ settle
    async def settle(self, payment_id: UUID, reply: ProviderPayment) -> tuple[Payment, str]:
        """Apply a provider's account of a payment in one transaction; never move it backwards."""
        deps = self._deps

        async def run() -> tuple[Payment, str]:
            async with deps.uow() as uow:
                payment = await self._require(uow, payment_id, lock=True)
                outcome = await self.apply_reply(uow, payment, reply)
                if outcome != SettleOutcome.UNCHANGED:
                    await uow.payments.update(payment)
                    await uow.commit()
                return payment, outcome

        return await deps.retrying(run)

    async def apply_reply(self, uow: UnitOfWork, payment: Payment, reply: ProviderPayment) -> str:
        """Move ``payment`` (loaded in ``uow``) as the provider's reply says, if it may.

        Only a ``PENDING`` or ``PROCESSING`` payment is ever moved; a reply whose amount,
        currency or echoed payment id differs never completes it.
        """
        deps = self._deps
        now = deps.clock.now()
        if payment.is_settled:
            if (
                reply.status is ProviderPaymentStatus.SUCCEEDED
                and payment.status is not PaymentStatus.COMPLETED
            ):
                # Never moved backwards, never silent: the money may have been taken for a
                # payment we recorded as failed or cancelled. An operator must look.
                deps.observer.state_conflict(payment.provider, "payment")
                logger.error(
                    "provider %s reports payment %s succeeded, but it is %s here",
                    payment.provider,
                    payment.id,
                    payment.status.value,
                )
            return SettleOutcome.UNCHANGED
        if reply.amount != payment.amount or (
            reply.payment_id is not None and reply.payment_id != payment.id
        ):
            return self.mismatch_in(payment, reply.amount, reply.payment_id)
        if reply.provider_payment_id and reply.provider_payment_id != payment.provider_payment_id:
            # Some providers name a payment only once it is confirmed (Square): keep their id,
            # so that their webhooks and later calls find it.
            payment.provider_payment_id = reply.provider_payment_id
        status = reply.status
        if status in (ProviderPaymentStatus.SUCCEEDED, ProviderPaymentStatus.FAILED):
            if payment.status is PaymentStatus.PENDING:
                # Confirmed by the customer directly at the provider (client-side confirmation).
                payment.start_processing(
                    now=now,
                    payment_method=payment.payment_method or "provider",
                    reconcile_after=deps.config.reconcile_after,
                )
            if status is ProviderPaymentStatus.SUCCEEDED:
                await self._complete(uow, payment, reply.card)
            else:
                payment.fail(
                    now=now,
                    event_id=deps.ids.new_id(),
                    code=reply.failure_code or "payment_failed",
                    message=reply.failure_message,
                    card=reply.card,
                )
            deps.observer.payment_outcome(payment.provider, payment.status.value)
            return SettleOutcome.SETTLED
        if payment.status is not PaymentStatus.PROCESSING:
            return SettleOutcome.UNCHANGED
        if status is ProviderPaymentStatus.CANCELED:
            payment.fail(
                now=now,
                event_id=deps.ids.new_id(),
                code=reply.failure_code or "payment_canceled",
                message=reply.failure_message or "the provider canceled the payment",
            )
            deps.observer.payment_outcome(payment.provider, payment.status.value)
            return SettleOutcome.SETTLED
        if status is ProviderPaymentStatus.REQUIRES_ACTION and (
            (reply.next_action is not None and reply.next_action != payment.next_action)
            or (reply.card is not None and reply.card != payment.card)
        ):
            if reply.next_action is not None:
                payment.require_action(now=now, next_action=reply.next_action)
            if reply.card is not None:
                payment.attach_card(now=now, card=reply.card)
            return SettleOutcome.UNKNOWN
        # Still in flight and nothing new: nothing to save (the caller must not bump the
        # version for nothing, which would only make concurrent writers conflict).
        return SettleOutcome.UNCHANGED

    def mismatch_in(self, payment: Payment, reported: Money | None, echoed: UUID | None) -> str:
        """A provider's account of ``payment`` (loaded in the caller's unit of work) whose
        amount differs, is missing (``reported`` is ``None``) or that echoes another payment id:
        counted and logged, and a payment in flight is flagged, never completed."""
        deps = self._deps
        deps.observer.amount_mismatch(payment.provider)
        logger.warning(
            "provider %s reported %s for payment %s (%s), expected %s %s",
            payment.provider,
            "no amount" if reported is None else f"{reported.amount} {reported.currency.code}",
            payment.id,
            "its own id" if echoed in (None, payment.id) else "another id",
            payment.amount.amount,
            payment.amount.currency.code,
        )
        if payment.status is not PaymentStatus.PROCESSING:
            return SettleOutcome.UNCHANGED  # not confirmed yet: nothing to flag or save
        payment.flag_amount_mismatch(
            now=deps.clock.now(), message="the provider's reply does not match this payment"
        )
        return SettleOutcome.MISMATCH

    async def _complete(self, uow: UnitOfWork, payment: Payment, card: Card | None) -> None:
        deps = self._deps
        payment.complete(now=deps.clock.now(), event_id=deps.ids.new_id(), card=card)
        await append_record(
            deps,
            uow,
            type=BillingRecordType.CHARGE,
            booking_id=payment.booking_id,
            guest_id=payment.guest_id,
            amount=payment.amount,
            description=f"Payment {payment.reference}",
            payment_id=payment.id,
        )
        # Its booking was cancelled while the provider had it: the money goes straight back,
        # in the transaction that records it came in (the refund is due at once).
        refund = (
            open_refund(deps, payment, None, "booking_cancelled")
            if payment.refund_on_completion and payment.refundable > 0
            else None
        )
        # Open invoices that wait on this payment take what it holds now, in this transaction
        # (nothing if the refund above takes it all back).
        invoices = await pay_invoices(
            deps, uow, payment, await uow.invoices.list_open_for_payment(payment.id)
        )
        if refund is not None or invoices:
            # Save the payment first: a unit of work collects events aggregate by aggregate in
            # the order they were saved, and payment.completed must precede refund.initiated
            # and invoice.paid.
            await uow.payments.update(payment)
        if refund is not None:
            await uow.refunds.add(refund)
            logger.info(
                "payment %s completed after its booking was cancelled: refund %s opened",
                payment.id,
                refund.id,
            )
        for invoice in invoices:
            await uow.invoices.update(invoice)

    # ------------------------------------------------------------------ cancel
    async def cancel(self, payment_id: UUID, *, idempotency_key: str | None = None) -> Payment:
        """``PENDING -> CANCELLED``, then release it at the provider (best effort).

        With ``idempotency_key``, the same cancel again returns the payment it cancelled.
        """
        deps = self._deps
        request_id = (
            None if idempotency_key is None else id_for_request("payment.cancel", idempotency_key)
        )

        async def run() -> Payment:
            async with deps.uow() as uow:
                payment = await self._require(uow, payment_id, lock=True)
                if request_id is not None and payment.moved_by_request == request_id:
                    return payment  # cancelled by this very request
                payment.cancel(now=deps.clock.now(), event_id=deps.ids.new_id(), request=request_id)
                await uow.payments.update(payment)
                await uow.commit()
                return payment

        payment = await deps.retrying(run)
        await self.release_at_provider(payment)
        return payment

    async def release_at_provider(self, payment: Payment) -> None:
        """Tell the provider a cancelled payment will not be confirmed; failures are logged."""
        provider = self._deps.providers.get(payment.provider)
        try:
            await self._deps.call_provider(
                provider,
                "cancel_payment",
                lambda: provider.cancel_payment(
                    CancelPaymentRequest(
                        payment_id=payment.id,
                        provider_payment_id=payment.provider_payment_id,
                        amount=payment.amount,
                        idempotency_key=f"payment-{payment.id}-cancel",
                        payment_method=payment.payment_method,
                    )
                ),
            )
        except ProviderError as exc:
            logger.warning("could not release payment %s at the provider: %s", payment.id, exc)

    # ------------------------------------------------------------------ reconcile one
    async def reconcile(self, payment: Payment) -> tuple[Payment, str]:
        """Ask the provider where a ``PROCESSING`` payment stands and apply the answer."""
        deps = self._deps
        provider = deps.providers.get(payment.provider)
        request = RetrievePaymentRequest(
            payment_id=payment.id,
            provider_payment_id=payment.provider_payment_id,
            amount=payment.amount,
            idempotency_key=f"payment-{payment.id}-reconcile",
            payment_method=payment.payment_method,
        )
        try:
            reply: ProviderPayment | None = await self._deps.call_provider(
                provider, "retrieve_payment", lambda: provider.retrieve_payment(request)
            )
        except ProviderError as exc:
            logger.info("reconciliation of payment %s: provider unavailable: %s", payment.id, exc)
            reply = None

        async def run() -> tuple[Payment, str]:
            async with deps.uow() as uow:
                current = await self._require(uow, payment.id, lock=True)
                if reply is not None:
                    outcome = await self.apply_reply(uow, current, reply)
                elif current.status is PaymentStatus.PROCESSING:
                    outcome = SettleOutcome.UNKNOWN
                else:
                    outcome = SettleOutcome.UNCHANGED  # settled meanwhile (a webhook)
                if current.status is PaymentStatus.PROCESSING:
                    schedule = deps.config.reconcile_schedule
                    current.schedule_reconciliation(
                        now=deps.clock.now(),
                        after=schedule.after(current.reconcile_attempts),
                    )
                    if outcome == SettleOutcome.UNCHANGED:
                        outcome = SettleOutcome.UNKNOWN
                    if outcome == SettleOutcome.UNKNOWN and current.reconcile_attempts > len(
                        schedule.steps
                    ):
                        outcome = SettleOutcome.FLAGGED
                        logger.warning(
                            "payment %s unsettled after %d asks: the provider cannot say what "
                            "became of it",
                            current.id,
                            current.reconcile_attempts,
                        )
                if outcome != SettleOutcome.UNCHANGED:
                    await uow.payments.update(current)
                    await uow.commit()
                return current, outcome

        return await deps.retrying(run)


@attrs.frozen(auto_exc=True)
class DuplicateEventError(Exception):
    """A consumed event was handled before (internal signal of the booking handlers);
    ``payment`` is the one set up at the provider for this attempt and never stored."""

    event_id: str
    payment: Payment | None = None


@attrs.frozen(auto_exc=True)
class BookingCancelledError(Exception):
    """The booking was cancelled before its payment could be saved (internal signal of the
    booking handlers); ``payment`` was set up at the provider but never stored."""

    payment: Payment

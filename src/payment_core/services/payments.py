"""Payment use cases: create, confirm, cancel (or release), capture, increase and read
payments.

Provider calls never happen inside a database transaction: a confirm commits ``PROCESSING``
first, calls the provider with an idempotency key derived from the payment id, then commits the
outcome. A crash in between leaves the payment ``PROCESSING``, which the reconciliation sweep
settles by asking the provider; nothing is ever charged twice. Holds are captured the same way
(:mod:`._holding`).
"""

from __future__ import annotations

import logging
from uuid import UUID

from payment_core.errors import (
    ConcurrencyError,
    IdempotencyKeyReusedError,
    ProviderDeclinedError,
    ProviderRejectedError,
    ProviderUnavailableError,
    ValidationError,
)
from payment_core.ids import id_for_request
from payment_core.model.payment import Payment, PaymentStatus
from payment_core.money import Money
from payment_core.pagination import Page, PageRequest
from payment_core.ports import ConfirmPaymentRequest, ProviderPayment, UnitOfWork
from payment_core.services import _holding
from payment_core.services._deps import Dependencies
from payment_core.services._payment_creating import (
    Mismatch,
    charge_for,
    made_under,
    mismatch_error,
    set_up,
    with_saved_method,
)
from payment_core.services._payment_input import (
    DEFAULT_PAYMENT_METHOD,
    CheckedCreate,
    CreatePayment,
    check_confirm,
    check_create,
    confirm_key,
    validate_metadata,
)
from payment_core.services._payment_reconciling import reconcile_payment
from payment_core.services._payment_settling import (
    SettleOutcome,
    apply_payment_reply,
    fail_payment,
    payment_mismatch_in,
    settle_payment,
)
from payment_core.services._reads import PAYMENTS, read
from payment_core.services._saved_methods import SavedCharge, charge_of

__all__ = [
    "DEFAULT_PAYMENT_METHOD",
    "CreatePayment",
    "PaymentService",
    "SettleOutcome",
    "confirm_key",
    "validate_metadata",
]

logger = logging.getLogger(__name__)


class PaymentService:
    """Create, confirm, cancel and read payments."""

    def __init__(self, deps: Dependencies) -> None:
        self._deps = deps

    # ------------------------------------------------------------------ queries
    async def get(self, payment_id: UUID) -> Payment:
        return await PAYMENTS.get(self._deps, payment_id)

    async def get_by_reference(self, reference: str) -> Payment:
        return await PAYMENTS.find(
            self._deps, reference, lambda uow: uow.payments.get_by_reference(reference)
        )

    async def list_by_booking(self, booking_id: UUID, page: PageRequest) -> Page[Payment]:
        return await read(self._deps, lambda uow: uow.payments.list_by_booking(booking_id, page))

    async def list_by_guest(self, guest_id: UUID, page: PageRequest) -> Page[Payment]:
        return await read(self._deps, lambda uow: uow.payments.list_by_guest(guest_id, page))

    # ------------------------------------------------------------------ create
    def validate(self, command: CreatePayment) -> CheckedCreate:
        """Check a create command completely before anything happens: its amount, provider
        and metadata."""
        return check_create(self._deps, command)

    async def prepare(self, command: CreatePayment) -> Payment:
        """Validate ``command`` and set the payment up at the provider: the ``PENDING``
        payment, not saved.

        The caller saves it (``uow.payments.add``, which records its ``payment.initiated``
        event) in a unit of work of its own, or, when it is not wanted after all, releases
        it at the provider (:meth:`release_at_provider`).
        """
        checked = self.validate(command)
        charge = await charge_for(self._deps, command, checked.provider)
        prepared = await set_up(self._deps, command, checked, None, charge)
        if isinstance(prepared, Mismatch):
            raise mismatch_error(self._deps, prepared)
        return prepared

    async def create(
        self, command: CreatePayment, *, idempotency_key: str | None = None
    ) -> Payment:
        """Create a ``PENDING`` payment and set it up at the provider (and, with
        ``command.confirm``, confirm it: the result is as the provider left it).

        The provider is asked first (with a key derived from the new payment's id), then the
        payment and its ``payment.initiated`` event are committed together. With
        ``idempotency_key`` the payment's id is derived from it
        (:func:`~payment_core.ids.id_for_request`): a retry under the same key returns the
        payment the first call made (the provider, if asked again, sees the same key), and the
        same key for another booking, guest, amount or provider raises
        :class:`~payment_core.errors.IdempotencyKeyReusedError`.

        ``command.payment_method_id`` charges a saved method of the same guest
        (``PaymentMethodGuestMismatchError`` for another's, ``PaymentMethodDetachedError`` for
        a detached one); ``command.off_session`` charges it without the guest.
        """
        command = await with_saved_method(self._deps, command)
        payment = await self._create(command, idempotency_key)
        if command.confirm:
            return await self.confirm(payment.id, idempotency_key=idempotency_key)
        return payment

    async def _create(self, command: CreatePayment, idempotency_key: str | None) -> Payment:
        checked = self.validate(command)
        deps = self._deps
        payment_id = (
            None if idempotency_key is None else id_for_request("payment.create", idempotency_key)
        )

        async def made_before() -> Payment | None:
            # Only looked for when something failed, so a create costs no extra read: a
            # retry asks the provider again under the same key (which answers as it did the
            # first time), and then meets the payment saved under its id.
            if idempotency_key is None or payment_id is None:
                return None
            return await made_under(deps, idempotency_key, payment_id, command, checked)

        try:
            charge = await charge_for(deps, command, checked.provider)
            payment = await set_up(deps, command, checked, payment_id, charge)
        except ProviderRejectedError:
            # A provider refuses its key with other parameters: a key reused for another payment.
            if (made := await made_before()) is not None:
                return made
            raise
        if isinstance(payment, Mismatch):
            if (made := await made_before()) is not None:
                return made
            raise mismatch_error(deps, payment)
        try:
            async with deps.uow() as uow:
                await uow.payments.add(payment)
                await uow.commit()
        except ConcurrencyError:
            # Its id is taken: by what an earlier call under the same key made.
            if (made := await made_before()) is not None:
                return made
            raise
        deps.observer.payment_outcome(payment.provider, payment.status.value)
        return payment

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
        check_confirm(payment_method, verification_token)
        deps = self._deps
        request_id = (
            None if idempotency_key is None else id_for_request("payment.confirm", idempotency_key)
        )

        async def start() -> tuple[Payment, bool, SavedCharge]:
            async with deps.uow() as uow:
                payment = await PAYMENTS.require(uow, payment_id, lock=True)
                if request_id is not None and payment.moved_by_request == request_id:
                    if payment_method not in (None, payment.payment_method):
                        raise IdempotencyKeyReusedError(key=idempotency_key or "")
                    asks = payment.status is PaymentStatus.PROCESSING
                    return payment, asks, await charge_of(uow, payment) if asks else SavedCharge()
                saved = payment.payment_method_id is not None and payment.setup_future_usage is None
                if saved and payment_method is not None:
                    raise ValidationError(
                        field="payment_method", reason="this payment charges its saved method"
                    )
                method = (
                    None
                    if saved
                    else payment_method or payment.payment_method or DEFAULT_PAYMENT_METHOD
                )
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
                # Checked after the state (a detached method is refused, and nothing changes).
                charge = await charge_of(uow, payment)
                await uow.payments.update(payment)
                await uow.commit()
                return payment, True, charge

        payment, ask, charge = await deps.retrying(start)
        if not ask:
            return payment
        provider = deps.providers.get(payment.provider)
        token = charge.token or payment.payment_method or DEFAULT_PAYMENT_METHOD
        request = ConfirmPaymentRequest(
            payment_id=payment.id,
            provider_payment_id=payment.provider_payment_id,
            amount=payment.amount,
            payment_method=token,
            idempotency_key=confirm_key(payment.id, token, verification_token),
            verification_token=verification_token,
            capture_method=payment.capture_method,
            setup_future_usage=payment.setup_future_usage,
            off_session=payment.off_session,
            saved_payment_method=charge.token,
            customer_id=charge.customer_id,
        )
        try:
            reply = await deps.call_provider(
                provider, "confirm_payment", lambda: provider.confirm_payment(request)
            )
        except ProviderDeclinedError as exc:
            return await fail_payment(deps, payment.id, exc.decline_code, exc.message)
        except ProviderRejectedError as exc:
            return await fail_payment(deps, payment.id, exc.reason_code, exc.message)
        except ProviderUnavailableError as exc:
            # Outcome unknown: stays PROCESSING until a webhook or reconciliation settles it.
            logger.warning("confirm of payment %s has an unknown outcome: %s", payment.id, exc)
            return await self.get(payment.id)
        updated, _ = await self.settle(payment.id, reply)
        return updated

    # ------------------------------------------------------------------ cancel
    async def cancel(self, payment_id: UUID, *, idempotency_key: str | None = None) -> Payment:
        """``PENDING -> CANCELLED``, or ``AUTHORIZED -> CANCELLED`` (the hold is released; not
        while a capture is in flight: ``CaptureInProgressError``), then release it at the
        provider (best effort).

        With ``idempotency_key``, the same cancel again returns the payment it cancelled.
        """
        deps = self._deps
        request_id = (
            None if idempotency_key is None else id_for_request("payment.cancel", idempotency_key)
        )

        async def run() -> Payment:
            async with deps.uow() as uow:
                payment = await PAYMENTS.require(uow, payment_id, lock=True)
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
        """Tell the provider a payment will not be confirmed (cancelled, or prepared and not
        wanted after all) or a hold will not be captured; failures are logged."""
        await _holding.release_at_provider(self._deps, payment)

    # ------------------------------------------------------------------ holds
    async def capture(
        self, payment_id: UUID, amount: int | None = None, *, idempotency_key: str | None = None
    ) -> Payment:
        """Capture (part of) an ``AUTHORIZED`` payment's hold: see ``HoldService.capture``."""
        return await _holding.capture(
            self._deps, payment_id, amount, idempotency_key=idempotency_key
        )

    async def increment_authorization(
        self, payment_id: UUID, amount: int, *, idempotency_key: str | None = None
    ) -> Payment:
        """Raise an ``AUTHORIZED`` payment's hold to ``amount``: see ``HoldService.increment``."""
        return await _holding.increment(
            self._deps, payment_id, amount, idempotency_key=idempotency_key
        )

    # ------------------------------------------------------------------ provider replies
    async def settle(self, payment_id: UUID, reply: ProviderPayment) -> tuple[Payment, str]:
        """Apply a provider's account of a payment in one transaction; never move it backwards."""
        return await settle_payment(self._deps, payment_id, reply)

    async def apply_reply(self, uow: UnitOfWork, payment: Payment, reply: ProviderPayment) -> str:
        """Move ``payment`` (loaded in ``uow``) as the provider's reply says, if it may.

        Only a ``PENDING`` or ``PROCESSING`` payment is ever moved; a reply whose amount,
        currency or echoed payment id differs never completes it.
        """
        return await apply_payment_reply(self._deps, uow, payment, reply)

    def mismatch_in(self, payment: Payment, reported: Money | None, echoed: UUID | None) -> str:
        """A provider's account of ``payment`` (loaded in the caller's unit of work) whose
        amount differs, is missing (``reported`` is ``None``) or that echoes another payment id:
        counted and logged, and a payment in flight is flagged, never completed."""
        return payment_mismatch_in(self._deps, payment, reported, echoed)

    async def reconcile(self, payment: Payment) -> tuple[Payment, str]:
        """Ask the provider where a ``PROCESSING`` payment stands and apply the answer."""
        return await reconcile_payment(self._deps, payment)

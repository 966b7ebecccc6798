"""Setting a payment up at its provider (the step of a create, and of a booking's payment):
the saved method it charges, the provider's create, the reply's check, the payment to save."""

from __future__ import annotations

import logging
from uuid import UUID

import attrs

from payment_core.errors import IdempotencyKeyReusedError, ProviderRejectedError, ValidationError
from payment_core.model.payment import CaptureMethod, Payment
from payment_core.ports import CreatePaymentRequest
from payment_core.services._deps import Dependencies
from payment_core.services._payment_input import CheckedCreate, CreatePayment
from payment_core.services._reads import read
from payment_core.services._saved_methods import SavedCharge, method_for_charge

__all__ = ["Mismatch", "charge_for", "made_under", "mismatch_error", "set_up", "with_saved_method"]

logger = logging.getLogger(__name__)


@attrs.frozen(slots=True)
class Mismatch:
    """The provider set up a payment other than the one asked for."""

    provider: str
    payment_id: UUID


async def with_saved_method(deps: Dependencies, command: CreatePayment) -> CreatePayment:
    """``command`` with its saved method checked (the guest's own, ``ACTIVE``), and that
    method's provider when it names none."""
    if command.payment_method_id is None:
        return command
    ident, guest = command.payment_method_id, command.guest_id
    if not isinstance(ident, UUID):
        raise ValidationError(field="payment_method_id", reason="must be a UUID")
    method = await read(deps, lambda uow: method_for_charge(uow, ident, guest))
    if command.provider is None:
        return attrs.evolve(command, provider=method.provider)
    if command.provider != method.provider:
        raise ValidationError(
            field="provider", reason="the saved payment method is at another provider"
        )
    return command


async def charge_for(deps: Dependencies, command: CreatePayment, provider: str) -> SavedCharge:
    """What the provider's create needs of a saved method: its token and customer, or the
    guest's customer there for a card to be saved."""

    if command.payment_method_id is not None:
        ident, guest = command.payment_method_id, command.guest_id
        method = await read(deps, lambda uow: method_for_charge(uow, ident, guest))
        return SavedCharge(method.provider_token, method.provider_customer_id)
    if command.setup_future_usage is not None:
        customer = await read(
            deps, lambda uow: uow.payment_methods.customer_of(command.guest_id, provider)
        )
        return SavedCharge(None, customer)
    return SavedCharge()


async def set_up(
    deps: Dependencies,
    command: CreatePayment,
    checked: CheckedCreate,
    payment_id: UUID | None,
    charge: SavedCharge,
) -> Payment | Mismatch:
    """Ask the provider to set up the payment ``command`` asks for (under ``payment_id``,
    a new id if ``None``): the payment to save, or what the provider made instead."""
    amount, provider_name, metadata = checked
    capture_method = CaptureMethod(command.capture_method)  # checked
    provider = deps.providers.get(provider_name)
    if payment_id is None:
        payment_id = deps.ids.new_id()
    request = CreatePaymentRequest(
        payment_id=payment_id,
        amount=amount,
        idempotency_key=f"payment-{payment_id}-create",
        description=command.description,
        metadata={**metadata, "payment_id": str(payment_id)},
        payment_method=command.payment_method,
        capture_method=capture_method,
        setup_future_usage=command.setup_future_usage,
        off_session=command.off_session,
        saved_payment_method=charge.token,
        customer_id=charge.customer_id,
    )
    reply = await deps.call_provider(
        provider, "create_payment", lambda: provider.create_payment(request)
    )
    if reply.amount != amount or (reply.payment_id is not None and reply.payment_id != payment_id):
        return Mismatch(provider_name, payment_id)
    return Payment.initiate(
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
        capture_method=capture_method,
        payment_method_id=command.payment_method_id,
        off_session=command.off_session,
        setup_future_usage=command.setup_future_usage,
    )


def mismatch_error(deps: Dependencies, mismatch: Mismatch) -> ProviderRejectedError:
    """Count and log a provider that set up another payment; the error to raise."""
    deps.observer.amount_mismatch(mismatch.provider)
    logger.warning(
        "provider %s created payment %s with another amount",
        mismatch.provider,
        mismatch.payment_id,
    )
    return ProviderRejectedError(
        reason_code="provider_amount_mismatch",
        message="the provider's reply does not match the requested amount",
    )


async def made_under(
    deps: Dependencies, key: str, payment_id: UUID, command: CreatePayment, checked: CheckedCreate
) -> Payment | None:
    """The payment an earlier create under ``key`` made, if any; the key reused for
    another payment raises :class:`IdempotencyKeyReusedError`."""
    made = await read(deps, lambda uow: uow.payments.get(payment_id))
    if made is None:
        return None
    if (
        made.booking_id,
        made.guest_id,
        made.amount,
        made.provider,
        made.capture_method,
        made.off_session,
    ) != (
        command.booking_id,
        command.guest_id,
        checked.amount,
        checked.provider,
        CaptureMethod(command.capture_method),
        command.off_session,
    ) or (command.payment_method_id not in (None, made.payment_method_id)):
        raise IdempotencyKeyReusedError(key=key)
    return made

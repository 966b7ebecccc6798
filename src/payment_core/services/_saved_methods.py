"""Saved payment methods in the payment use cases: the method a charge uses, checked, and the
card a successful payment saves, in the transaction that records the success."""

from __future__ import annotations

import logging
from uuid import UUID

import attrs

from payment_core.errors import PaymentMethodGuestMismatchError, ValidationError
from payment_core.model.card import Card
from payment_core.model.payment import Payment
from payment_core.model.payment_method import PaymentMethod
from payment_core.ports import SavedPaymentMethod, UnitOfWork
from payment_core.services._deps import Dependencies

__all__ = ["SavedCharge", "charge_of", "method_for_charge", "save_method_in"]

logger = logging.getLogger(__name__)


@attrs.frozen(slots=True)
class SavedCharge:
    """What a provider request needs of a saved method: its token and customer."""

    token: str | None = attrs.field(default=None, repr=False)
    customer_id: str | None = attrs.field(default=None, repr=False)


async def method_for_charge(
    uow: UnitOfWork, payment_method_id: UUID, guest_id: UUID
) -> PaymentMethod:
    """The saved method a charge for ``guest_id`` may use: it exists, is the guest's and is
    ``ACTIVE`` (else ``ValidationError``, ``PaymentMethodGuestMismatchError`` or
    ``PaymentMethodDetachedError``)."""
    method = await uow.payment_methods.get(payment_method_id)
    if method is None:
        raise ValidationError(field="payment_method_id", reason="no such payment method")
    if method.guest_id != guest_id:
        raise PaymentMethodGuestMismatchError(
            field="payment_method_id", reason="the payment method belongs to another guest"
        )
    method.require_active()
    return method


async def charge_of(uow: UnitOfWork, payment: Payment) -> SavedCharge:
    """The token and customer of the saved method ``payment`` charges, or, for a payment
    that saves its card, the guest's customer at its provider (new cards join it)."""
    if payment.payment_method_id is not None and payment.setup_future_usage is None:
        method = await method_for_charge(uow, payment.payment_method_id, payment.guest_id)
        return SavedCharge(method.provider_token, method.provider_customer_id)
    if payment.setup_future_usage is not None:
        return SavedCharge(
            None, await uow.payment_methods.customer_of(payment.guest_id, payment.provider)
        )
    return SavedCharge()


async def save_method_in(
    deps: Dependencies,
    uow: UnitOfWork,
    payment: Payment,
    saved: SavedPaymentMethod | None,
    card: Card | None,
) -> None:
    """Save the card ``payment`` asked to save (``setup_future_usage``), in the caller's
    transaction (the one that records its success), and name it on the payment."""
    if payment.setup_future_usage is None or payment.payment_method_id is not None:
        return
    if saved is None:
        logger.warning(
            "payment %s asked to save its card, but provider %s saved none",
            payment.id,
            payment.provider,
        )
        return
    method = PaymentMethod.save(
        id=deps.ids.new_id(),
        guest_id=payment.guest_id,
        provider=payment.provider,
        provider_token=saved.token,
        provider_customer_id=saved.customer_id,
        card=saved.card or card or payment.card,
        payment_id=payment.id,
        now=deps.clock.now(),
    )
    await uow.payment_methods.add(method)
    payment.payment_method_id = method.id

"""Payments and refunds: their views, declared once and built once."""

from __future__ import annotations

from typing import Literal, cast, overload

# pydantic reads TypedDicts for the AsyncAPI document, and wants typing_extensions' before 3.12.
from typing_extensions import TypedDict

from payment_adapters.wire._common import Id, Timestamp, id_text, rfc3339
from payment_core.model.payment import Payment
from payment_core.model.refund import Refund

__all__ = [
    "Card",
    "CardSafeView",
    "NextAction",
    "PaymentData",
    "PaymentSafeView",
    "PaymentView",
    "RefundData",
    "RefundSafeView",
    "RefundView",
    "payment_safe_view",
    "payment_view",
    "refund_safe_view",
    "refund_view",
]


class Card(TypedDict):
    brand: str
    last4: str
    exp_month: int | None
    exp_year: int | None


class NextAction(TypedDict):
    type: str
    url: str


class PaymentData(TypedDict):
    """A payment's full view as of the event (no `client_secret`)."""

    id: Id
    reference: str
    booking_id: Id
    guest_id: Id
    amount: int
    currency: str
    status: Literal[
        "PENDING", "PROCESSING", "AUTHORIZED", "COMPLETED", "FAILED", "CANCELLED", "EXPIRED"
    ]
    provider: str
    provider_payment_id: str | None
    amount_refunded: int
    capture_method: Literal["automatic", "manual"]
    amount_capturable: int
    amount_captured: int
    amount_capture_pending: int
    authorization_expires_at: Timestamp | None
    payment_method_id: Id | None
    card: Card | None
    failure_code: str | None
    failure_message: str | None
    next_action: NextAction | None
    description: str | None
    metadata: dict[str, str]
    created_at: Timestamp
    updated_at: Timestamp


class PaymentView(PaymentData):
    client_secret: str | None
    #: Minor units under open disputes (0 when none): such a payment cannot be refunded.
    amount_disputed: int


class CardSafeView(TypedDict):
    brand: str
    last4: str


class PaymentSafeView(TypedDict):
    reference: str
    status: str
    amount: int
    currency: str
    amount_refunded: int
    card: CardSafeView | None
    failure_message: str | None
    updated_at: Timestamp


class RefundData(TypedDict):
    """A refund's full view as of the event."""

    id: Id
    reference: str
    payment_id: Id
    booking_id: Id
    amount: int
    currency: str
    status: Literal["PENDING", "PROCESSING", "COMPLETED", "FAILED"]
    reason: str | None
    attempts: int
    next_retry_at: Timestamp | None
    failure_reason: str | None
    created_at: Timestamp
    updated_at: Timestamp


class RefundView(RefundData):
    pass


class RefundSafeView(TypedDict):
    reference: str
    status: str
    amount: int
    currency: str
    updated_at: Timestamp


@overload
def payment_view(payment: Payment, *, amount_disputed: int = 0) -> PaymentView: ...
@overload
def payment_view(
    payment: Payment, *, include_client_secret: Literal[True], amount_disputed: int = 0
) -> PaymentView: ...
@overload
def payment_view(payment: Payment, *, include_client_secret: Literal[False]) -> PaymentData: ...
def payment_view(
    payment: Payment, *, include_client_secret: bool = True, amount_disputed: int = 0
) -> PaymentView | PaymentData:
    """The full view of a payment (``client_secret`` and ``amount_disputed``, which the
    payment's disputes decide, are for the API caller, not for events)."""
    card = payment.card
    data: PaymentData = {
        "id": str(payment.id),
        "reference": payment.reference,
        "booking_id": str(payment.booking_id),
        "guest_id": str(payment.guest_id),
        "amount": payment.amount.amount,
        "currency": payment.amount.currency.code,
        "status": payment.status.value,
        "provider": payment.provider,
        "provider_payment_id": payment.provider_payment_id,
        "amount_refunded": payment.amount_refunded,
        "capture_method": payment.capture_method.value,
        "amount_capturable": payment.amount_capturable,
        "amount_captured": payment.amount_captured,
        "amount_capture_pending": payment.amount_capture_pending,
        "authorization_expires_at": rfc3339(payment.authorization_expires_at),
        "payment_method_id": id_text(payment.payment_method_id),
        "card": None
        if card is None
        else {
            "brand": card.brand,
            "last4": card.last4,
            "exp_month": card.exp_month,
            "exp_year": card.exp_year,
        },
        "failure_code": payment.failure_code,
        "failure_message": payment.failure_message,
        "next_action": None
        if payment.next_action is None
        else {"type": payment.next_action.type, "url": payment.next_action.url},
        "description": payment.description,
        "metadata": dict(payment.metadata),
        "created_at": rfc3339(payment.created_at),
        "updated_at": rfc3339(payment.updated_at),
    }
    if not include_client_secret:
        return data
    view = cast(PaymentView, data)
    view["client_secret"] = payment.client_secret
    view["amount_disputed"] = amount_disputed
    return view


def payment_safe_view(payment: Payment) -> PaymentSafeView:
    """What a public reference may reveal, and nothing more."""
    card = payment.card
    return {
        "reference": payment.reference,
        "status": payment.status.value,
        "amount": payment.amount.amount,
        "currency": payment.amount.currency.code,
        "amount_refunded": payment.amount_refunded,
        "card": None if card is None else {"brand": card.brand, "last4": card.last4},
        "failure_message": payment.failure_message,
        "updated_at": rfc3339(payment.updated_at),
    }


def refund_view(refund: Refund) -> RefundView:
    return {
        "id": str(refund.id),
        "reference": refund.reference,
        "payment_id": str(refund.payment_id),
        "booking_id": str(refund.booking_id),
        "amount": refund.amount.amount,
        "currency": refund.amount.currency.code,
        "status": refund.status.value,
        "reason": refund.reason,
        "attempts": refund.attempts,
        "next_retry_at": rfc3339(refund.next_retry_at),
        "failure_reason": refund.failure_reason,
        "created_at": rfc3339(refund.created_at),
        "updated_at": rfc3339(refund.updated_at),
    }


def refund_safe_view(refund: Refund) -> RefundSafeView:
    return {
        "reference": refund.reference,
        "status": refund.status.value,
        "amount": refund.amount.amount,
        "currency": refund.amount.currency.code,
        "updated_at": rfc3339(refund.updated_at),
    }

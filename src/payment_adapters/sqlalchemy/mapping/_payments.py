"""Payments and refunds to and from their rows."""

from __future__ import annotations

import json
from typing import Any

from payment_adapters.crypto import Cipher
from payment_adapters.sqlalchemy.mapping._sealing import (
    Row,
    open_text,
    seal_text,
)
from payment_core.model.payment import CaptureMethod, Card, NextAction, Payment, PaymentStatus
from payment_core.model.refund import Refund, RefundStatus
from payment_core.money import Currency, Money


# ------------------------------------------------------------------------------ payments
def payment_to_row(payment: Payment, cipher: Cipher) -> dict[str, Any]:
    """Every column of a payment; the sensitive ones sealed to this row."""
    ident = payment.id
    card, action = payment.card, payment.next_action
    metadata = (
        json.dumps(dict(payment.metadata), sort_keys=True, separators=(",", ":"))
        if payment.metadata
        else None
    )
    return {
        "id": ident,
        "reference": payment.reference,
        "booking_id": payment.booking_id,
        "guest_id": payment.guest_id,
        "amount": payment.amount.amount,
        "currency": payment.amount.currency.code,
        "provider": payment.provider,
        "status": payment.status.value,
        "payment_method": payment.payment_method,
        "provider_payment_id": payment.provider_payment_id,
        "client_secret": seal_text(
            cipher, "payments", "client_secret", ident, payment.client_secret
        ),
        "amount_refunded": payment.amount_refunded,
        "amount_refund_pending": payment.amount_refund_pending,
        "card_brand": None if card is None else card.brand,
        "card_last4": None if card is None else card.last4,
        "card_exp_month": None if card is None else card.exp_month,
        "card_exp_year": None if card is None else card.exp_year,
        "failure_code": payment.failure_code,
        "failure_message": payment.failure_message,
        "next_action_type": None if action is None else action.type,
        "next_action_url": None if action is None else action.url,
        "description": seal_text(cipher, "payments", "description", ident, payment.description),
        "metadata": seal_text(cipher, "payments", "metadata", ident, metadata),
        "reconcile_at": payment.reconcile_at,
        "reconcile_attempts": payment.reconcile_attempts,
        "refund_on_completion": payment.refund_on_completion,
        "moved_by_request": payment.moved_by_request,
        "capture_method": payment.capture_method.value,
        "amount_capturable": payment.amount_capturable,
        "amount_captured": payment.amount_captured,
        "amount_capture_pending": payment.amount_capture_pending,
        "authorization_expires_at": payment.authorization_expires_at,
        "expiry_warned_at": payment.expiry_warned_at,
        "hold_moved_by_request": payment.hold_moved_by_request,
        "payment_method_id": payment.payment_method_id,
        "off_session": payment.off_session,
        "setup_future_usage": payment.setup_future_usage,
        "created_at": payment.created_at,
        "updated_at": payment.updated_at,
        "version": payment.version,
    }


def payment_from_row(row: Row, cipher: Cipher) -> Payment:
    ident = row["id"]
    metadata = open_text(cipher, "payments", "metadata", ident, row["metadata"])
    return Payment(
        id=ident,
        reference=row["reference"],
        booking_id=row["booking_id"],
        guest_id=row["guest_id"],
        amount=Money(row["amount"], Currency.of(row["currency"])),
        provider=row["provider"],
        status=PaymentStatus(row["status"]),
        created_at=row["created_at"],
        updated_at=row["updated_at"],
        payment_method=row["payment_method"],
        provider_payment_id=row["provider_payment_id"],
        client_secret=open_text(cipher, "payments", "client_secret", ident, row["client_secret"]),
        amount_refunded=row["amount_refunded"],
        amount_refund_pending=row["amount_refund_pending"],
        card=None
        if row["card_brand"] is None
        else Card(
            brand=row["card_brand"],
            last4=row["card_last4"],
            exp_month=row["card_exp_month"],
            exp_year=row["card_exp_year"],
        ),
        failure_code=row["failure_code"],
        failure_message=row["failure_message"],
        next_action=None
        if row["next_action_type"] is None
        else NextAction(type=row["next_action_type"], url=row["next_action_url"]),
        description=open_text(cipher, "payments", "description", ident, row["description"]),
        metadata={} if metadata is None else json.loads(metadata),
        reconcile_at=row["reconcile_at"],
        reconcile_attempts=row["reconcile_attempts"],
        refund_on_completion=row["refund_on_completion"],
        moved_by_request=row["moved_by_request"],
        capture_method=CaptureMethod(row["capture_method"]),
        amount_capturable=row["amount_capturable"],
        amount_captured=row["amount_captured"],
        amount_capture_pending=row["amount_capture_pending"],
        authorization_expires_at=row["authorization_expires_at"],
        expiry_warned_at=row["expiry_warned_at"],
        hold_moved_by_request=row["hold_moved_by_request"],
        payment_method_id=row["payment_method_id"],
        off_session=row["off_session"],
        setup_future_usage=row["setup_future_usage"],
        version=row["version"],
    )


# ------------------------------------------------------------------------------ refunds
def refund_to_row(refund: Refund) -> dict[str, Any]:
    return {
        "id": refund.id,
        "reference": refund.reference,
        "payment_id": refund.payment_id,
        "booking_id": refund.booking_id,
        "guest_id": refund.guest_id,
        "amount": refund.amount.amount,
        "currency": refund.amount.currency.code,
        "provider": refund.provider,
        "status": refund.status.value,
        "reason": refund.reason,
        "attempts": refund.attempts,
        "next_retry_at": refund.next_retry_at,
        "failure_reason": refund.failure_reason,
        "last_error": refund.last_error,
        "provider_refund_id": refund.provider_refund_id,
        "key_generation": refund.key_generation,
        "attempted_by_request": refund.attempted_by_request,
        "created_at": refund.created_at,
        "updated_at": refund.updated_at,
        "version": refund.version,
    }


def refund_from_row(row: Row) -> Refund:
    return Refund(
        id=row["id"],
        reference=row["reference"],
        payment_id=row["payment_id"],
        booking_id=row["booking_id"],
        guest_id=row["guest_id"],
        amount=Money(row["amount"], Currency.of(row["currency"])),
        provider=row["provider"],
        status=RefundStatus(row["status"]),
        created_at=row["created_at"],
        updated_at=row["updated_at"],
        reason=row["reason"],
        attempts=row["attempts"],
        next_retry_at=row["next_retry_at"],
        failure_reason=row["failure_reason"],
        last_error=row["last_error"],
        provider_refund_id=row["provider_refund_id"],
        key_generation=row["key_generation"],
        attempted_by_request=row["attempted_by_request"],
        version=row["version"],
    )

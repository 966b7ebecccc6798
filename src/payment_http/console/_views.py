"""What the templates are given: plain records with only the fields a page may show.

Templates never see a domain object: a :class:`~payment_core.model.payment.Payment` carries its
client secret and its payment method token, which no page may show. The views here are made
field by field, so a field added to the model later does not reach a page by accident.
"""

from __future__ import annotations

from collections.abc import Iterable
from datetime import UTC, datetime, timedelta
from typing import Any, Final
from uuid import UUID

import attrs

from payment_adapters.console import PaymentSummary, RefundSummary
from payment_adapters.console.plans import PlanSummary
from payment_core.errors import UnknownCurrencyError
from payment_core.model.payment import AMOUNT_MISMATCH, Payment
from payment_core.model.refund import Refund
from payment_core.money import Currency, Money

__all__ = [
    "PaymentView",
    "RefundView",
    "ago",
    "badge",
    "money",
    "payment_view",
    "plan_row",
    "refund_view",
    "refund_view_of",
    "when",
]

_BADGES: Final = {
    "COMPLETED": "ok",
    "PAID": "ok",
    "PROCESSING": "info",
    "PENDING": "info",
    "AUTHORIZED": "info",
    "EXPIRED": "muted",
    "OPEN": "info",
    "DRAFT": "muted",
    "FAILED": "bad",
    "CANCELLED": "muted",
    "VOID": "muted",
    "UNCOLLECTIBLE": "warn",
    "FLAGGED": "warn",
    "NEEDS_RESPONSE": "warn",
    "UNDER_REVIEW": "info",
    "WON": "ok",
    "LOST": "bad",
}


def money(amount: int, currency: str) -> str:
    """``EUR 125.00``: the amount in the currency's minor units, written in major units."""
    try:
        return f"{currency} {Money(amount, Currency.of(currency)).format()}"
    except UnknownCurrencyError:  # pragma: no cover - stored currencies are known ones
        return f"{currency} {amount}"


def when(moment: datetime | None) -> str:
    if moment is None:
        return "—"
    return moment.astimezone(UTC).strftime("%Y-%m-%d %H:%M:%S UTC")


def ago(moment: datetime | None, now: datetime) -> str:
    if moment is None:
        return "—"
    seconds = int((now - moment).total_seconds())
    future = seconds < 0
    seconds = abs(seconds)
    if seconds < 60:
        text = f"{seconds} s"
    elif seconds < 3600:
        text = f"{seconds // 60} min"
    elif seconds < 86400:
        text = f"{seconds // 3600} h {seconds % 3600 // 60} min"
    else:
        text = f"{seconds // 86400} d {seconds % 86400 // 3600} h"
    return f"in {text}" if future else f"{text} ago"


def badge(status: str) -> str:
    """The CSS modifier of a status badge."""
    return _BADGES.get(status, "muted")


@attrs.frozen(slots=True)
class PaymentView:
    id: UUID
    reference: str
    booking_id: UUID
    guest_id: UUID
    amount: str
    amount_minor: int
    currency: str
    status: str
    provider: str
    provider_payment_id: str | None
    refunded: str
    refundable: str
    refundable_minor: int
    refund_pending: str
    refund_pending_minor: int
    card: str | None
    failure_code: str | None
    failure_message: str | None
    waiting_for_customer: bool
    reconcile_attempts: int
    reconcile_at: datetime | None
    flagged: bool
    created_at: datetime
    updated_at: datetime
    #: The hold: what it holds and until when, and a capture whose outcome is not known yet.
    capturable: str = ""
    capturable_minor: int = 0
    capture_pending: str = ""
    authorization_expires_at: datetime | None = None


def payment_view(p: Payment, *, flag_after: int) -> PaymentView:
    """The page's view of a payment: no client secret, no payment method token, no
    description or metadata (free text a guest or a client wrote)."""
    currency = p.amount.currency.code
    card = None
    if p.card is not None:
        expiry = (
            f" · exp {p.card.exp_month:02d}/{p.card.exp_year}"
            if p.card.exp_month and p.card.exp_year
            else ""
        )
        card = f"{p.card.brand} •••• {p.card.last4}{expiry}"
    return PaymentView(
        id=p.id,
        reference=p.reference,
        booking_id=p.booking_id,
        guest_id=p.guest_id,
        amount=money(p.amount.amount, currency),
        amount_minor=p.amount.amount,
        currency=currency,
        status=p.status.value,
        provider=p.provider,
        provider_payment_id=p.provider_payment_id,
        refunded=money(p.amount_refunded, currency),
        refundable=money(p.refundable, currency),
        refundable_minor=p.refundable,
        refund_pending=money(p.amount_refund_pending, currency),
        refund_pending_minor=p.amount_refund_pending,
        card=card,
        failure_code=p.failure_code,
        failure_message=p.failure_message,
        waiting_for_customer=p.next_action is not None,
        reconcile_attempts=p.reconcile_attempts,
        reconcile_at=p.reconcile_at,
        flagged=p.awaits_provider
        and (p.reconcile_attempts > flag_after or p.failure_code == AMOUNT_MISMATCH),
        created_at=p.created_at,
        updated_at=p.updated_at,
        capturable=money(p.amount_capturable, currency),
        capturable_minor=p.amount_capturable,
        capture_pending=money(p.amount_capture_pending, currency)
        if p.amount_capture_pending
        else "",
        authorization_expires_at=p.authorization_expires_at,
    )


@attrs.frozen(slots=True)
class RefundView:
    id: UUID
    reference: str
    payment_id: UUID
    amount: str
    amount_minor: int
    currency: str
    status: str
    reason: str | None
    attempts: int
    next_retry_at: datetime | None
    failure_reason: str | None
    last_error: str | None
    created_at: datetime
    updated_at: datetime

    @property
    def can_retry(self) -> bool:
        return self.status == "PENDING"


def refund_view(r: Refund) -> RefundView:
    return RefundView(
        id=r.id,
        reference=r.reference,
        payment_id=r.payment_id,
        amount=money(r.amount.amount, r.amount.currency.code),
        amount_minor=r.amount.amount,
        currency=r.amount.currency.code,
        status=r.status.value,
        reason=r.reason,
        attempts=r.attempts,
        next_retry_at=r.next_retry_at,
        failure_reason=r.failure_reason,
        last_error=r.last_error,
        created_at=r.created_at,
        updated_at=r.updated_at,
    )


def refund_view_of(r: RefundSummary) -> RefundView:
    return RefundView(
        id=r.id,
        reference=r.reference,
        payment_id=r.payment_id,
        amount=money(r.amount, r.currency),
        amount_minor=r.amount,
        currency=r.currency,
        status=r.status,
        reason=r.reason,
        attempts=r.attempts,
        next_retry_at=r.next_retry_at,
        failure_reason=r.failure_reason,
        last_error=r.last_error,
        created_at=r.created_at,
        updated_at=r.updated_at,
    )


def summary_rows(items: Iterable[PaymentSummary]) -> list[dict[str, Any]]:
    """Rows of a payment table."""
    return [
        {
            "id": p.id,
            "reference": p.reference,
            "booking_id": p.booking_id,
            "guest_id": p.guest_id,
            "amount": money(p.amount, p.currency),
            "refunded": money(p.amount_refunded, p.currency) if p.amount_refunded else "",
            "status": p.status,
            "provider": p.provider,
            "card": f"{p.card_brand} •••• {p.card_last4}" if p.card_last4 else "",
            "failure_code": p.failure_code,
            "reconcile_attempts": p.reconcile_attempts,
            "created_at": p.created_at,
        }
        for p in items
    ]


def day_start(moment: datetime) -> datetime:
    return moment.astimezone(UTC).replace(hour=0, minute=0, second=0, microsecond=0)


def days_back(now: datetime, days: int) -> datetime:
    return day_start(now) - timedelta(days=days - 1)


def plan_row(plan: PlanSummary) -> dict[str, Any]:
    """A plan in default, for the "needs a person" list."""
    return {
        "id": plan.id,
        "booking_id": plan.booking_id,
        "paid": money(plan.amount_paid, plan.currency),
        "total": money(plan.total_amount, plan.currency),
        "failure_code": plan.failure_code,
        "updated_at": plan.updated_at,
    }

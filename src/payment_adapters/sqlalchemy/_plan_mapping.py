"""A payment plan to its row and back: its installments, policy and cancellation as JSON."""

from __future__ import annotations

from datetime import UTC, date, datetime
from typing import Any
from uuid import UUID

from sqlalchemy.engine import RowMapping

from payment_adapters.crypto import Cipher
from payment_adapters.sqlalchemy.mapping import open_text, seal_text
from payment_core.model._cancellation import (
    CancellationDecision,
    CancellationPolicy,
    CancellationTier,
)
from payment_core.model.plan import (
    Installment,
    InstallmentKind,
    InstallmentStatus,
    PaymentPlan,
    PlanStatus,
)
from payment_core.money import Currency, Money

__all__ = ["plan_from_row", "plan_to_row"]

_TABLE = "payment_plans"


def _iso(value: datetime | None) -> str | None:
    return None if value is None else value.astimezone(UTC).isoformat()


def _at(value: str | None) -> datetime | None:
    return None if value is None else datetime.fromisoformat(value).astimezone(UTC)


def _uuid(value: str | None) -> UUID | None:
    return None if value is None else UUID(value)


def _installment_json(item: Installment) -> dict[str, Any]:
    return {
        "id": str(item.id),
        "kind": item.kind.value,
        "amount": item.amount.amount,
        "due_at": _iso(item.due_at),
        "status": item.status.value,
        "payment_id": None if item.payment_id is None else str(item.payment_id),
        "attempts": item.attempts,
        "next_attempt_at": _iso(item.next_attempt_at),
        "failure_code": item.failure_code,
        "claimed_until": _iso(item.claimed_until),
        "paid_at": _iso(item.paid_at),
    }


def _installment(data: dict[str, Any], currency: Currency) -> Installment:
    due_at = _at(data["due_at"])
    assert due_at is not None
    return Installment(
        id=UUID(data["id"]),
        kind=InstallmentKind(data["kind"]),
        amount=Money(int(data["amount"]), currency),
        due_at=due_at,
        status=InstallmentStatus(data["status"]),
        payment_id=_uuid(data.get("payment_id")),
        attempts=int(data["attempts"]),
        next_attempt_at=_at(data.get("next_attempt_at")),
        failure_code=data.get("failure_code"),
        claimed_until=_at(data.get("claimed_until")),
        paid_at=_at(data.get("paid_at")),
    )


def _tier_json(tier: CancellationTier) -> dict[str, int]:
    return {"days_before_check_in": tier.days_before_check_in, "refund_bps": tier.refund_bps}


def _tier(data: dict[str, Any]) -> CancellationTier:
    return CancellationTier(int(data["days_before_check_in"]), int(data["refund_bps"]))


def _policy_json(policy: CancellationPolicy | None) -> dict[str, Any] | None:
    if policy is None:
        return None
    return {
        "tiers": [_tier_json(t) for t in policy.tiers],
        "no_show_fee_bps": policy.no_show_fee_bps,
    }


def _policy(data: dict[str, Any] | None) -> CancellationPolicy | None:
    if data is None:
        return None
    return CancellationPolicy(
        tiers=tuple(_tier(t) for t in data["tiers"]),
        no_show_fee_bps=int(data["no_show_fee_bps"]),
    )


def _decision_json(decision: CancellationDecision | None) -> dict[str, Any] | None:
    if decision is None:
        return None
    return {
        "cancelled_at": _iso(decision.cancelled_at),
        "days_before_check_in": decision.days_before_check_in,
        "refund_bps": decision.refund_bps,
        "amount_retained": decision.amount_retained,
        "amount_refunded": decision.amount_refunded,
        "tier": None if decision.tier is None else _tier_json(decision.tier),
        "explanation": decision.explanation,
    }


def _decision(data: dict[str, Any] | None, reason: str | None) -> CancellationDecision | None:
    if data is None:
        return None
    cancelled_at = _at(data["cancelled_at"])
    assert cancelled_at is not None
    return CancellationDecision(
        cancelled_at=cancelled_at,
        days_before_check_in=int(data["days_before_check_in"]),
        refund_bps=int(data["refund_bps"]),
        amount_retained=int(data["amount_retained"]),
        amount_refunded=int(data["amount_refunded"]),
        tier=None if data.get("tier") is None else _tier(data["tier"]),
        explanation=str(data["explanation"]),
        reason=reason,
    )


def plan_to_row(plan: PaymentPlan, cipher: Cipher) -> dict[str, Any]:
    reason = None if plan.cancellation is None else plan.cancellation.reason
    return {
        "id": plan.id,
        "booking_id": plan.booking_id,
        "guest_id": plan.guest_id,
        "currency": plan.currency.code,
        "total_amount": plan.total_amount.amount,
        "check_in": plan.check_in,
        "time_zone": plan.time_zone,
        "provider": plan.provider,
        "status": plan.status.value,
        "deposit_bps": plan.deposit_bps,
        "balance_due_days_before_check_in": plan.balance_due_days_before_check_in,
        "balance_due_at": plan.balance_due_at,
        "cancellation_policy": _policy_json(plan.cancellation_policy),
        "payment_method": plan.payment_method,
        "payment_method_id": plan.payment_method_id,
        "installments": [_installment_json(i) for i in plan.installments],
        "cancellation": _decision_json(plan.cancellation),
        "cancellation_reason": seal_text(cipher, _TABLE, "cancellation_reason", plan.id, reason),
        "amount_refunded": plan.amount_refunded,
        "wake_at": plan.wake_at,
        "moved_by_request": plan.moved_by_request,
        "created_at": plan.created_at,
        "updated_at": plan.updated_at,
        "version": plan.version,
    }


def plan_from_row(row: RowMapping | dict[str, Any], cipher: Cipher) -> PaymentPlan:
    currency = Currency.of(row["currency"])
    check_in = row["check_in"]
    assert isinstance(check_in, date)
    return PaymentPlan(
        id=row["id"],
        booking_id=row["booking_id"],
        guest_id=row["guest_id"],
        total_amount=Money(int(row["total_amount"]), currency),
        check_in=check_in,
        time_zone=row["time_zone"],
        provider=row["provider"],
        status=PlanStatus(row["status"]),
        installments=tuple(_installment(i, currency) for i in row["installments"]),
        created_at=row["created_at"],
        updated_at=row["updated_at"],
        deposit_bps=int(row["deposit_bps"]),
        balance_due_days_before_check_in=row["balance_due_days_before_check_in"],
        balance_due_at=row["balance_due_at"],
        cancellation_policy=_policy(row["cancellation_policy"]),
        payment_method=row["payment_method"],
        payment_method_id=row["payment_method_id"],
        cancellation=_decision(
            row["cancellation"],
            open_text(cipher, _TABLE, "cancellation_reason", row["id"], row["cancellation_reason"]),
        ),
        amount_refunded=int(row["amount_refunded"]),
        moved_by_request=row["moved_by_request"],
        version=int(row["version"]),
    )

"""What the plan use cases are asked to do, and the checks made before anything happens."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import date, datetime
from typing import Final
from uuid import UUID

import attrs

from payment_core.errors import ValidationError
from payment_core.model._cancellation import (
    MAX_TIERS,
    CancellationPolicy,
    CancellationTier,
)
from payment_core.model._plan_schedule import (
    MAX_DAYS_BEFORE,
    PlannedInstallment,
    local_date,
    plan_schedule,
    zone_of,
)
from payment_core.money import Currency
from payment_core.outside_text import screen_text
from payment_core.plan_errors import CheckInInPastError
from payment_core.services._deps import Dependencies
from payment_core.services._payment_input import (
    DEFAULT_PAYMENT_METHOD,
    check_capabilities,
    check_confirm,
)

__all__ = ["CheckedPlan", "CreatePaymentPlan", "Policy", "Tier", "check_plan", "screen_reason"]

MAX_REASON: Final = 500


@attrs.frozen(slots=True)
class Tier:
    """A tier as it is given: ``days_before_check_in`` and ``refund_bps``."""

    days_before_check_in: int
    refund_bps: int


@attrs.frozen(slots=True)
class Policy:
    """A cancellation policy as it is given."""

    tiers: Sequence[Tier] = ()
    no_show_fee_bps: int = 0


@attrs.frozen(slots=True)
class CreatePaymentPlan:
    """The input of :meth:`PaymentPlanService.create`, validated there."""

    booking_id: UUID
    guest_id: UUID
    currency: str
    total_amount: int
    check_in: date
    time_zone: str
    deposit_bps: int = 10_000
    balance_due_days_before_check_in: int | None = None
    balance_due_at: datetime | None = None
    #: The token the deposit is charged with (``pm_card_visa`` when not given).
    payment_method: str | None = None
    #: ``None``: no policy (a cancellation refunds everything paid, a no-show costs nothing).
    cancellation_policy: Policy | None = None
    provider: str | None = None


@attrs.frozen(slots=True)
class CheckedPlan:
    """A create command's values, checked, and the installments it makes."""

    currency: Currency
    provider: str
    payment_method: str
    policy: CancellationPolicy | None
    schedule: list[PlannedInstallment]


def _policy(given: Policy | None) -> CancellationPolicy | None:
    if given is None:
        return None
    if len(given.tiers) > MAX_TIERS:
        raise ValidationError(field="cancellation_policy.tiers", reason=f"at most {MAX_TIERS}")
    return CancellationPolicy(
        tiers=tuple(CancellationTier(t.days_before_check_in, t.refund_bps) for t in given.tiers),
        no_show_fee_bps=given.no_show_fee_bps,
    )


def check_plan(deps: Dependencies, command: CreatePaymentPlan) -> CheckedPlan:
    """Check ``command`` completely (nothing has happened yet) and make its schedule."""
    currency = Currency.of(command.currency)
    zone = zone_of(command.time_zone)
    now = deps.clock.now()
    if type(command.check_in) is not date:
        raise ValidationError(field="check_in", reason="must be a date (YYYY-MM-DD)")
    if command.check_in < local_date(now, zone):
        raise CheckInInPastError(
            field="check_in", reason=f"is before today's date in {command.time_zone}"
        )
    days = command.balance_due_days_before_check_in
    if days is not None and (type(days) is not int or not 0 <= days <= MAX_DAYS_BEFORE):
        raise ValidationError(
            field="balance_due_days_before_check_in",
            reason=f"must be an int from 0 to {MAX_DAYS_BEFORE}",
        )
    due_at = command.balance_due_at
    if due_at is not None and (not isinstance(due_at, datetime) or due_at.tzinfo is None):
        raise ValidationError(field="balance_due_at", reason="must be an RFC 3339 timestamp")
    policy = _policy(command.cancellation_policy)
    provider = command.provider or deps.config.default_provider
    deps.providers.get(provider)
    method = command.payment_method or DEFAULT_PAYMENT_METHOD
    check_confirm(method, None)
    schedule = plan_schedule(
        total=command.total_amount,
        check_in=command.check_in,
        zone=zone,
        deposit_bps=command.deposit_bps,
        balance_due_days_before_check_in=days,
        balance_due_at=due_at,
        now=now,
    )
    # The deposit saves the card for the balance (and a no-show fee): the provider must be
    # able to keep it and charge it without the guest.
    check_capabilities(deps, provider, setup_future_usage="off_session", off_session=True)
    return CheckedPlan(currency, provider, method, policy, schedule)


def screen_reason(reason: str | None) -> str | None:
    """A cancellation's reason as it may be kept: at most 500 characters, card numbers
    screened out."""
    if reason is None:
        return None
    if not isinstance(reason, str) or len(reason) > MAX_REASON:
        raise ValidationError(field="reason", reason=f"must be at most {MAX_REASON} characters")
    return screen_text(reason)

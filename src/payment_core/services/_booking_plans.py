"""Payment plans in the booking service's events: ``booking.created`` with ``payment_plan``
creates the plan instead of a single payment; ``booking.cancelled`` cancels the booking's
plans by their policies instead of refunding their payments whole.

Both take the booking's lock first, as the payments' handlers do: a plan is saved only if the
booking is not cancelled, and a cancellation handled on another worker either sees the plan
(and cancels it) or is seen by the create (which then saves nothing).
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import date, datetime
from typing import Final
from uuid import UUID

import attrs

from payment_core.errors import ValidationError
from payment_core.ids import id_for_request
from payment_core.model.payment import Payment
from payment_core.model.plan import PaymentPlan
from payment_core.model.refund import Refund
from payment_core.pagination import PageRequest
from payment_core.ports import UnitOfWork
from payment_core.services._deps import Dependencies
from payment_core.services._plan_cancelling import CANCELLABLE, cancel_in
from payment_core.services._plan_charging import PLAN_METADATA
from payment_core.services._plan_input import CreatePaymentPlan, Policy, Tier, screen_reason
from payment_core.services.plans import PaymentPlanService

__all__ = [
    "BOOKINGS_CONSUMER",
    "BookingPaymentPlan",
    "BookingPolicy",
    "cancel_booking_plans",
    "is_plan_payment",
    "plan_for_booking",
    "save_booking_plan",
]

#: The inbox consumer of booking events (payments and plans alike: one inbox).
BOOKINGS_CONSUMER: Final = "payment-service.bookings"


@attrs.frozen(slots=True)
class BookingPolicy:
    """``payment_plan.cancellation_policy`` as the booking service sends it."""

    tiers: list[Tier] = attrs.field(factory=list)
    no_show_fee_bps: int = 0


@attrs.frozen(slots=True)
class BookingPaymentPlan:
    """``booking.created``'s ``payment_plan``: the plan body's fields but the booking, the
    guest and the currency (the event's own); ``total_amount`` defaults to the event's
    ``amount``."""

    check_in: str
    time_zone: str
    total_amount: int | None = None
    deposit_bps: int = 10_000
    balance_due_days_before_check_in: int | None = None
    balance_due_at: str | None = None
    payment_method: str | None = None
    cancellation_policy: BookingPolicy | None = None


def _date(value: str) -> date:
    try:
        return date.fromisoformat(value)
    except ValueError:
        raise ValidationError(field="payment_plan.check_in", reason="must be YYYY-MM-DD") from None


def _instant(value: str | None) -> datetime | None:
    if value is None:
        return None
    try:
        parsed = datetime.fromisoformat(value)
    except ValueError:
        parsed = None
    if parsed is None or parsed.tzinfo is None:
        raise ValidationError(
            field="payment_plan.balance_due_at", reason="must be an RFC 3339 timestamp"
        )
    return parsed


def plan_for_booking(
    booking_id: UUID, guest_id: UUID, currency: str, amount: int, given: BookingPaymentPlan
) -> CreatePaymentPlan:
    """The create command a ``booking.created``'s ``payment_plan`` stands for."""
    policy = given.cancellation_policy
    return CreatePaymentPlan(
        booking_id=booking_id,
        guest_id=guest_id,
        currency=currency,
        total_amount=amount if given.total_amount is None else given.total_amount,
        check_in=_date(given.check_in),
        time_zone=given.time_zone,
        deposit_bps=given.deposit_bps,
        balance_due_days_before_check_in=given.balance_due_days_before_check_in,
        balance_due_at=_instant(given.balance_due_at),
        payment_method=given.payment_method,
        cancellation_policy=None
        if policy is None
        else Policy(tuple(policy.tiers), policy.no_show_fee_bps),
    )


async def save_booking_plan(
    deps: Dependencies, plans: PaymentPlanService, event_id: str, command: CreatePaymentPlan
) -> tuple[bool, PaymentPlan | None]:
    """Record the event and save the plan it makes in one transaction (the booking locked
    first), then charge its deposit. ``(duplicate, plan)``: ``plan`` is ``None`` when the
    booking was cancelled first; a redelivered event finishes charging the deposit of the plan
    the first delivery saved, if that stopped short."""
    # Its id derives from the event: a redelivery after a crash finds the plan it made.
    plan = plans.build(command, id_for_request("payment_plan.booking", event_id))
    async with deps.uow() as uow:
        if not await uow.inbox.add(BOOKINGS_CONSUMER, event_id):
            made = await uow.payment_plans.get(plan.id)
            duplicate, saved = True, made
        elif await uow.bookings.lock(plan.booking_id):
            await uow.commit()  # handled: the booking is cancelled, no plan
            return False, None
        else:
            await uow.payment_plans.add(plan)
            await uow.commit()
            duplicate, saved = False, plan
    if saved is None:
        return duplicate, None
    return duplicate, await plans.start(saved)


def is_plan_payment(payment: Payment) -> bool:
    """An installment's payment: its plan's policy decides what a cancellation refunds."""
    return PLAN_METADATA in payment.metadata


async def cancel_booking_plans(
    deps: Dependencies, uow: UnitOfWork, booking_id: UUID, reason: str | None
) -> tuple[list[PaymentPlan], list[Refund]]:
    """Cancel, in ``uow`` (the booking locked), each of the booking's plans that is not final,
    by its policy; the plans and the refunds opened."""
    kept = screen_reason(reason[:500] if isinstance(reason, str) else None)
    cancelled: list[PaymentPlan] = []
    refunds: list[Refund] = []
    page = PageRequest(limit=200)
    listed: Sequence[PaymentPlan] = (
        await uow.payment_plans.list_by_booking(booking_id, page)
    ).items
    for found in listed:
        plan = await uow.payment_plans.get(found.id, for_update=True)
        if plan is None or plan.status not in CANCELLABLE:
            continue
        refunds.extend(await cancel_in(deps, uow, plan, kept))
        cancelled.append(plan)
    return cancelled, refunds

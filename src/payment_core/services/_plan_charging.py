"""Charging a plan's installments: claim, charge, settle; and taking over a claim that ran out.

An attempt is three steps, none of them holding a transaction open while the provider is
asked:

1. claim: under the plan's row lock (and its optimistic version), ``SCHEDULED | FAILED ->
   PROCESSING`` with ``claimed_until``; another worker's claim of the same installment fails
   there and it moves on;
2. charge: a payment made by ``PaymentService.create`` (confirmed at once) under an
   idempotency key derived from the installment and the attempt, so its id is too;
3. settle: the payment's outcome recorded on the installment (``PAID``, ``FAILED`` with its
   retry, or still ``PROCESSING`` while the provider has not answered).

A worker that dies between 1 and 3 leaves the installment ``PROCESSING``. Once its claim runs
out, the plan loop takes it over and runs the same attempt again under the same key: it meets
the payment the first run made (or makes it, if it never was), and the provider sees the same
idempotency key. Never charged twice, never forgotten.
"""

from __future__ import annotations

import logging
from datetime import datetime
from typing import Final
from uuid import UUID

from payment_core.errors import (
    InvalidTransitionError,
    PaymentError,
    ProviderUnavailableError,
)
from payment_core.ids import id_for_request
from payment_core.model.payment import Payment, PaymentStatus
from payment_core.model.plan import (
    Installment,
    InstallmentKind,
    InstallmentStatus,
    PaymentPlan,
    PlanStatus,
)
from payment_core.model.refund import Refund
from payment_core.services._deps import Dependencies
from payment_core.services._plan_reads import PLANS
from payment_core.services._plan_refunds import open_owed_refunds, process_refunds
from payment_core.services._reads import read
from payment_core.services.payments import CreatePayment, PaymentService
from payment_core.services.refunds import RefundService

__all__ = ["attempt_key", "attempt_payment_id", "charge_installment"]

logger = logging.getLogger(__name__)

#: Metadata on an installment's payment: its plan and installment.
PLAN_METADATA: Final = "payment_plan_id"
INSTALLMENT_METADATA: Final = "installment_id"
#: Payment states that are an installment attempt's outcome.
_SETTLED: Final = frozenset(
    {PaymentStatus.COMPLETED, PaymentStatus.FAILED, PaymentStatus.CANCELLED}
)
#: A decline that only the guest can get past: never tried again off-session.
AUTHENTICATION_REQUIRED: Final = "authentication_required"


def attempt_key(installment_id: UUID, attempt: int) -> str:
    """The idempotency key of one attempt at an installment (its payment's id derives from it)."""
    return f"plan-installment-{installment_id}-{attempt}"


def attempt_payment_id(installment_id: UUID, attempt: int) -> UUID:
    """The id of the payment an attempt makes: what ``PaymentService.create`` derives."""
    return id_for_request("payment.create", attempt_key(installment_id, attempt))


def _retry_at(
    deps: Dependencies, plan: PaymentPlan, item: Installment, code: str
) -> datetime | None:
    """When a failed attempt is tried again by the schedule: only an ``ACTIVE`` plan's balance,
    on ``PLAN_RETRY_SCHEDULE_SECONDS``, and never after ``authentication_required``."""
    if plan.status is not PlanStatus.ACTIVE or item.kind is not InstallmentKind.BALANCE:
        return None
    if code == AUTHENTICATION_REQUIRED:
        return None
    schedule = deps.config.plan_retry_schedule
    if item.attempts > len(schedule):
        return None
    return deps.clock.now() + schedule[item.attempts - 1]


class _Claim:
    """What a claim gave: the plan and installment to charge, or nothing to do."""

    def __init__(
        self, plan: PaymentPlan, item: Installment | None, *, resumed: bool = False
    ) -> None:
        self.plan, self.item = plan, item
        #: An attempt taken over after its claim ran out (its payment may exist already).
        self.resumed = resumed


async def _claim(
    deps: Dependencies,
    plan_id: UUID,
    installment_id: UUID,
    *,
    by_schedule: bool,
    request: UUID | None = None,
) -> _Claim:
    async def run() -> _Claim:
        async with deps.uow() as uow:
            plan = await PLANS.require(uow, plan_id, lock=True)
            item = plan.installment(installment_id)
            now = deps.clock.now()
            if (
                request is not None
                and plan.moved_by_request == request
                and item.status not in (InstallmentStatus.SCHEDULED, InstallmentStatus.FAILED)
            ):
                return _Claim(plan, None)  # this very request charged it already
            until = now + deps.config.reconcile_after
            resumed = False
            if item.status is InstallmentStatus.PROCESSING:
                if item.claimed_until is not None and item.claimed_until > now:
                    if by_schedule:
                        return _Claim(plan, None)  # another worker holds it
                    raise InvalidTransitionError(
                        entity="installment",
                        entity_id=item.id,
                        current=item.status.value,
                        requested=InstallmentStatus.PROCESSING.value,
                    )
                # Its claim ran out (a worker died, or the provider has not answered): take
                # it over and run the same attempt again, under the same key.
                item = plan.extend_claim(item.id, until)
                resumed = True
            else:
                if by_schedule and item not in plan.due(now):
                    return _Claim(plan, None)  # moved meanwhile, or not due
                item = plan.begin_charge(
                    item.id,
                    now=now,
                    claim_until=until,
                    payment_id_for=lambda attempt: attempt_payment_id(item.id, attempt),
                    by_schedule=by_schedule,
                    request=request,
                )
            await uow.payment_plans.update(plan)
            await uow.commit()
            return _Claim(plan, item, resumed=resumed)

    return await deps.retrying(run)


def _command(plan: PaymentPlan, item: Installment, payment_method: str | None) -> CreatePayment:
    common = {
        "booking_id": plan.booking_id,
        "guest_id": plan.guest_id,
        "amount": item.amount.amount,
        "currency": plan.currency.code,
        "provider": plan.provider,
        "description": f"Booking {plan.booking_id}: {item.kind.value.lower().replace('_', ' ')}",
        "metadata": {PLAN_METADATA: str(plan.id), INSTALLMENT_METADATA: str(item.id)},
        "confirm": True,
    }
    if payment_method is not None or plan.payment_method_id is None:
        # On-session, with the guest's token: the deposit (which saves the card for what
        # follows), or a payment by hand with a new token.
        return CreatePayment(
            **common,  # type: ignore[arg-type]
            payment_method=payment_method or plan.payment_method,
            setup_future_usage="off_session" if plan.payment_method_id is None else None,
        )
    return CreatePayment(
        **common,  # type: ignore[arg-type]
        payment_method_id=plan.payment_method_id,
        off_session=True,
    )


async def _charge(
    deps: Dependencies,
    payments: PaymentService,
    plan: PaymentPlan,
    item: Installment,
    method: str | None,
    *,
    resumed: bool,
) -> Payment | str | None:
    """The attempt's payment; a failure code when it was refused before any payment was made;
    ``None`` when the outcome is unknown."""
    assert item.payment_id is not None
    # An attempt taken over after its worker died may find its payment made and settled
    # (by reconciliation, or a webhook): then it needs no call to the provider.
    payment_id = item.payment_id
    if resumed:  # a new attempt's payment cannot exist before its claim committed
        made = await read(deps, lambda uow: uow.payments.get(payment_id))
        if made is not None and made.status in _SETTLED:
            return made
    try:
        return await payments.create(
            _command(plan, item, method), idempotency_key=attempt_key(item.id, item.attempts)
        )
    except ProviderUnavailableError as exc:
        logger.warning("installment %s: the provider did not answer: %s", item.id, exc)
        return None
    except PaymentError as exc:
        made = await read(deps, lambda uow: uow.payments.get(payment_id))
        if made is not None:
            return made
        logger.info("installment %s refused before a payment was made: %s", item.id, exc.code)
        return exc.code


async def _settle(
    deps: Dependencies, plan_id: UUID, item_id: UUID, outcome: Payment | str | None
) -> tuple[PaymentPlan, list[Refund]]:
    async def run() -> tuple[PaymentPlan, list[Refund]]:
        async with deps.uow() as uow:
            plan = await PLANS.require(uow, plan_id, lock=True)
            item = plan.installment(item_id)
            if item.status is not InstallmentStatus.PROCESSING or (
                isinstance(outcome, Payment) and item.payment_id != outcome.id
            ):
                return plan, []  # settled by another worker meanwhile
            now = deps.clock.now()
            refunds: list[Refund] = []
            if isinstance(outcome, str):
                plan.record_failed(item.id, outcome, now=now, retry_at=None, new_id=deps.ids.new_id)
            elif outcome is None or outcome.status in (
                PaymentStatus.PENDING,
                PaymentStatus.PROCESSING,
            ):
                plan.extend_claim(item.id, now + deps.config.reconcile_after)
            elif outcome.status is PaymentStatus.COMPLETED:
                if plan.payment_method_id is None and outcome.payment_method_id is not None:
                    plan.payment_method_id = outcome.payment_method_id
                plan.record_paid(item.id, now=now, new_id=deps.ids.new_id)
                refunds = await open_owed_refunds(deps, uow, plan)
            else:
                code = outcome.failure_code or outcome.status.value.lower()
                plan.record_failed(
                    item.id,
                    code,
                    now=now,
                    retry_at=_retry_at(deps, plan, item, code),
                    new_id=deps.ids.new_id,
                )
            await uow.payment_plans.update(plan)
            await uow.commit()
            return plan, refunds

    return await deps.retrying(run)


async def charge_installment(
    deps: Dependencies,
    payments: PaymentService,
    refunds: RefundService,
    plan_id: UUID,
    installment_id: UUID,
    *,
    by_schedule: bool,
    payment_method: str | None = None,
    request: UUID | None = None,
) -> PaymentPlan:
    """Claim, charge and settle one installment; the plan as it is after.

    ``by_schedule``: the background work (an installment due, a retry due, a claim run out;
    nothing when another worker holds it). By hand: a ``SCHEDULED`` or ``FAILED``
    installment now (``InvalidTransitionError`` otherwise), with ``payment_method`` on-session;
    ``request`` (an idempotent request's id) run again finds what it did.
    """
    claim = await _claim(deps, plan_id, installment_id, by_schedule=by_schedule, request=request)
    if claim.item is None:
        return claim.plan
    outcome = await _charge(
        deps, payments, claim.plan, claim.item, payment_method, resumed=claim.resumed
    )
    plan, opened = await _settle(deps, plan_id, installment_id, outcome)
    await process_refunds(refunds, opened)
    return plan

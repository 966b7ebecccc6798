"""The payment plan: one booking paid in installments, and cancelled by its own policy.

Plan: ``ACTIVE -> PAID | CANCELLED | DEFAULTED | NO_SHOW``; a ``PAID`` plan may still be
cancelled or end as a no-show, and a ``DEFAULTED`` one paid by hand is ``PAID`` again (or
``ACTIVE``, when installments are still to come). Installment:
``SCHEDULED -> PROCESSING -> PAID | FAILED``, a ``FAILED`` one tried again
(``FAILED -> PROCESSING``), or ``CANCELLED``.

An installment being charged is ``PROCESSING`` with ``claimed_until``: the worker that moved
it holds it until then (a row lease, taken by the plan's optimistic version), and its charge
is a payment whose id is derived from the installment and the attempt, so that whoever takes
it over after a crash makes the same payment, never a second one.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import date, datetime
from typing import ClassVar, Final
from uuid import UUID

import attrs

from payment_core.errors import InvalidTransitionError, NotFoundError
from payment_core.model._base import check_transition, snapshot
from payment_core.model._cancellation import CancellationDecision, CancellationPolicy
from payment_core.model._installment import Installment
from payment_core.model._plan_status import (
    INSTALLMENT_TRANSITIONS,
    PLAN_TRANSITIONS,
    InstallmentKind,
    InstallmentStatus,
    PlanStatus,
)
from payment_core.money import Currency, Money
from payment_core.plan_errors import InstallmentInProgressError

__all__ = [
    "INSTALLMENT_TRANSITIONS",
    "PLAN_TRANSITIONS",
    "Installment",
    "InstallmentKind",
    "InstallmentStatus",
    "PaymentPlan",
    "PaymentPlanCancelled",
    "PaymentPlanCreated",
    "PaymentPlanDefaulted",
    "PaymentPlanEvent",
    "PaymentPlanInstallmentFailed",
    "PaymentPlanInstallmentPaid",
    "PaymentPlanPaid",
    "PlanStatus",
]


_P = PlanStatus
_I = InstallmentStatus

#: Plan states in which an installment may be charged (by the schedule or by hand).
_CHARGEABLE: Final = frozenset({_P.ACTIVE, _P.DEFAULTED})


# ------------------------------------------------------------------------------ events
# In the aggregate's module: an event carries the plan's snapshot, and the plan records them;
# payment_core.events gathers every event.


@attrs.frozen(slots=True)
class PaymentPlanEvent:
    """Something happened to a plan; ``plan`` is its snapshot at that moment."""

    type: ClassVar[str]
    event_id: UUID
    occurred_at: datetime
    plan: PaymentPlan = attrs.field(repr=False)

    @property
    def stream_id(self) -> UUID:
        """A plan's events are published in commit order."""
        return self.plan.id


@attrs.frozen(slots=True)
class PaymentPlanCreated(PaymentPlanEvent):
    type: ClassVar[str] = "payment_plan.created"


@attrs.frozen(slots=True)
class PaymentPlanInstallmentPaid(PaymentPlanEvent):
    type: ClassVar[str] = "payment_plan.installment_paid"


@attrs.frozen(slots=True)
class PaymentPlanInstallmentFailed(PaymentPlanEvent):
    type: ClassVar[str] = "payment_plan.installment_failed"


@attrs.frozen(slots=True)
class PaymentPlanPaid(PaymentPlanEvent):
    type: ClassVar[str] = "payment_plan.paid"


@attrs.frozen(slots=True)
class PaymentPlanDefaulted(PaymentPlanEvent):
    type: ClassVar[str] = "payment_plan.defaulted"


@attrs.frozen(slots=True)
class PaymentPlanCancelled(PaymentPlanEvent):
    type: ClassVar[str] = "payment_plan.cancelled"


@attrs.define(slots=True, eq=False)
class PaymentPlan:
    """A booking paid in installments, with the policy that decides its cancellation."""

    id: UUID
    booking_id: UUID
    guest_id: UUID
    total_amount: Money
    check_in: date
    time_zone: str
    provider: str
    status: PlanStatus
    installments: tuple[Installment, ...]
    created_at: datetime
    updated_at: datetime
    deposit_bps: int = 10_000
    balance_due_days_before_check_in: int | None = None
    balance_due_at: datetime | None = None
    cancellation_policy: CancellationPolicy | None = None
    #: The token the deposit is charged with (on-session); the card it saves is charged after.
    payment_method: str | None = attrs.field(default=None, repr=False)
    payment_method_id: UUID | None = None
    cancellation: CancellationDecision | None = None
    amount_refunded: int = 0
    #: The idempotent request (:func:`payment_core.ids.id_for_request`) that last moved it by
    #: hand (a cancel, a no-show, a payment now), so that request run again after a crash
    #: finds what it did instead of being refused.
    moved_by_request: UUID | None = None
    version: int = 0
    events: list[PaymentPlanEvent] = attrs.field(factory=list, repr=False)

    # ------------------------------------------------------------------ reading
    @property
    def currency(self) -> Currency:
        return self.total_amount.currency

    @property
    def amount_paid(self) -> int:
        return sum(i.amount.amount for i in self.installments if i.status is _I.PAID)

    def installment(self, installment_id: UUID) -> Installment:
        """The installment with this id; :class:`NotFoundError` when the plan has none."""
        for item in self.installments:
            if item.id == installment_id:
                return item
        raise NotFoundError(entity="installment", key=str(installment_id))

    @property
    def wake_at(self) -> datetime | None:
        """When the background work next has something to do for this plan: charge an
        installment due, try a failed one again, or settle one whose claim ran out."""
        times = [t for t in (self._wake_of(i) for i in self.installments) if t is not None]
        return min(times, default=None)

    def _wake_of(self, item: Installment) -> datetime | None:
        if item.status is _I.PROCESSING:
            return item.claimed_until
        if self.status is _P.ACTIVE and item.status is _I.SCHEDULED:
            return item.due_at
        if self.status is _P.ACTIVE and item.status is _I.FAILED:
            return item.next_attempt_at
        if self.status is _P.NO_SHOW and item.kind is InstallmentKind.NO_SHOW_FEE:
            return item.due_at if item.status is _I.SCHEDULED else None
        return None

    def due(self, now: datetime) -> list[Installment]:
        """Installments the background work should act on at ``now``."""
        return [i for i in self.installments if (t := self._wake_of(i)) is not None and t <= now]

    @property
    def refund_owed(self) -> int:
        """What a cancelled plan still owes back: what was paid beyond what its decision
        retains, less what was refunded already (an installment in flight when the plan was
        cancelled may be paid after it)."""
        if self.cancellation is None:
            return 0
        return max(0, self.amount_paid - self.cancellation.amount_retained - self.amount_refunded)

    # ------------------------------------------------------------------ making
    @classmethod
    def create(
        cls,
        *,
        id: UUID,
        booking_id: UUID,
        guest_id: UUID,
        total_amount: Money,
        check_in: date,
        time_zone: str,
        provider: str,
        installments: tuple[Installment, ...],
        deposit_bps: int,
        balance_due_days_before_check_in: int | None,
        balance_due_at: datetime | None,
        cancellation_policy: CancellationPolicy | None,
        payment_method: str | None,
        now: datetime,
        event_id: UUID,
    ) -> PaymentPlan:
        """A new ``ACTIVE`` plan with its ``payment_plan.created`` event (its schedule is
        made by :func:`payment_core.model._plan_schedule.plan_schedule`)."""
        if sum(i.amount.amount for i in installments) != total_amount.amount:
            raise ValueError("installments must add up to the total")  # a defect, not input
        plan = cls(
            id=id,
            booking_id=booking_id,
            guest_id=guest_id,
            total_amount=total_amount,
            check_in=check_in,
            time_zone=time_zone,
            provider=provider,
            status=PlanStatus.ACTIVE,
            installments=installments,
            created_at=now,
            updated_at=now,
            deposit_bps=deposit_bps,
            balance_due_days_before_check_in=balance_due_days_before_check_in,
            balance_due_at=balance_due_at,
            cancellation_policy=cancellation_policy,
            payment_method=payment_method,
        )
        plan._tell(PaymentPlanCreated, event_id, now)
        return plan

    # ------------------------------------------------------------------ moving
    def _tell(self, kind: type[PaymentPlanEvent], event_id: UUID, now: datetime) -> None:
        self.events.append(kind(event_id=event_id, occurred_at=now, plan=snapshot(self)))

    def _move(self, to: PlanStatus) -> None:
        check_transition(PLAN_TRANSITIONS, "payment_plan", self.id, self.status, to)
        self.status = to

    def _replace(self, item: Installment, **changes: object) -> Installment:
        new_status = changes.get("status")
        if isinstance(new_status, InstallmentStatus) and new_status is not item.status:
            check_transition(
                INSTALLMENT_TRANSITIONS, "installment", item.id, item.status, new_status
            )
        updated = attrs.evolve(item, **changes)  # type: ignore[arg-type]
        self.installments = tuple(updated if i.id == item.id else i for i in self.installments)
        return updated

    def begin_charge(
        self,
        installment_id: UUID,
        *,
        now: datetime,
        claim_until: datetime,
        payment_id_for: Callable[[int], UUID],
        by_schedule: bool,
        request: UUID | None = None,
    ) -> Installment:
        """``SCHEDULED | FAILED -> PROCESSING``: the installment is claimed until
        ``claim_until`` and its attempt's payment id set (``payment_id_for(attempt)``).

        ``by_schedule``: the background work, which charges only an ``ACTIVE`` plan's
        installments that are due (and a no-show's fee); by hand, a ``DEFAULTED`` plan's too.
        """
        item = self.installment(installment_id)
        fee = item.kind is InstallmentKind.NO_SHOW_FEE and self.status is _P.NO_SHOW
        allowed = {_P.ACTIVE} if by_schedule else _CHARGEABLE
        if not fee and self.status not in allowed:
            raise InvalidTransitionError(
                entity="payment_plan",
                entity_id=self.id,
                current=self.status.value,
                requested="charge_installment",
            )
        attempt = item.attempts + 1
        self.updated_at = now
        if request is not None:
            self.moved_by_request = request
        return self._replace(
            item,
            status=_I.PROCESSING,
            attempts=attempt,
            payment_id=payment_id_for(attempt),
            claimed_until=claim_until,
            next_attempt_at=None,
        )

    def extend_claim(self, installment_id: UUID, until: datetime) -> Installment:
        """Keep a ``PROCESSING`` installment whose payment awaits its provider until ``until``."""
        item = self.installment(installment_id)
        return self._replace(item, claimed_until=until)

    def record_paid(
        self, installment_id: UUID, *, now: datetime, new_id: Callable[[], UUID]
    ) -> Installment:
        """``PROCESSING -> PAID``; the plan is ``PAID`` when nothing remains to pay (a
        ``DEFAULTED`` one too, or ``ACTIVE`` again when only scheduled ones remain)."""
        item = self._replace(
            self.installment(installment_id),
            status=_I.PAID,
            paid_at=now,
            claimed_until=None,
            failure_code=None,
        )
        self.updated_at = now
        self._tell(PaymentPlanInstallmentPaid, new_id(), now)
        if self.status in _CHARGEABLE:
            remaining = [i for i in self.installments if i.is_open]
            if not remaining:
                self._move(_P.PAID)
                self._tell(PaymentPlanPaid, new_id(), now)
            elif self.status is _P.DEFAULTED and all(i.status is _I.SCHEDULED for i in remaining):
                self._move(_P.ACTIVE)
        return item

    def record_failed(
        self,
        installment_id: UUID,
        failure_code: str,
        *,
        now: datetime,
        retry_at: datetime | None,
        new_id: Callable[[], UUID],
    ) -> Installment:
        """``PROCESSING -> FAILED``, tried again at ``retry_at``; without one, an ``ACTIVE``
        plan is ``DEFAULTED``."""
        item = self._replace(
            self.installment(installment_id),
            status=_I.FAILED,
            failure_code=failure_code,
            next_attempt_at=retry_at,
            claimed_until=None,
        )
        self.updated_at = now
        self._tell(PaymentPlanInstallmentFailed, new_id(), now)
        if self.status is _P.CANCELLED:
            self._cancel_open()  # in flight when the plan was cancelled: never tried again
        if retry_at is None and self.status is _P.ACTIVE:
            self._move(_P.DEFAULTED)
            self._tell(PaymentPlanDefaulted, new_id(), now)
        return item

    def _cancel_open(self) -> None:
        for item in self.installments:
            if item.status in (_I.SCHEDULED, _I.FAILED):
                self._replace(item, status=_I.CANCELLED, next_attempt_at=None)

    def cancel(
        self,
        decision: CancellationDecision,
        *,
        now: datetime,
        event_id: UUID,
        request: UUID | None = None,
    ) -> None:
        """``-> CANCELLED`` with ``decision``: installments not paid are cancelled (one in
        flight finishes; should it be paid, :attr:`refund_owed` gives it back as decided)."""
        self._move(_P.CANCELLED)
        self.moved_by_request = request
        self._cancel_open()
        self.cancellation = decision
        self.updated_at = now
        self._tell(PaymentPlanCancelled, event_id, now)

    def mark_no_show(
        self, *, fee: Money | None, fee_id: UUID, now: datetime, request: UUID | None = None
    ) -> None:
        """``-> NO_SHOW``: installments not paid are cancelled, and a ``NO_SHOW_FEE``
        installment of ``fee`` (when there is one to charge) is due at once."""
        if any(i.status is _I.PROCESSING for i in self.installments):
            raise InstallmentInProgressError(
                entity="payment_plan", entity_id=self.id, current="PROCESSING", requested="NO_SHOW"
            )
        self._move(_P.NO_SHOW)
        self.moved_by_request = request
        self._cancel_open()
        if fee is not None and fee.is_positive:
            charge = Installment(
                id=fee_id, kind=InstallmentKind.NO_SHOW_FEE, amount=fee, due_at=now
            )
            self.installments = (*self.installments, charge)
        self.updated_at = now

    def note_refunded(self, amount: int, *, now: datetime) -> None:
        """``amount`` was opened as refunds of this plan's payments."""
        self.amount_refunded += amount
        if self.cancellation is not None:
            total = self.amount_refunded
            self.cancellation = attrs.evolve(self.cancellation, amount_refunded=total)
        self.updated_at = now

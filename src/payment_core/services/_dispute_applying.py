"""What a provider's report of a dispute does, inside the caller's transaction: open the
dispute, move it, record the money that moved, or change nothing (shared by webhooks and
reconciliation).

A report acts only on a payment of its own provider, found by the provider's id of it; an
amount it does not state, in another currency, or above what was captured is a mismatch and
changes nothing; a report of a dispute we know must name the same payment and amount. Money
is recorded from the dispute's own flag, so a replayed or repeated report never records it
twice.
"""

from __future__ import annotations

import logging
from typing import Final

from payment_core.model.billing import BillingRecordType
from payment_core.model.dispute import Dispute, DisputeStatus
from payment_core.model.payment import Payment
from payment_core.ports import (
    FundsMovement,
    PlanTermsSource,
    ProviderDispute,
    UnitOfWork,
)
from payment_core.services._deps import Dependencies
from payment_core.services._dispute_evidence import prefilled_evidence
from payment_core.services.billing import append_record

__all__ = ["apply_dispute_report"]

logger = logging.getLogger(__name__)

_CHARGEBACK_TEXT: Final = {
    BillingRecordType.CHARGEBACK: "Chargeback",
    BillingRecordType.CHARGEBACK_REVERSED: "Chargeback reversed",
}


async def apply_dispute_report(
    deps: Dependencies,
    uow: UnitOfWork,
    plan_terms: PlanTermsSource | None,
    provider: str,
    report: ProviderDispute,
) -> str:
    """Apply what ``provider`` reports of a dispute; the outcome, for the webhook's record."""
    known = await uow.disputes.get_by_provider_id(provider, report.provider_dispute_id)
    if known is None:
        return await _open(deps, uow, plan_terms, provider, report)
    # The payment first, then the dispute: the order a refund locks them in too.
    payment = await uow.payments.get(known.payment_id, for_update=True)
    dispute = await uow.disputes.get(known.id, for_update=True)
    assert payment is not None
    assert dispute is not None
    if report.amount is not None and report.amount != dispute.amount:
        return _mismatch(deps, provider, report, "amount")
    if (
        report.provider_payment_id is not None
        and report.provider_payment_id != payment.provider_payment_id
    ) or (report.payment_id is not None and report.payment_id != payment.id):
        return _mismatch(deps, provider, report, "payment")
    changed = dispute.follow(
        report.status,
        inquiry=report.inquiry,
        evidence_due_by=report.evidence_due_by,
        now=deps.clock.now(),
        event_id=deps.ids.new_id(),
    )
    moved = await _move_funds(deps, uow, dispute, payment, report.funds)
    if not (changed or moved):
        return "unchanged"
    await uow.disputes.update(dispute)
    return "dispute_closed" if not dispute.is_open and changed else "dispute_updated"


async def _open(
    deps: Dependencies,
    uow: UnitOfWork,
    plan_terms: PlanTermsSource | None,
    provider: str,
    report: ProviderDispute,
) -> str:
    found = await _payment_of(deps, uow, provider, report)
    if isinstance(found, str):
        return found
    payment = await uow.payments.get(found.id, for_update=True)
    assert payment is not None
    amount = report.amount
    if (
        amount is None
        or amount.currency != payment.amount.currency
        or not 0 < amount.amount <= payment.amount_captured
    ):
        return _mismatch(deps, provider, report, "amount")
    now = deps.clock.now()
    dispute = Dispute.open(
        id=deps.ids.new_id(),
        payment_id=payment.id,
        booking_id=payment.booking_id,
        guest_id=payment.guest_id,
        provider=provider,
        provider_dispute_id=report.provider_dispute_id,
        amount=amount,
        reason=report.reason,
        inquiry=report.inquiry,
        evidence_due_by=report.evidence_due_by,
        evidence=await prefilled_evidence(uow, plan_terms, payment),
        now=now,
        event_id=deps.ids.new_id(),
    )
    dispute.follow(
        report.status,
        inquiry=report.inquiry,
        evidence_due_by=None,
        now=now,
        event_id=deps.ids.new_id(),
    )
    await _move_funds(deps, uow, dispute, payment, report.funds)
    await uow.disputes.add(dispute)
    logger.info("dispute %s opened on payment %s", dispute.id, payment.id)
    return "dispute_opened"


async def _payment_of(
    deps: Dependencies, uow: UnitOfWork, provider: str, report: ProviderDispute
) -> Payment | str:
    """The payment of ``provider`` the report names, or the outcome when none is: by the
    provider's id of it, else by our id as the provider echoes it (only a payment of that
    same provider; another's is a mismatch, counted)."""
    if report.provider_payment_id is not None:
        found = await uow.payments.get_by_provider_id(provider, report.provider_payment_id)
        if found is not None:
            return found
    ours = await uow.payments.get(report.payment_id) if report.payment_id else None
    if ours is None:
        logger.info("dispute %s names no payment of ours", report.provider_dispute_id)
        return "unknown_payment"
    if ours.provider != provider:
        deps.observer.webhook_mismatch(provider, "dispute")
        logger.warning(
            "dispute %s from %s names payment %s of provider %s: ignored",
            report.provider_dispute_id,
            provider,
            ours.id,
            ours.provider,
        )
        return "provider_mismatch"
    return ours


async def _move_funds(
    deps: Dependencies,
    uow: UnitOfWork,
    dispute: Dispute,
    payment: Payment,
    funds: FundsMovement | None,
) -> bool:
    """Record the money the report moved, or that the outcome moves: a lost dispute's money
    is gone even when the provider sent no funds event; a won one's comes back. A closed
    dispute's money moves only its outcome's way, so a replayed older report moves none."""
    now = deps.clock.now()
    if dispute.status is DisputeStatus.LOST:
        withdraw, reinstate = True, False
    elif dispute.status is DisputeStatus.WON:
        withdraw, reinstate = False, True
    else:  # open: what the report says, and an inquiry moves no money
        withdraw = funds is FundsMovement.WITHDRAWN and not dispute.inquiry
        reinstate = funds is FundsMovement.REINSTATED
    kind = None
    if withdraw and dispute.withdraw_funds(now=now):
        kind = BillingRecordType.CHARGEBACK
    elif reinstate and dispute.reinstate_funds(now=now):
        kind = BillingRecordType.CHARGEBACK_REVERSED
    if kind is None:
        return False
    await append_record(
        deps,
        uow,
        type=kind,
        booking_id=payment.booking_id,
        guest_id=payment.guest_id,
        amount=dispute.amount,
        description=f"{_CHARGEBACK_TEXT[kind]} of payment {payment.reference} ({dispute.reason})",
        payment_id=payment.id,
    )
    return True


def _mismatch(deps: Dependencies, provider: str, report: ProviderDispute, what: str) -> str:
    deps.observer.webhook_mismatch(provider, "dispute")
    logger.warning(
        "dispute %s from %s does not match its payment (%s): ignored",
        report.provider_dispute_id,
        provider,
        what,
    )
    return f"{what}_mismatch" if what != "payment" else "provider_id_mismatch"

"""Disputes (chargebacks): reads, the operator's evidence and its one submission, and
reconciliation with the provider.

Disputes are opened and moved only by what their provider says: verified webhooks
(:meth:`DisputeService.apply_report_in`, called by the webhook service in the webhook's
transaction) and the provider's answer when reconciliation asks about an open dispute whose
deadline has passed (:meth:`DisputeService.reconcile`). The operator only adds evidence and
submits it, once, before the deadline: the submission is claimed in a transaction, sent
outside any with a key derived from the dispute's id, and settled in another.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Mapping, Sequence
from datetime import datetime, timedelta
from typing import Final
from uuid import UUID

from payment_core.errors import (
    NotSupportedByProviderError,
    PaymentError,
    ProviderError,
    ProviderUnavailableError,
)
from payment_core.model.dispute import Dispute, DisputeStatus, clean_evidence
from payment_core.model.payment import Payment
from payment_core.pagination import Page, PageRequest
from payment_core.ports import (
    PlanTermsSource,
    ProviderDispute,
    RetrieveDisputeRequest,
    SubmitDisputeEvidenceRequest,
    UnitOfWork,
    WebhookEvent,
    dispute_provider,
)
from payment_core.services._deps import Dependencies
from payment_core.services._dispute_applying import apply_dispute_report
from payment_core.services._reads import PAYMENTS, Aggregate, read

__all__ = ["DISPUTES", "DisputeService"]

logger = logging.getLogger(__name__)

DISPUTES: Final[Aggregate[Dispute]] = Aggregate("dispute", lambda uow: uow.disputes)

#: How often an open dispute past its deadline is asked about again.
RECHECK_EVERY: Final = timedelta(days=1)
#: How soon the provider is asked about a submission whose answer was lost.
ASK_SOON: Final = timedelta(minutes=1)


def submit_key(dispute_id: UUID) -> str:
    """The provider key of a dispute's one submission."""
    return f"dispute-{dispute_id}-submit"


class DisputeService:
    """Disputes of payments, as their providers report them."""

    def __init__(self, deps: Dependencies, plan_terms: PlanTermsSource | None = None) -> None:
        self._deps = deps
        #: Where a booking's plan terms come from, for the evidence (``None``: its plans).
        self.plan_terms: PlanTermsSource | None = plan_terms

    # ------------------------------------------------------------------ reads
    async def get(self, dispute_id: UUID) -> Dispute:
        return await DISPUTES.get(self._deps, dispute_id)

    async def list_by_payment(self, payment_id: UUID, page: PageRequest) -> Page[Dispute]:
        async def query(uow: UnitOfWork) -> Page[Dispute]:
            await PAYMENTS.require(uow, payment_id)
            return await uow.disputes.list_by_payment(payment_id, page)

        return await read(self._deps, query)

    async def list(self, status: DisputeStatus | None, page: PageRequest) -> Page[Dispute]:
        return await read(self._deps, lambda uow: uow.disputes.list_by_status(status, page))

    async def amount_disputed(self, payment_ids: Sequence[UUID]) -> dict[UUID, int]:
        """The amount under open disputes of each payment (those without one are 0)."""
        found = await read(self._deps, lambda uow: uow.disputes.amount_open(payment_ids))
        return {payment_id: found.get(payment_id, 0) for payment_id in payment_ids}

    async def payment(self, payment_id: UUID) -> tuple[Payment, int]:
        """A payment and the amount under its open disputes, read in one unit of work."""

        async def query(uow: UnitOfWork) -> tuple[Payment, int]:
            payment = await PAYMENTS.require(uow, payment_id)
            found = await uow.disputes.amount_open([payment.id])
            return payment, found.get(payment.id, 0)

        return await read(self._deps, query)

    async def booking_payments(
        self, booking_id: UUID, page: PageRequest
    ) -> tuple[Page[Payment], dict[UUID, int]]:
        """A page of a booking's payments and the amount under open disputes of each (those
        without one are 0), read in one unit of work."""

        async def query(uow: UnitOfWork) -> tuple[Page[Payment], dict[UUID, int]]:
            result = await uow.payments.list_by_booking(booking_id, page)
            found = await uow.disputes.amount_open([p.id for p in result.items])
            return result, {p.id: found.get(p.id, 0) for p in result.items}

        return await read(self._deps, query)

    # ------------------------------------------------------------------ the provider's word
    async def apply_report_in(self, uow: UnitOfWork, provider: str, event: WebhookEvent) -> str:
        """Apply a verified webhook's dispute inside the webhook's transaction."""
        if event.dispute is None:
            return "ignored"
        return await apply_dispute_report(self._deps, uow, self.plan_terms, provider, event.dispute)

    async def reconcile(self, limit: int = 100) -> int:
        """Ask the provider about open disputes whose next check has come (their deadline,
        then daily); how many were asked."""
        deps = self._deps
        due = await read(deps, lambda uow: uow.disputes.list_due_for_check(deps.clock.now(), limit))
        asked = 0
        for dispute in due:
            try:
                await self._reconcile_one(dispute)
            except PaymentError as exc:
                logger.warning("dispute %s: the provider did not answer (%s)", dispute.id, exc)
            asked += 1
        return asked

    async def _reconcile_one(self, dispute: Dispute) -> None:
        deps = self._deps
        provider = deps.providers.get(dispute.provider)
        answering = dispute_provider(provider)
        report: ProviderDispute | None = None
        if answering is not None:
            request = RetrieveDisputeRequest(
                dispute_id=dispute.id,
                provider_dispute_id=dispute.provider_dispute_id,
                amount=dispute.amount,
            )
            report = await deps.call_provider(
                provider, "retrieve_dispute", lambda: answering.retrieve_dispute(request)
            )

        async def run() -> None:
            async with deps.uow() as uow:
                if report is not None:
                    await apply_dispute_report(deps, uow, self.plan_terms, dispute.provider, report)
                current = await DISPUTES.require(uow, dispute.id, lock=True)
                if current.evidence_submitting and current.status is DisputeStatus.NEEDS_RESPONSE:
                    # The provider still waits for evidence: our submission never arrived.
                    current.abandon_submission(now=deps.clock.now())
                current.checked(next_check_at=deps.clock.now() + RECHECK_EVERY)
                await uow.disputes.update(current)
                await uow.commit()

        await deps.retrying(run)

    # ------------------------------------------------------------------ evidence
    async def add_evidence(
        self, dispute_id: UUID, evidence: Mapping[str, object], *, submit: bool = False
    ) -> Dispute:
        """Merge the operator's evidence into what the dispute has; with ``submit`` send it
        all to the provider, once (``UNDER_REVIEW`` then). After a submission, or past the
        deadline, ``DisputeEvidenceClosedError``."""
        deps = self._deps
        fields = clean_evidence(evidence)

        async def merge() -> Dispute:
            async with deps.uow() as uow:
                dispute = await DISPUTES.require(uow, dispute_id, lock=True)
                now = deps.clock.now()
                dispute.merge_evidence(fields, now=now)
                if submit:
                    answering = dispute_provider(deps.providers.get(dispute.provider))
                    if answering is None:
                        raise NotSupportedByProviderError.of(dispute.provider, "dispute evidence")
                    dispute.start_submission(now=now)
                await uow.disputes.update(dispute)
                await uow.commit()
                return dispute

        dispute = await deps.retrying(merge)
        if not submit:
            return dispute
        return await self._submit(dispute)

    async def _submit(self, dispute: Dispute) -> Dispute:
        deps = self._deps
        provider = deps.providers.get(dispute.provider)
        answering = dispute_provider(provider)
        assert answering is not None
        request = SubmitDisputeEvidenceRequest(
            dispute_id=dispute.id,
            provider_dispute_id=dispute.provider_dispute_id,
            amount=dispute.amount,
            evidence=dict(dispute.evidence),
            idempotency_key=submit_key(dispute.id),
        )
        try:
            reply = await deps.call_provider(
                provider,
                "submit_dispute_evidence",
                lambda: answering.submit_dispute_evidence(request),
            )
        except ProviderUnavailableError:
            # No answer: it may have arrived. The claim stays (never guessed either way) and
            # the provider is asked soon; its word settles it or frees it for another try.
            logger.warning("dispute %s: evidence submission got no answer", dispute.id)
            await self._claim_in_doubt(dispute.id)
            raise
        except ProviderError:
            # Refused: nothing was taken; the evidence may be corrected and submitted again.
            await self._release_claim(dispute.id)
            raise

        async def settle() -> Dispute:
            async with deps.uow() as uow:
                # The payment first, then the dispute: the order every dispute change takes.
                await uow.payments.get(dispute.payment_id, for_update=True)
                current = await DISPUTES.require(uow, dispute.id, lock=True)
                now = deps.clock.now()
                current.submitted(now=now, event_id=deps.ids.new_id())
                await uow.disputes.update(current)
                await apply_dispute_report(deps, uow, self.plan_terms, current.provider, reply)
                await uow.commit()
            return await DISPUTES.get(deps, dispute.id)

        return await deps.retrying(settle)

    async def _release_claim(self, dispute_id: UUID) -> None:
        await self._change(dispute_id, lambda d, now: d.abandon_submission(now=now))

    async def _claim_in_doubt(self, dispute_id: UUID) -> None:
        await self._change(dispute_id, lambda d, now: d.checked(next_check_at=now + ASK_SOON))

    async def _change(self, dispute_id: UUID, change: Callable[[Dispute, datetime], None]) -> None:
        deps = self._deps

        async def run() -> None:
            async with deps.uow() as uow:
                current = await DISPUTES.require(uow, dispute_id, lock=True)
                change(current, deps.clock.now())
                await uow.disputes.update(current)
                await uow.commit()

        await deps.retrying(run)

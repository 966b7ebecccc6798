"""The fake provider's disputes, as Stripe's test mode makes them.

A payment confirmed with ``pm_card_createDispute`` completes, then the provider opens a
dispute for the whole amount (reason ``fraudulent``) and withdraws the funds: the events
``charge.dispute.created`` and ``charge.dispute.funds_withdrawn`` are sent ``dispute_delay``
later. Evidence whose ``uncategorized_text`` holds ``winning_evidence`` closes it ``won`` (and
the funds come back), ``losing_evidence`` closes it ``lost``, again ``dispute_delay`` after the
submission; any other evidence leaves it ``under_review``.

Its events are signed deliveries in Stripe's shape, handed to ``webhook_sink`` (the service's
own webhook endpoint, so the whole verified path runs): by a timer on the running event loop
once :meth:`FakeDisputes.deliver_webhooks_to` is called (the served process), or when
:meth:`FakeDisputes.deliver_due_webhooks` is awaited (tests, on the harness's clock).
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable, Mapping
from datetime import datetime, timedelta
from typing import Any, Final

import attrs

from payment_core.dispute_events import dispute_from_object
from payment_core.errors import ProviderRejectedError
from payment_core.money import Money
from payment_core.ports import (
    ProviderDispute,
    RetrieveDisputeRequest,
    SubmitDisputeEvidenceRequest,
)
from payment_core.testing._fake_state import Intent

__all__ = ["DEFAULT_DISPUTE_DELAY", "EVIDENCE_WINDOW", "FakeDisputes", "WebhookSink"]

logger = logging.getLogger(__name__)

#: How long after the cause the fake's dispute events are sent ("within a few seconds").
DEFAULT_DISPUTE_DELAY: Final = timedelta(seconds=2)
#: How long a dispute takes evidence (Stripe gives 7 to 21 days).
EVIDENCE_WINDOW: Final = timedelta(days=7)

WebhookSink = Callable[[bytes, Mapping[str, str]], Awaitable[object]]


@attrs.define(slots=True)
class _Dispute:
    id: str
    intent_id: str
    amount: Money
    reason: str
    status: str
    created: datetime
    due_by: datetime
    submit_key: str | None = None
    #: The answer given under ``submit_key`` (a retry under it gets the same).
    answer: ProviderDispute | None = None
    evidence: dict[str, str] = attrs.field(factory=dict)


@attrs.frozen(slots=True)
class _Outgoing:
    due_at: datetime
    event_type: str
    obj: Mapping[str, Any]
    event_id: str


class FakeDisputes:
    """Disputes of the fake provider (a part of ``FakeProvider``)."""

    _name: str
    _now: Callable[[], datetime]
    _call: Callable[..., Any]
    build_webhook: Callable[..., tuple[bytes, dict[str, str]]]

    def _init_disputes(self, delay: timedelta) -> None:
        self.dispute_delay = delay
        self._disputes: dict[str, _Dispute] = {}
        self._outgoing: list[_Outgoing] = []
        self._sent = 0
        self.webhook_sink: WebhookSink | None = None
        self._timers = False
        self._tasks: set[asyncio.Task[int]] = set()

    # ------------------------------------------------------------------ delivery
    def deliver_webhooks_to(self, sink: WebhookSink) -> None:
        """Send its events to ``sink`` by themselves, each when it is due (the served
        process: ``sink`` is the service's webhook endpoint)."""
        self.webhook_sink = sink
        self._timers = True

    async def deliver_due_webhooks(self) -> int:
        """Send the events that are due now to ``webhook_sink``; how many were sent."""
        sink, now = self.webhook_sink, self._now()
        due = [o for o in self._outgoing if o.due_at <= now]
        if sink is None or not due:
            return 0
        self._outgoing = [o for o in self._outgoing if o.due_at > now]
        for outgoing in due:
            body, headers = self.build_webhook(
                outgoing.event_type, outgoing.obj, event_id=outgoing.event_id, now=self._now()
            )
            try:
                await sink(body, headers)
            except Exception:  # a real provider retries a failed delivery later
                logger.warning("fake provider: a %s delivery failed", outgoing.event_type)
                self._outgoing.append(attrs.evolve(outgoing, due_at=now + self.dispute_delay))
        return len(due)

    def pending_webhooks(self) -> list[tuple[datetime, str]]:
        """The events waiting to be sent: when, and their type."""
        return [(o.due_at, o.event_type) for o in self._outgoing]

    def _send(self, dispute: _Dispute, *event_types: str) -> None:
        due_at = self._now() + self.dispute_delay
        for event_type in event_types:
            self._sent += 1
            event_id = f"evt_{dispute.id}_{self._sent}"
            self._outgoing.append(
                _Outgoing(due_at, event_type, self._dispute_object(dispute), event_id)
            )
        if self._timers:
            self._arm_timer()

    def _arm_timer(self) -> None:
        try:
            loop = asyncio.get_running_loop()
        except RuntimeError:
            return
        delay = self.dispute_delay.total_seconds() + 0.05

        def fire() -> None:
            task = loop.create_task(self.deliver_due_webhooks())
            self._tasks.add(task)
            task.add_done_callback(self._tasks.discard)

        loop.call_later(delay, fire)

    # ------------------------------------------------------------------ disputes
    def open_dispute(
        self, provider_payment_id: str, *, reason: str = "fraudulent", inquiry: bool = False
    ) -> str:
        """Open a dispute of a known payment for its whole amount; its id. Its events are
        sent ``dispute_delay`` later (an inquiry's: no funds move)."""
        intents: dict[str, Intent] = self._intents  # type: ignore[attr-defined]
        intent = intents[provider_payment_id]
        now = self._now()
        dispute = _Dispute(
            id=f"dp_fake_{intent.id.removeprefix('pi_fake_')}_{len(self._disputes) + 1}",
            intent_id=intent.id,
            amount=Money(intent.amount_received or intent.amount.amount, intent.amount.currency),
            reason=reason,
            status="warning_needs_response" if inquiry else "needs_response",
            created=now,
            due_by=now + EVIDENCE_WINDOW,
        )
        self._disputes[dispute.id] = dispute
        if inquiry:
            self._send(dispute, "charge.dispute.created")
        else:
            self._send(dispute, "charge.dispute.created", "charge.dispute.funds_withdrawn")
        return dispute.id

    def _dispute_object(self, dispute: _Dispute) -> dict[str, Any]:
        return {
            "id": dispute.id,
            "object": "dispute",
            "amount": dispute.amount.amount,
            "currency": dispute.amount.currency.code.lower(),
            "payment_intent": dispute.intent_id,
            "reason": dispute.reason,
            "status": dispute.status,
            "evidence_details": {
                "due_by": int(dispute.due_by.timestamp()),
                "has_evidence": bool(dispute.evidence),
                "submission_count": int(dispute.submit_key is not None),
            },
            "created": int(dispute.created.timestamp()),
        }

    def _report(self, dispute: _Dispute) -> ProviderDispute:
        report = dispute_from_object(self._dispute_object(dispute))
        assert report is not None
        return report

    def _known(self, provider_dispute_id: str) -> _Dispute:
        dispute = self._disputes.get(provider_dispute_id)
        if dispute is None:
            raise ProviderRejectedError(reason_code="resource_missing", message="No such dispute.")
        return dispute

    async def submit_dispute_evidence(
        self, request: SubmitDisputeEvidenceRequest
    ) -> ProviderDispute:
        reply: ProviderDispute = self._call(
            "submit_dispute_evidence", request.idempotency_key, lambda: self._submit(request)
        )
        return reply

    def _submit(self, request: SubmitDisputeEvidenceRequest) -> ProviderDispute:
        dispute = self._known(request.provider_dispute_id)
        if dispute.submit_key == request.idempotency_key and dispute.answer is not None:
            return dispute.answer  # a retry with the same key: the same answer
        if dispute.status not in ("needs_response", "warning_needs_response"):
            raise ProviderRejectedError(
                reason_code="dispute_already_submitted",
                message="This dispute takes no more evidence.",
            )
        dispute.submit_key = request.idempotency_key
        dispute.evidence = dict(request.evidence)
        inquiry = dispute.status.startswith("warning_")
        under_review = "warning_under_review" if inquiry else "under_review"
        text = dispute.evidence.get("uncategorized_text", "")
        if "winning_evidence" in text:
            dispute.status = "warning_closed" if inquiry else "won"
            funds = () if inquiry else ("charge.dispute.funds_reinstated",)
            self._send(dispute, "charge.dispute.closed", *funds)
        elif "losing_evidence" in text:
            dispute.status = "lost"
            self._send(dispute, "charge.dispute.closed")
        else:
            dispute.status = under_review
        # The answer is what Stripe answers at once (under review); the outcome follows by
        # webhook.
        answer = dispute_from_object({**self._dispute_object(dispute), "status": under_review})
        assert answer is not None
        dispute.answer = answer
        return answer

    async def retrieve_dispute(self, request: RetrieveDisputeRequest) -> ProviderDispute:
        reply: ProviderDispute = self._call(
            "retrieve_dispute",
            request.idempotency_key,
            lambda: self._report(self._known(request.provider_dispute_id)),
        )
        return reply

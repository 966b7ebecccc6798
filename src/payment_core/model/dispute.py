"""A dispute (chargeback): the guest's bank takes a payment back until the merchant shows why
it should not.

States: ``NEEDS_RESPONSE -> UNDER_REVIEW -> WON | LOST``; ``NEEDS_RESPONSE -> WON | LOST``
(closed before any answer: accepted, withdrawn by the guest, or past its deadline). The
providers' earlier stages map onto these (see ``docs/disputes.md``):

- an *inquiry* (Stripe ``warning_needs_response`` / ``warning_under_review``, PayPal stage
  ``INQUIRY``, Square ``INQUIRY_EVIDENCE_REQUIRED`` / ``INQUIRY_PROCESSING``) is
  ``NEEDS_RESPONSE`` or ``UNDER_REVIEW`` with ``inquiry`` set: it has a deadline and takes
  evidence, but no money has moved. An inquiry closed in our favour (``warning_closed``,
  ``INQUIRY_CLOSED``) is ``WON``; one that escalates into a chargeback goes back to
  ``NEEDS_RESPONSE``, not an inquiry any more, and takes evidence again. That is the only
  move back; nothing else ever moves a dispute backwards, and a closed one never changes.

It is created and moved only by what its provider says (verified webhooks, or reconciliation
asking the provider); the operator adds evidence and submits it once. Funds are tracked apart
from the state: ``funds_withdrawn`` says the disputed amount is out of our balance now, so a
``CHARGEBACK`` billing record is written once when it leaves and a ``CHARGEBACK_REVERSED``
once when it comes back, whatever order the provider's events arrive in.
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import datetime
from enum import StrEnum
from typing import Any, ClassVar, Final
from uuid import UUID

import attrs

from payment_core.dispute_errors import DisputeEvidenceClosedError
from payment_core.errors import ValidationError
from payment_core.model._base import check_transition, snapshot
from payment_core.money import Money
from payment_core.outside_text import screen_text

__all__ = [
    "DISPUTE_TRANSITIONS",
    "EVIDENCE_FIELDS",
    "MAX_EVIDENCE_TEXT",
    "Dispute",
    "DisputeClosed",
    "DisputeCreated",
    "DisputeEvent",
    "DisputeStatus",
    "clean_evidence",
]


class DisputeStatus(StrEnum):
    NEEDS_RESPONSE = "NEEDS_RESPONSE"
    UNDER_REVIEW = "UNDER_REVIEW"
    WON = "WON"
    LOST = "LOST"


_OPEN: Final = frozenset({DisputeStatus.NEEDS_RESPONSE, DisputeStatus.UNDER_REVIEW})
_CLOSED: Final = frozenset({DisputeStatus.WON, DisputeStatus.LOST})

DISPUTE_TRANSITIONS: Final[Mapping[DisputeStatus, frozenset[DisputeStatus]]] = {
    DisputeStatus.NEEDS_RESPONSE: frozenset(
        {DisputeStatus.UNDER_REVIEW, DisputeStatus.WON, DisputeStatus.LOST}
    ),
    # Back to NEEDS_RESPONSE only when an inquiry escalates into a chargeback.
    DisputeStatus.UNDER_REVIEW: frozenset(
        {DisputeStatus.NEEDS_RESPONSE, DisputeStatus.WON, DisputeStatus.LOST}
    ),
    DisputeStatus.WON: frozenset(),
    DisputeStatus.LOST: frozenset(),
}

#: The evidence a dispute takes, all text (files are not taken). The names are Stripe's where
#: Stripe has a text field of that meaning; each provider adapter maps them onto its own.
EVIDENCE_FIELDS: Final = frozenset(
    {
        "service_date",
        "cancellation_policy",
        "receipt",
        "customer_email_address",
        "customer_name",
        "billing_address",
        "product_description",
        "cancellation_rebuttal",
        "refund_refusal_explanation",
        "uncategorized_text",
    }
)
#: The longest text kept per field (Stripe takes 20,000; PayPal's notes 2,000; Square's
#: pieces 500, which its adapter splits into).
MAX_EVIDENCE_TEXT: Final = 4000


def clean_evidence(fields: Mapping[str, object]) -> dict[str, str | None]:
    """``fields`` checked and screened: known names only, each text (screened for card
    numbers, as all outside text is) or ``None`` (which removes the field)."""
    cleaned: dict[str, str | None] = {}
    for name, value in fields.items():
        if name not in EVIDENCE_FIELDS:
            raise ValidationError(field=f"evidence.{name[:40]}", reason="not an evidence field")
        if value is None:
            cleaned[name] = None
            continue
        if not isinstance(value, str):
            raise ValidationError(field=f"evidence.{name}", reason="must be text or null")
        if len(value) > MAX_EVIDENCE_TEXT:
            raise ValidationError(
                field=f"evidence.{name}", reason=f"at most {MAX_EVIDENCE_TEXT} characters"
            )
        cleaned[name] = screen_text(value, limit=MAX_EVIDENCE_TEXT)
    return cleaned


@attrs.define(slots=True, eq=False)
class Dispute:
    """One dispute of one payment, as its provider reports it."""

    id: UUID
    payment_id: UUID
    booking_id: UUID
    guest_id: UUID
    provider: str
    provider_dispute_id: str
    amount: Money
    reason: str
    status: DisputeStatus
    created_at: datetime
    updated_at: datetime
    evidence_due_by: datetime | None = None
    #: An inquiry (a warning before a chargeback): a deadline, but no money moved.
    inquiry: bool = False
    evidence: dict[str, str] = attrs.field(factory=dict)
    evidence_submitted_at: datetime | None = None
    #: A submission is at the provider now (marked in the transaction that claims it).
    evidence_submitting: bool = False
    #: The disputed amount is out of our balance now (a ``CHARGEBACK`` was recorded).
    funds_withdrawn: bool = False
    #: When the provider is next asked how it stands (its deadline, then daily).
    next_check_at: datetime | None = None
    closed_at: datetime | None = None
    version: int = 0
    events: list[Any] = attrs.field(factory=list, repr=False)

    @classmethod
    def open(
        cls,
        *,
        id: UUID,
        payment_id: UUID,
        booking_id: UUID,
        guest_id: UUID,
        provider: str,
        provider_dispute_id: str,
        amount: Money,
        reason: str,
        inquiry: bool,
        evidence_due_by: datetime | None,
        evidence: Mapping[str, str],
        now: datetime,
        event_id: UUID,
    ) -> Dispute:
        """A dispute as its provider first reports it (``dispute.created``), with the
        evidence the service prefilled, ``NEEDS_RESPONSE``; :meth:`follow` then takes the
        state it is reported in, when another."""
        dispute = cls(
            id=id,
            payment_id=payment_id,
            booking_id=booking_id,
            guest_id=guest_id,
            provider=provider,
            provider_dispute_id=provider_dispute_id,
            amount=amount,
            reason=reason,
            status=DisputeStatus.NEEDS_RESPONSE,
            created_at=now,
            updated_at=now,
            evidence_due_by=evidence_due_by,
            inquiry=inquiry,
            evidence=dict(evidence),
            next_check_at=evidence_due_by,
        )
        dispute.events.append(DisputeCreated(event_id, now, snapshot(dispute)))
        return dispute

    # ------------------------------------------------------------------ queries
    @property
    def is_open(self) -> bool:
        return self.status in _OPEN

    def past_due(self, now: datetime) -> bool:
        return self.evidence_due_by is not None and now >= self.evidence_due_by

    # ------------------------------------------------------------------ the provider's word
    def follow(
        self,
        status: DisputeStatus,
        *,
        inquiry: bool,
        evidence_due_by: datetime | None,
        now: datetime,
        event_id: UUID,
    ) -> bool:
        """Take the state the provider reports; ``False`` when nothing changes.

        A closed dispute never changes; an open one never moves back, except an inquiry
        that escalates into a chargeback (which takes evidence again).
        """
        if not self.is_open:
            return False
        changed = False
        escalates = self.inquiry and not inquiry
        if escalates:
            self.inquiry = False
            self.evidence_submitted_at = None
            changed = True
        if (
            evidence_due_by is not None
            and evidence_due_by != self.evidence_due_by
            and (escalates or self.evidence_submitted_at is None)
        ):
            self.evidence_due_by = evidence_due_by
            self.next_check_at = evidence_due_by
            changed = True
        target = status
        if (
            status is DisputeStatus.NEEDS_RESPONSE
            and self.status is DisputeStatus.UNDER_REVIEW
            and not escalates
        ):
            target = self.status  # a late or replayed report: never backwards
        if target is not self.status:
            check_transition(DISPUTE_TRANSITIONS, "dispute", self.id, self.status, target)
            self.status = target
            changed = True
            if target is DisputeStatus.UNDER_REVIEW and self.evidence_submitting:
                # Our submission reached the provider, though its answer did not reach us.
                self.evidence_submitting = False
                self.evidence_submitted_at = now
            if target in _CLOSED:
                self.closed_at = now
                self.next_check_at = None
                self.evidence_submitting = False
        if changed:
            self.updated_at = now
            if self.status in _CLOSED:
                self.events.append(DisputeClosed(event_id, now, snapshot(self)))
        return changed

    def checked(self, *, next_check_at: datetime) -> None:
        """The provider was asked; ask again at ``next_check_at``."""
        self.next_check_at = next_check_at if self.is_open else None

    def withdraw_funds(self, *, now: datetime) -> bool:
        """The disputed amount left our balance; ``False`` when it was out already."""
        if self.funds_withdrawn:
            return False
        self.funds_withdrawn = True
        self.updated_at = now
        return True

    def reinstate_funds(self, *, now: datetime) -> bool:
        """The disputed amount came back; ``False`` when it was not out."""
        if not self.funds_withdrawn:
            return False
        self.funds_withdrawn = False
        self.updated_at = now
        return True

    # ------------------------------------------------------------------ evidence
    def require_evidence_open(self, now: datetime) -> None:
        """Raise :class:`DisputeEvidenceClosedError` unless evidence may be added now."""
        reason = None
        if not self.is_open:
            reason = "closed"
        elif self.evidence_submitted_at is not None:
            reason = "submitted"
        elif self.evidence_submitting:
            reason = "submitting"
        elif self.past_due(now):
            reason = "past_due"
        if reason is not None:
            raise DisputeEvidenceClosedError(dispute_id=self.id, reason=reason)

    def merge_evidence(self, fields: Mapping[str, str | None], *, now: datetime) -> None:
        """Merge checked fields (:func:`clean_evidence`) into the evidence; ``None`` removes."""
        self.require_evidence_open(now)
        for name, value in fields.items():
            if value is None:
                self.evidence.pop(name, None)
            else:
                self.evidence[name] = value
        self.updated_at = now

    def start_submission(self, *, now: datetime) -> None:
        """Claim the one submission (before the provider is asked)."""
        self.require_evidence_open(now)
        self.evidence_submitting = True
        self.updated_at = now

    def abandon_submission(self, *, now: datetime) -> None:
        """The provider refused it: the evidence may be changed and submitted again."""
        self.evidence_submitting = False
        self.updated_at = now

    def submitted(self, *, now: datetime, event_id: UUID) -> None:
        """The provider took the evidence: ``UNDER_REVIEW`` (unless it closed meanwhile)."""
        self.evidence_submitting = False
        self.evidence_submitted_at = now
        self.updated_at = now
        if self.status is DisputeStatus.NEEDS_RESPONSE:
            self.follow(
                DisputeStatus.UNDER_REVIEW,
                inquiry=self.inquiry,
                evidence_due_by=None,
                now=now,
                event_id=event_id,
            )


@attrs.frozen(slots=True)
class DisputeEvent:
    """Something happened to a dispute; ``dispute`` is its snapshot at that moment."""

    type: ClassVar[str]
    event_id: UUID
    occurred_at: datetime
    dispute: Dispute = attrs.field(repr=False)

    @property
    def stream_id(self) -> UUID:
        # A dispute is part of its payment's story: published in order with it.
        return self.dispute.payment_id


@attrs.frozen(slots=True)
class DisputeCreated(DisputeEvent):
    type: ClassVar[str] = "dispute.created"


@attrs.frozen(slots=True)
class DisputeClosed(DisputeEvent):
    type: ClassVar[str] = "dispute.closed"

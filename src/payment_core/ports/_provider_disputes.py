"""Disputes at a provider: a dispute as its webhooks and replies report it, and the requests
that answer one (re-exported by :mod:`payment_core.ports.providers`).

Answering disputes is a port of its own, :class:`DisputeProvider`, beside
:class:`~payment_core.ports.providers.PaymentProvider`: a provider adapter that cannot answer
disputes simply lacks it, and the core refuses the answer (``not_supported_by_provider``).
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import datetime
from enum import StrEnum
from typing import Protocol, runtime_checkable
from uuid import UUID

import attrs

from payment_core.model.dispute import DisputeStatus
from payment_core.money import Money
from payment_core.outside_text import screen_code

__all__ = [
    "DisputeProvider",
    "FundsMovement",
    "ProviderDispute",
    "RetrieveDisputeRequest",
    "SubmitDisputeEvidenceRequest",
    "dispute_provider",
]


class FundsMovement(StrEnum):
    """Money a provider reports moved for a dispute."""

    #: The disputed amount left our balance (Stripe ``funds_withdrawn``, a PayPal ``DEBIT``,
    #: a Square chargeback's creation).
    WITHDRAWN = "withdrawn"
    #: It came back (Stripe ``funds_reinstated``, a PayPal ``CREDIT``, Square ``WON`` after a
    #: chargeback).
    REINSTATED = "reinstated"


def _dispute_id(value: object) -> str:
    code = screen_code(value, limit=255)
    if code is None:
        raise ValueError("a provider dispute id is a code")
    return code


def _reason(value: object) -> str:
    return (screen_code(value) or "general").lower()


@attrs.frozen(slots=True)
class ProviderDispute:
    """A dispute as a provider reports it, its states mapped onto ours."""

    provider_dispute_id: str = attrs.field(converter=_dispute_id)
    status: DisputeStatus
    #: The provider's id of the disputed payment (how it finds ours).
    provider_payment_id: str | None = None
    #: Our payment id as the provider echoes it back (PayPal's ``custom``), for a provider
    #: whose dispute names another object than the one we keep the id of (PayPal names the
    #: capture, we keep the order): it finds only a payment of that same provider.
    payment_id: UUID | None = None
    #: ``None`` when the report does not say (a mismatch: it opens nothing).
    amount: Money | None = None
    reason: str = attrs.field(default="general", converter=_reason)
    inquiry: bool = False
    evidence_due_by: datetime | None = None
    funds: FundsMovement | None = None


@attrs.frozen(slots=True)
class SubmitDisputeEvidenceRequest:
    """Send the evidence, once, and submit it (the key is derived from our dispute id)."""

    dispute_id: UUID
    provider_dispute_id: str
    amount: Money
    evidence: Mapping[str, str]
    idempotency_key: str


@attrs.frozen(slots=True)
class RetrieveDisputeRequest:
    """Where a dispute stands now."""

    dispute_id: UUID
    provider_dispute_id: str
    amount: Money
    idempotency_key: str | None = None


@runtime_checkable
class DisputeProvider(Protocol):
    """A provider that answers disputes."""

    async def submit_dispute_evidence(
        self, request: SubmitDisputeEvidenceRequest
    ) -> ProviderDispute:
        """Send the evidence and submit it; the dispute as the provider leaves it."""
        ...

    async def retrieve_dispute(self, request: RetrieveDisputeRequest) -> ProviderDispute:
        """Where the dispute stands now."""
        ...


def dispute_provider(provider: object) -> DisputeProvider | None:
    """``provider`` as a :class:`DisputeProvider`, or ``None`` when it answers no disputes."""
    return provider if isinstance(provider, DisputeProvider) else None

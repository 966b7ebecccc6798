"""Storage and sources of disputes (re-exported by :mod:`payment_core.ports`): the dispute
repository, and where a booking's plan terms come from for the evidence."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import date, datetime
from typing import Protocol
from uuid import UUID

import attrs

from payment_core.model.dispute import Dispute, DisputeStatus
from payment_core.pagination import Page, PageRequest

__all__ = ["DisputeRepository", "NoPlanTerms", "PlanTerms", "PlanTermsSource"]


class DisputeRepository(Protocol):
    """Disputes; ``update`` is optimistic. One dispute per ``(provider, provider_dispute_id)``
    (``add`` of a second raises ``ConcurrencyError``)."""

    async def add(self, dispute: Dispute) -> None:
        """Insert a new dispute."""
        ...

    async def get(self, dispute_id: UUID, *, for_update: bool = False) -> Dispute | None:
        """The dispute, locked until commit when ``for_update``."""
        ...

    async def get_by_provider_id(self, provider: str, provider_dispute_id: str) -> Dispute | None:
        """The dispute the provider knows by this id."""
        ...

    async def update(self, dispute: Dispute) -> None:
        """Save changes; raise ``ConcurrencyError`` on a stale version."""
        ...

    async def list_by_payment(self, payment_id: UUID, page: PageRequest) -> Page[Dispute]:
        """A payment's disputes, oldest first."""
        ...

    async def list_by_status(
        self, status: DisputeStatus | None, page: PageRequest
    ) -> Page[Dispute]:
        """Disputes in ``status`` (every one with ``None``), oldest first."""
        ...

    async def amount_open(self, payment_ids: Sequence[UUID]) -> dict[UUID, int]:
        """The amount under open disputes per payment (payments without one are left out)."""
        ...

    async def list_due_for_check(self, now: datetime, limit: int) -> Sequence[Dispute]:
        """Open disputes whose ``next_check_at`` has come, soonest first."""
        ...


@attrs.frozen(slots=True)
class PlanTerms:
    """What a booking's payment plan says that a dispute's evidence can use."""

    #: The check-in (``service_date``).
    service_date: date | None = None
    #: The cancellation policy, in words.
    cancellation_policy: str | None = None


class PlanTermsSource(Protocol):
    """Where a booking's plan terms come from, for the evidence of its disputes."""

    async def terms_for(self, booking_id: UUID) -> PlanTerms | None:
        """The booking's plan terms, or ``None`` when it has no plan."""
        ...


class NoPlanTerms:
    """No plans: the evidence is prefilled from invoices alone."""

    async def terms_for(self, booking_id: UUID) -> PlanTerms | None:
        return None

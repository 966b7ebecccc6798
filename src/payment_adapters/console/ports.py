"""The console's two storage protocols: what its pages read, and where its sessions live.

Lists are keyset pages in *newest first* order: ``PageRequest.after`` (the API's own
:class:`~payment_core.pagination.Cursor`) names the last row of the previous page, and the
next page is what is strictly older. Every one is backed by an index (revision 0006).
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from typing import Protocol
from uuid import UUID

from payment_adapters.console.model import (
    DailyDisputes,
    DailyPayments,
    DailyRefunds,
    OutboxBacklog,
    PaymentFilter,
    PaymentSummary,
    RefundSummary,
    SessionRecord,
    StreamEvent,
    WebhookSummary,
)
from payment_adapters.console.plans import PlanSummary
from payment_core.pagination import Page, PageRequest

__all__ = ["ConsoleQueries", "SessionStore"]


class ConsoleQueries(Protocol):
    """The reads of the console's pages."""

    async def search_payments(
        self, where: PaymentFilter, page: PageRequest
    ) -> Page[PaymentSummary]:
        """Payments matching every field of ``where``, newest first."""
        ...

    async def flagged_payments(self, attempts_over: int, limit: int) -> Sequence[PaymentSummary]:
        """``PROCESSING`` payments that reconciliation could not settle after
        ``attempts_over`` asks, or whose provider reply did not match; oldest first."""
        ...

    async def failed_refunds(self, page: PageRequest) -> Page[RefundSummary]:
        """``FAILED`` refunds, newest first."""
        ...

    async def retrying_refunds(self, limit: int) -> Sequence[RefundSummary]:
        """``PENDING`` refunds whose last attempt failed and that wait for their next one,
        soonest due first."""
        ...

    async def defaulted_plans(self, limit: int) -> Sequence[PlanSummary]:
        """Payment plans in default (``DEFAULTED``), most recently changed first."""
        ...

    async def daily_payments(self, since: datetime) -> Sequence[DailyPayments]:
        """Payments created since ``since``, counted by UTC day, currency and status."""
        ...

    async def daily_disputes(self, since: datetime) -> Sequence[DailyDisputes]:
        """Disputes opened since ``since``, by day, currency and state now."""
        ...

    async def daily_refunds(self, since: datetime) -> Sequence[DailyRefunds]:
        """Refunds created since ``since``, counted by UTC day, currency and status."""
        ...

    async def webhooks(self, page: PageRequest, *, unprocessed: bool) -> Page[WebhookSummary]:
        """Stored webhooks, newest received first (only those never applied, when
        ``unprocessed``). The page's cursor positions are ``(received_at, id)``."""
        ...

    async def outbox_backlog(self, limit: int) -> OutboxBacklog:
        """The events not yet published."""
        ...

    async def stream_events(self, stream_id: UUID, limit: int) -> Sequence[StreamEvent]:
        """The events still in the outbox of one stream (a payment and its refunds), in commit
        order. Published events are purged after ``OUTBOX_RETENTION_SECONDS``."""
        ...


class SessionStore(Protocol):
    """Console sessions, shared by every process of the service."""

    async def add(self, session: SessionRecord) -> None: ...

    async def get(self, token_hash: str) -> SessionRecord | None: ...

    async def touch(self, token_hash: str, at: datetime) -> None:
        """Note that the session was used at ``at`` (its idle expiry starts again)."""
        ...

    async def revoke(self, token_hash: str, at: datetime) -> None:
        """End the session: its cookie no longer signs anyone in, in any process."""
        ...

    async def purge_expired(self, now: datetime, limit: int) -> int:
        """Forget up to ``limit`` sessions past their absolute expiry; how many."""
        ...

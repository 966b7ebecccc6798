"""The console's read model and session store over the in-memory harness.

The same answers as :mod:`payment_adapters.console.sql` (the contract tests in
``tests/contract/test_console_queries.py`` hold both to them), computed by scanning the
store: the harness holds what a test or a demo made, not a million payments.
"""

from __future__ import annotations

from collections import Counter, defaultdict
from collections.abc import Callable, Iterable, Sequence
from datetime import date, datetime
from typing import TypeVar
from uuid import UUID

import attrs

from payment_adapters.console.model import (
    DailyDisputes,
    DailyPayments,
    DailyRefunds,
    OutboxBacklog,
    OutboxItem,
    PaymentFilter,
    PaymentSummary,
    RefundSummary,
    SessionRecord,
    StreamEvent,
    WebhookSummary,
)
from payment_adapters.console.plans import PlanSummary, memory_defaulted_plans
from payment_core.model.payment import AMOUNT_MISMATCH, Payment, PaymentStatus
from payment_core.model.refund import Refund, RefundStatus
from payment_core.pagination import Cursor, Page, PageRequest
from payment_core.testing import InMemoryStore

__all__ = ["InMemoryConsoleQueries", "InMemorySessionStore", "payment_summary", "refund_summary"]

T = TypeVar("T")


def payment_summary(p: Payment) -> PaymentSummary:
    return PaymentSummary(
        id=p.id,
        reference=p.reference,
        booking_id=p.booking_id,
        guest_id=p.guest_id,
        amount=p.amount.amount,
        currency=p.amount.currency.code,
        status=p.status.value,
        provider=p.provider,
        amount_refunded=p.amount_refunded,
        card_brand=p.card.brand if p.card else None,
        card_last4=p.card.last4 if p.card else None,
        failure_code=p.failure_code,
        reconcile_attempts=p.reconcile_attempts,
        created_at=p.created_at,
        updated_at=p.updated_at,
    )


def refund_summary(r: Refund) -> RefundSummary:
    return RefundSummary(
        id=r.id,
        reference=r.reference,
        payment_id=r.payment_id,
        amount=r.amount.amount,
        currency=r.amount.currency.code,
        status=r.status.value,
        reason=r.reason,
        attempts=r.attempts,
        next_retry_at=r.next_retry_at,
        failure_reason=r.failure_reason,
        last_error=r.last_error,
        created_at=r.created_at,
        updated_at=r.updated_at,
    )


def newest_first(
    items: Iterable[T], page: PageRequest, key: Callable[[T], tuple[datetime, UUID]]
) -> Page[T]:
    """A keyset page of ``items``, newest first, strictly older than ``page.after``."""
    ordered = sorted(items, key=key, reverse=True)
    if page.after is not None:
        before = (page.after.created_at, page.after.id)
        ordered = [i for i in ordered if key(i) < before]
    chunk = ordered[: page.limit]
    next_cursor = None
    if len(ordered) > page.limit:
        at, ident = key(chunk[-1])
        next_cursor = Cursor(at, ident).encode()
    return Page(items=chunk, next_cursor=next_cursor)


def _matches(p: Payment, where: PaymentFilter) -> bool:
    return (
        (where.booking_id is None or p.booking_id == where.booking_id)
        and (where.guest_id is None or p.guest_id == where.guest_id)
        and (where.reference is None or p.reference == where.reference)
        and (where.status is None or p.status.value == where.status)
        and (where.created_from is None or p.created_at >= where.created_from)
        and (where.created_until is None or p.created_at < where.created_until)
    )


def _day(moment: datetime) -> date:
    return moment.date()  # the harness keeps UTC times


class InMemoryConsoleQueries:
    """:class:`~payment_adapters.console.ports.ConsoleQueries` over an :class:`InMemoryStore`."""

    def __init__(self, store: InMemoryStore) -> None:
        self._store = store

    async def search_payments(
        self, where: PaymentFilter, page: PageRequest
    ) -> Page[PaymentSummary]:
        found = [payment_summary(p) for p in self._store.payments.values() if _matches(p, where)]
        return newest_first(found, page, lambda s: (s.created_at, s.id))

    async def flagged_payments(self, attempts_over: int, limit: int) -> Sequence[PaymentSummary]:
        flagged = [
            p
            for p in self._store.payments.values()
            if p.status is PaymentStatus.PROCESSING
            and (p.reconcile_attempts > attempts_over or p.failure_code == AMOUNT_MISMATCH)
        ]
        flagged.sort(key=lambda p: (p.created_at, p.id))
        return [payment_summary(p) for p in flagged[:limit]]

    async def failed_refunds(self, page: PageRequest) -> Page[RefundSummary]:
        failed = [
            refund_summary(r)
            for r in self._store.refunds.values()
            if r.status is RefundStatus.FAILED
        ]
        return newest_first(failed, page, lambda s: (s.created_at, s.id))

    async def retrying_refunds(self, limit: int) -> Sequence[RefundSummary]:
        waiting = [
            r
            for r in self._store.refunds.values()
            if r.status is RefundStatus.PENDING and r.attempts > 0 and r.next_retry_at is not None
        ]
        waiting.sort(key=lambda r: (r.next_retry_at, r.id))
        return [refund_summary(r) for r in waiting[:limit]]

    async def defaulted_plans(self, limit: int) -> Sequence[PlanSummary]:
        return memory_defaulted_plans(self._store, limit)

    async def daily_payments(self, since: datetime) -> Sequence[DailyPayments]:
        totals: dict[tuple[date, str, str], list[int]] = defaultdict(lambda: [0, 0, 0])
        for p in self._store.payments.values():
            if p.created_at >= since:
                row = totals[(_day(p.created_at), p.amount.currency.code, p.status.value)]
                row[0] += 1
                row[1] += p.amount.amount
                row[2] += p.amount_refunded
        return [
            DailyPayments(day, currency, status, *values)
            for (day, currency, status), values in sorted(totals.items())
        ]

    async def daily_disputes(self, since: datetime) -> Sequence[DailyDisputes]:
        totals: dict[tuple[date, str, str], list[int]] = defaultdict(lambda: [0, 0])
        for d in self._store.disputes.values():
            if d.created_at >= since:
                row = totals[(_day(d.created_at), d.amount.currency.code, d.status.value)]
                row[0] += 1
                row[1] += d.amount.amount
        return [
            DailyDisputes(day, currency, status, *values)
            for (day, currency, status), values in sorted(totals.items())
        ]

    async def daily_refunds(self, since: datetime) -> Sequence[DailyRefunds]:
        totals: dict[tuple[date, str, str], list[int]] = defaultdict(lambda: [0, 0])
        for r in self._store.refunds.values():
            if r.created_at >= since:
                row = totals[(_day(r.created_at), r.amount.currency.code, r.status.value)]
                row[0] += 1
                row[1] += r.amount.amount
        return [
            DailyRefunds(day, currency, status, *values)
            for (day, currency, status), values in sorted(totals.items())
        ]

    async def webhooks(self, page: PageRequest, *, unprocessed: bool) -> Page[WebhookSummary]:
        found = [
            WebhookSummary(w.id, w.provider, w.event_id, w.received_at, w.processed_at, w.body)
            for w in self._store.webhooks.values()
            if not unprocessed or w.processed_at is None
        ]
        return newest_first(found, page, lambda w: (w.received_at, w.id))

    async def outbox_backlog(self, limit: int) -> OutboxBacklog:
        waiting = self._store.unpublished()
        types = Counter(e.event.type for e in waiting)
        return OutboxBacklog(
            pending=len(waiting),
            oldest=min((e.event.occurred_at for e in waiting), default=None),
            by_type=tuple(sorted(types.items())),
            first=tuple(
                OutboxItem(e.sequence, e.event.type, e.event.stream_id, e.event.occurred_at)
                for e in waiting[:limit]
            ),
        )

    async def stream_events(self, stream_id: UUID, limit: int) -> Sequence[StreamEvent]:
        return [
            StreamEvent(e.event.type, e.event.occurred_at, e.published_at)
            for e in self._store.outbox
            if e.event.stream_id == stream_id
        ][:limit]


class InMemorySessionStore:
    """Console sessions in this process's memory (the in-memory runtime's)."""

    def __init__(self) -> None:
        self._sessions: dict[str, SessionRecord] = {}

    async def add(self, session: SessionRecord) -> None:
        self._sessions[session.token_hash] = session

    async def get(self, token_hash: str) -> SessionRecord | None:
        return self._sessions.get(token_hash)

    async def touch(self, token_hash: str, at: datetime) -> None:
        found = self._sessions.get(token_hash)
        if found is not None:
            self._sessions[token_hash] = attrs.evolve(found, last_seen_at=at)

    async def revoke(self, token_hash: str, at: datetime) -> None:
        found = self._sessions.get(token_hash)
        if found is not None and found.revoked_at is None:
            self._sessions[token_hash] = attrs.evolve(found, revoked_at=at)

    async def purge_expired(self, now: datetime, limit: int) -> int:
        expired = [k for k, s in self._sessions.items() if s.expires_at <= now][:limit]
        for key in expired:
            del self._sessions[key]
        return len(expired)

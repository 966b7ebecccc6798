"""The console's read model and session store over SQLAlchemy (PostgreSQL and SQLite).

Every query is a keyset page or a bounded read behind an index of revision 0006 or earlier;
``docs/console.md`` names the index each one uses, as ``EXPLAIN`` shows it on PostgreSQL
with a million payments. Reads run on their own connection, outside any unit of work; the
session writes wait their turn behind the unit-of-work writers on SQLite.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import date, datetime
from typing import TYPE_CHECKING, Any, Final
from uuid import UUID

from sqlalchemy import (
    ColumnElement,
    Date,
    Select,
    Table,
    Uuid,
    cast,
    delete,
    func,
    literal,
    or_,
    select,
    tuple_,
    update,
)

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
from payment_adapters.console.plans import PlanSummary, sql_defaulted_plans
from payment_adapters.sqlalchemy import tables as t
from payment_adapters.sqlalchemy.mapping import open_bytes
from payment_adapters.sqlalchemy.types import UTCDateTime
from payment_core.model.payment import AMOUNT_MISMATCH
from payment_core.pagination import Cursor, Page, PageRequest

if TYPE_CHECKING:
    from sqlalchemy.engine import RowMapping

    from payment_adapters.sqlalchemy import Database

__all__ = ["SqlConsoleQueries", "SqlSessionStore"]

_P: Final = t.payments.c
_R: Final = t.refunds.c
_PAYMENT_COLUMNS: Final = (
    _P.id,
    _P.reference,
    _P.booking_id,
    _P.guest_id,
    _P.amount,
    _P.currency,
    _P.status,
    _P.provider,
    _P.amount_refunded,
    _P.card_brand,
    _P.card_last4,
    _P.failure_code,
    _P.reconcile_attempts,
    _P.created_at,
    _P.updated_at,
)
_REFUND_COLUMNS: Final = (
    _R.id,
    _R.reference,
    _R.payment_id,
    _R.amount,
    _R.currency,
    _R.status,
    _R.reason,
    _R.attempts,
    _R.next_retry_at,
    _R.failure_reason,
    _R.last_error,
    _R.created_at,
    _R.updated_at,
)


def _payment(row: RowMapping) -> PaymentSummary:
    return PaymentSummary(**{c.name: row[c.name] for c in _PAYMENT_COLUMNS})


def _refund(row: RowMapping) -> RefundSummary:
    return RefundSummary(**{c.name: row[c.name] for c in _REFUND_COLUMNS})


def _before(at: Any, ident: Any, cursor: Cursor) -> ColumnElement[bool]:
    """Rows strictly older than ``cursor`` in ``(time, id)`` order (a row-value comparison
    that both databases answer from a ``(..., time, id)`` index, scanned backwards)."""
    return tuple_(at, ident) < tuple_(
        literal(cursor.created_at, UTCDateTime()), literal(cursor.id, Uuid())
    )


class SqlConsoleQueries:
    """:class:`~payment_adapters.console.ports.ConsoleQueries` over a :class:`Database`."""

    def __init__(self, database: Database) -> None:
        self._database = database
        self._sqlite = database.dialect_name == "sqlite"

    async def _rows(self, stmt: Select[Any]) -> Sequence[RowMapping]:
        async with self._database.engine.connect() as conn:
            rows: Sequence[RowMapping] = (await conn.execute(stmt)).mappings().all()
        return rows

    async def _newest_first(
        self, stmt: Select[Any], at: Any, ident: Any, page: PageRequest, key: str
    ) -> tuple[Sequence[RowMapping], str | None]:
        if page.after is not None:
            stmt = stmt.where(_before(at, ident, page.after))
        stmt = stmt.order_by(at.desc(), ident.desc()).limit(page.limit + 1)
        rows = await self._rows(stmt)
        next_cursor = None
        if len(rows) > page.limit:
            last = rows[page.limit - 1]
            next_cursor = Cursor(last[key], last["id"]).encode()
        return rows[: page.limit], next_cursor

    def _day(self, column: Any) -> Any:
        if self._sqlite:
            # Stored as UTC text 'YYYY-MM-DD HH:MM:SS.ffffff' (see UTCDateTime).
            return func.substr(column, 1, 10)
        return cast(func.timezone("UTC", column), Date)

    @staticmethod
    def _as_date(value: Any) -> date:
        return value if isinstance(value, date) else date.fromisoformat(str(value))

    # ------------------------------------------------------------------ payments
    async def search_payments(
        self, where: PaymentFilter, page: PageRequest
    ) -> Page[PaymentSummary]:
        stmt = select(*_PAYMENT_COLUMNS)
        if where.reference is not None:
            stmt = stmt.where(_P.reference == where.reference)
        if where.booking_id is not None:
            stmt = stmt.where(_P.booking_id == where.booking_id)
        if where.guest_id is not None:
            stmt = stmt.where(_P.guest_id == where.guest_id)
        if where.status is not None:
            stmt = stmt.where(_P.status == where.status)
        if where.created_from is not None:
            stmt = stmt.where(_P.created_at >= where.created_from)
        if where.created_until is not None:
            stmt = stmt.where(_P.created_at < where.created_until)
        rows, cursor = await self._newest_first(stmt, _P.created_at, _P.id, page, "created_at")
        return Page(items=[_payment(r) for r in rows], next_cursor=cursor)

    async def flagged_payments(self, attempts_over: int, limit: int) -> Sequence[PaymentSummary]:
        stmt = (
            select(*_PAYMENT_COLUMNS)
            .where(
                _P.status == "PROCESSING",
                or_(_P.reconcile_attempts > attempts_over, _P.failure_code == AMOUNT_MISMATCH),
            )
            .order_by(_P.created_at, _P.id)
            .limit(limit)
        )
        return [_payment(r) for r in await self._rows(stmt)]

    async def defaulted_plans(self, limit: int) -> Sequence[PlanSummary]:
        return await sql_defaulted_plans(self._database, limit)

    async def daily_payments(self, since: datetime) -> Sequence[DailyPayments]:
        day = self._day(_P.created_at).label("day")
        stmt = (
            select(
                day,
                _P.currency,
                _P.status,
                func.count().label("count"),
                func.sum(_P.amount).label("amount"),
                func.sum(_P.amount_refunded).label("amount_refunded"),
            )
            .where(_P.created_at >= since)
            .group_by(day, _P.currency, _P.status)
            .order_by(day, _P.currency, _P.status)
        )
        return [
            DailyPayments(
                day=self._as_date(r["day"]),
                currency=r["currency"],
                status=r["status"],
                count=int(r["count"]),
                amount=int(r["amount"] or 0),
                amount_refunded=int(r["amount_refunded"] or 0),
            )
            for r in await self._rows(stmt)
        ]

    # ------------------------------------------------------------------ refunds
    async def failed_refunds(self, page: PageRequest) -> Page[RefundSummary]:
        stmt = select(*_REFUND_COLUMNS).where(_R.status == "FAILED")
        rows, cursor = await self._newest_first(stmt, _R.created_at, _R.id, page, "created_at")
        return Page(items=[_refund(r) for r in rows], next_cursor=cursor)

    async def retrying_refunds(self, limit: int) -> Sequence[RefundSummary]:
        stmt = (
            select(*_REFUND_COLUMNS)
            .where(_R.status == "PENDING", _R.next_retry_at.is_not(None), _R.attempts > 0)
            .order_by(_R.next_retry_at, _R.id)
            .limit(limit)
        )
        return [_refund(r) for r in await self._rows(stmt)]

    async def daily_disputes(self, since: datetime) -> Sequence[DailyDisputes]:
        d = t.disputes.c
        day = self._day(d.created_at).label("day")
        stmt = (
            select(day, d.currency, d.status, func.count().label("count"))
            .add_columns(func.sum(d.amount).label("amount"))
            .where(d.created_at >= since)
            .group_by(day, d.currency, d.status)
            .order_by(day, d.currency, d.status)
        )
        return [
            DailyDisputes(
                self._as_date(r["day"]),
                r["currency"],
                r["status"],
                int(r["count"]),
                int(r["amount"]),
            )
            for r in await self._rows(stmt)
        ]

    async def daily_refunds(self, since: datetime) -> Sequence[DailyRefunds]:
        day = self._day(_R.created_at).label("day")
        stmt = (
            select(
                day,
                _R.currency,
                _R.status,
                func.count().label("count"),
                func.sum(_R.amount).label("amount"),
            )
            .where(_R.created_at >= since)
            .group_by(day, _R.currency, _R.status)
            .order_by(day, _R.currency, _R.status)
        )
        return [
            DailyRefunds(
                day=self._as_date(r["day"]),
                currency=r["currency"],
                status=r["status"],
                count=int(r["count"]),
                amount=int(r["amount"] or 0),
            )
            for r in await self._rows(stmt)
        ]

    # ------------------------------------------------------------------ webhooks, outbox
    async def webhooks(self, page: PageRequest, *, unprocessed: bool) -> Page[WebhookSummary]:
        w = t.webhooks.c
        stmt = select(t.webhooks)
        if unprocessed:
            stmt = stmt.where(w.processed_at.is_(None))
        rows, cursor = await self._newest_first(stmt, w.received_at, w.id, page, "received_at")
        cipher = self._database.cipher
        items = [
            WebhookSummary(
                id=r["id"],
                provider=r["provider"],
                event_id=r["event_id"],
                received_at=r["received_at"],
                processed_at=r["processed_at"],
                body=open_bytes(cipher, "webhooks", "body", r["id"], r["body"]),
            )
            for r in rows
        ]
        return Page(items=items, next_cursor=cursor)

    async def outbox_backlog(self, limit: int) -> OutboxBacklog:
        o = t.outbox.c
        waiting = o.published_at.is_(None)
        async with self._database.engine.connect() as conn:
            total = (
                await conn.execute(select(func.count(), func.min(o.created_at)).where(waiting))
            ).one()
            types = (
                await conn.execute(
                    select(o.type, func.count()).where(waiting).group_by(o.type).order_by(o.type)
                )
            ).all()
            first = (
                await conn.execute(
                    select(o.sequence, o.type, o.stream_id, o.created_at)
                    .where(waiting)
                    .order_by(o.sequence)
                    .limit(limit)
                )
            ).all()
        return OutboxBacklog(
            pending=int(total[0] or 0),
            oldest=total[1],
            by_type=tuple((str(name), int(count)) for name, count in types),
            first=tuple(OutboxItem(int(r[0]), str(r[1]), r[2], r[3]) for r in first),
        )

    async def stream_events(self, stream_id: UUID, limit: int) -> Sequence[StreamEvent]:
        o = t.outbox.c
        stmt = (
            select(o.type, o.created_at, o.published_at)
            .where(o.stream_id == stream_id)
            .order_by(o.sequence)
            .limit(limit)
        )
        return [
            StreamEvent(r["type"], r["created_at"], r["published_at"])
            for r in await self._rows(stmt)
        ]


class SqlSessionStore:
    """:class:`~payment_adapters.console.ports.SessionStore` in ``console_sessions``."""

    table: Table = t.console_sessions

    def __init__(self, database: Database) -> None:
        self._database = database

    async def add(self, session: SessionRecord) -> None:
        async with self._database.write_transaction() as conn:
            await conn.execute(
                self.table.insert().values(
                    token_hash=session.token_hash,
                    key_id=session.key_id,
                    created_at=session.created_at,
                    last_seen_at=session.last_seen_at,
                    expires_at=session.expires_at,
                    revoked_at=session.revoked_at,
                )
            )

    async def get(self, token_hash: str) -> SessionRecord | None:
        async with self._database.engine.connect() as conn:
            row = (
                (
                    await conn.execute(
                        select(self.table).where(self.table.c.token_hash == token_hash)
                    )
                )
                .mappings()
                .first()
            )
        return None if row is None else SessionRecord(**dict(row))

    async def touch(self, token_hash: str, at: datetime) -> None:
        c = self.table.c
        async with self._database.write_transaction() as conn:
            await conn.execute(
                update(self.table)
                .where(c.token_hash == token_hash, c.last_seen_at < at)
                .values(last_seen_at=at)
            )

    async def revoke(self, token_hash: str, at: datetime) -> None:
        c = self.table.c
        async with self._database.write_transaction() as conn:
            await conn.execute(
                update(self.table)
                .where(c.token_hash == token_hash, c.revoked_at.is_(None))
                .values(revoked_at=at)
            )

    async def purge_expired(self, now: datetime, limit: int) -> int:
        c = self.table.c
        victims = select(c.token_hash).where(c.expires_at <= now).limit(limit).scalar_subquery()
        async with self._database.write_transaction() as conn:
            result = await conn.execute(delete(self.table).where(c.token_hash.in_(victims)))
        return int(result.rowcount or 0)

"""The append-only audit trail (``payment_core.ports.BillingRepository``)."""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Final
from uuid import UUID

from sqlalchemy import Integer, Uuid, func, literal, select, tuple_

from payment_adapters.sqlalchemy import mapping as m
from payment_adapters.sqlalchemy import tables as t
from payment_adapters.sqlalchemy._session import Session
from payment_adapters.sqlalchemy.repositories._base import keyset_page
from payment_core.model.billing import BillingRecord
from payment_core.pagination import Page, PageRequest

__all__ = ["BILLING_LOCK_NAMESPACE", "SqlAlchemyBillingRepository"]

#: First key of PostgreSQL's two-key advisory locks taken for billing chains ("bill").
BILLING_LOCK_NAMESPACE: Final = 0x62696C6C


class SqlAlchemyBillingRepository:
    """The append-only audit trail (``payment_core.ports.BillingRepository``)."""

    def __init__(self, session: Session) -> None:
        self._session = session

    async def head(self, booking_id: UUID) -> BillingRecord | None:
        c = t.billing_records.c
        if self._session.is_postgresql:
            # Serialise appends to one chain, empty or not, until commit. The lock comes first,
            # in its own statement, so the read below sees whatever the previous holder added.
            lock = func.pg_advisory_xact_lock(
                literal(BILLING_LOCK_NAMESPACE, Integer()), func.hashtext(str(booking_id))
            )
            await self._session.execute(select(lock))
        stmt = (
            select(t.billing_records)
            .where(c.booking_id == booking_id)
            .order_by(c.sequence.desc())
            .limit(1)
        )
        # On SQLite the unit of work holds the database's writer lock: appends are serial.
        row = (await self._session.execute(stmt)).mappings().first()
        return None if row is None else m.billing_from_row(row)

    async def add(self, record: BillingRecord) -> None:
        # Staged like an aggregate insert; the unique (booking_id, sequence) refuses a fork.
        self._session.stage(
            t.billing_records, m.billing_to_row(record), "billing_record", record.id
        )

    async def list_by_booking(self, booking_id: UUID, page: PageRequest) -> Page[BillingRecord]:
        where = t.billing_records.c.booking_id == booking_id
        return await keyset_page(self._session, t.billing_records, where, page, m.billing_from_row)

    async def list_by_guest(self, guest_id: UUID, page: PageRequest) -> Page[BillingRecord]:
        where = t.billing_records.c.guest_id == guest_id
        return await keyset_page(self._session, t.billing_records, where, page, m.billing_from_row)

    async def stream_chains(self, *, batch_size: int = 1000) -> AsyncIterator[BillingRecord]:
        """Every record in ``(booking_id, sequence)`` order, fetched in keyset batches."""
        c = t.billing_records.c
        last: tuple[UUID, int] | None = None
        while True:
            stmt = select(t.billing_records)
            if last is not None:
                stmt = stmt.where(
                    tuple_(c.booking_id, c.sequence)
                    > tuple_(literal(last[0], Uuid()), literal(last[1], Integer()))
                )
            stmt = stmt.order_by(c.booking_id, c.sequence).limit(batch_size)
            rows = (await self._session.execute(stmt)).mappings().all()
            for row in rows:
                yield m.billing_from_row(row)
            if len(rows) < batch_size:
                return
            last = (rows[-1]["booking_id"], rows[-1]["sequence"])

"""Stored provider webhooks (``payment_core.ports.WebhookStore``); bodies encrypted."""

from __future__ import annotations

from datetime import datetime
from uuid import UUID

from sqlalchemy import and_, select, update

from payment_adapters.sqlalchemy import mapping as m
from payment_adapters.sqlalchemy import tables as t
from payment_adapters.sqlalchemy._session import Session
from payment_adapters.sqlalchemy.repositories._base import dialect_insert
from payment_core.ports import StoredWebhook

__all__ = ["SqlAlchemyWebhookStore"]


class SqlAlchemyWebhookStore:
    """Stored provider webhooks (``payment_core.ports.WebhookStore``); bodies encrypted."""

    def __init__(self, session: Session) -> None:
        self._session = session

    async def add(self, webhook: StoredWebhook) -> StoredWebhook:
        w = t.webhooks.c
        stmt = (
            dialect_insert(self._session.dialect_name, t.webhooks)
            .values(m.webhook_to_row(webhook, self._session.cipher))
            .on_conflict_do_nothing(index_elements=[w.provider, w.event_id])
            .returning(w.id)
        )
        if (await self._session.execute(stmt)).first() is not None:
            return webhook
        known = select(t.webhooks).where(
            and_(w.provider == webhook.provider, w.event_id == webhook.event_id)
        )
        row = (await self._session.execute(known)).mappings().one()
        return m.webhook_from_row(row, self._session.cipher)

    async def get(self, webhook_id: UUID) -> StoredWebhook | None:
        stmt = select(t.webhooks).where(t.webhooks.c.id == webhook_id)
        row = (await self._session.execute(stmt)).mappings().first()
        return None if row is None else m.webhook_from_row(row, self._session.cipher)

    async def mark_processed(self, webhook_id: UUID, at: datetime) -> None:
        stmt = update(t.webhooks).where(t.webhooks.c.id == webhook_id).values(processed_at=at)
        await self._session.execute(stmt)

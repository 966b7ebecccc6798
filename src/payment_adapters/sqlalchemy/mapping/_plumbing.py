"""Stored webhooks and idempotent responses to and from their rows, and the bookkeeping clock."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any
from uuid import UUID

from payment_adapters.crypto import Cipher
from payment_adapters.idempotency import StoredResponse
from payment_adapters.sqlalchemy.mapping._sealing import (
    Row,
    open_bytes,
    seal_bytes,
)
from payment_core.ports import StoredWebhook


# ------------------------------------------------------------------------------ webhooks
def webhook_to_row(webhook: StoredWebhook, cipher: Cipher) -> dict[str, Any]:
    return {
        "id": webhook.id,
        "provider": webhook.provider,
        "event_id": webhook.event_id,
        "body": seal_bytes(cipher, "webhooks", "body", webhook.id, webhook.body),
        "received_at": webhook.received_at,
        "processed_at": webhook.processed_at,
    }


def webhook_from_row(row: Row, cipher: Cipher) -> StoredWebhook:
    ident: UUID = row["id"]
    return StoredWebhook(
        id=ident,
        provider=row["provider"],
        event_id=row["event_id"],
        body=open_bytes(cipher, "webhooks", "body", ident, row["body"]),
        received_at=row["received_at"],
        processed_at=row["processed_at"],
    )


# ------------------------------------------------------------------------------ idempotency
def response_from_row(row: Row, cipher: Cipher) -> StoredResponse | None:
    if row["response_status"] is None:
        return None
    key = row["key"]
    return StoredResponse(
        status=row["response_status"],
        body=open_bytes(cipher, "idempotency_keys", "response_body", key, row["response_body"]),
        content_type=row["response_content_type"],
    )


def utc_now() -> datetime:
    """Wall-clock UTC, for bookkeeping columns the domain does not own (outbox, inbox)."""
    return datetime.now(UTC)

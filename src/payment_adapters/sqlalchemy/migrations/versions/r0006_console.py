"""The operator console: its session table and the indexes its pages read by.

- ``console_sessions``: one row per signed-in console session (the token's SHA-256, never
  the token), so that signing out ends a session in every process;
- ``payments (created_at, id)`` and ``(status, created_at, id)``: the search, newest first,
  by date range and by status, a keyset page at any depth;
- ``refunds (created_at, id)`` and ``(created_at, id) WHERE status = 'FAILED'``: refunds by
  day for the overview, and the failed ones that need a person;
- ``outbox (stream_id, sequence)``: a payment's events for its timeline;
- ``webhooks (received_at, id)`` and the same ``WHERE processed_at IS NULL``: the webhook
  list, and the deliveries that were never applied.

On a large PostgreSQL table ``CREATE INDEX`` holds writes to it while it builds (about two
seconds per index for a million payments on a small machine); run the migration at a quiet
time, or create the indexes ``CONCURRENTLY`` by hand first (same names: this revision then
only records them).

Revision ID: 0006
Revises: 0005
Create Date: 2026-12-06
"""

from __future__ import annotations

from typing import Any

import sqlalchemy as sa
from alembic import op

revision = "0006"
down_revision = "0005"
branch_labels = None
depends_on = None

_INDEXES: tuple[tuple[str, str, list[str], str | None], ...] = (
    ("ix_payments_created_page", "payments", ["created_at", "id"], None),
    ("ix_payments_status_page", "payments", ["status", "created_at", "id"], None),
    ("ix_refunds_created_page", "refunds", ["created_at", "id"], None),
    ("ix_refunds_failed_page", "refunds", ["created_at", "id"], "status = 'FAILED'"),
    ("ix_outbox_stream", "outbox", ["stream_id", "sequence"], None),
    ("ix_webhooks_received_page", "webhooks", ["received_at", "id"], None),
    ("ix_webhooks_unprocessed", "webhooks", ["received_at", "id"], "processed_at IS NULL"),
)


def _partial(where: str | None) -> dict[str, Any]:
    if where is None:
        return {}
    return {"postgresql_where": sa.text(where), "sqlite_where": sa.text(where)}


def upgrade() -> None:
    op.create_table(
        "console_sessions",
        sa.Column("token_hash", sa.CHAR(64), nullable=False),
        sa.Column("key_id", sa.String(32), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("last_seen_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("expires_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("revoked_at", sa.DateTime(timezone=True), nullable=True),
        sa.PrimaryKeyConstraint("token_hash", name="pk_console_sessions"),
    )
    op.create_index("ix_console_sessions_expires_at", "console_sessions", ["expires_at"])
    bind = op.get_bind()
    existing = {
        (index["name"], table)
        for table in {table for _, table, _, _ in _INDEXES}
        for index in sa.inspect(bind).get_indexes(table)
    }
    for name, table, columns, where in _INDEXES:
        if (name, table) not in existing:  # made CONCURRENTLY by hand beforehand
            op.create_index(name, table, columns, **_partial(where))


def downgrade() -> None:
    for name, table, _, _ in reversed(_INDEXES):
        op.drop_index(name, table_name=table)
    op.drop_index("ix_console_sessions_expires_at", table_name="console_sessions")
    op.drop_table("console_sessions")

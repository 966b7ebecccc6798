"""The ``disputes`` table (revision 0009). The schema's conventions hold: money a ``BIGINT``
of minor units beside its currency, a keyset index per list, partial indexes for what the
sweep and the refund check look at (open disputes only)."""

from __future__ import annotations

from typing import Any, Final

from sqlalchemy import (
    BigInteger,
    Boolean,
    CheckConstraint,
    Column,
    ForeignKey,
    Index,
    Integer,
    LargeBinary,
    String,
    Table,
    UniqueConstraint,
    Uuid,
    literal_column,
)
from sqlalchemy.sql.elements import ColumnElement
from sqlalchemy.types import CHAR

from payment_adapters.sqlalchemy.tables._base import metadata
from payment_adapters.sqlalchemy.types import UTCDateTime

__all__ = ["DISPUTE_STATUSES", "OPEN_DISPUTES", "disputes"]

DISPUTE_STATUSES: Final = "'NEEDS_RESPONSE', 'UNDER_REVIEW', 'WON', 'LOST'"
#: Disputes still open (what the refund check and the sweep look at).
OPEN_DISPUTES: Final = "status IN ('NEEDS_RESPONSE', 'UNDER_REVIEW')"


def _partial(where: str) -> dict[str, Any]:
    clause: ColumnElement[bool] = literal_column(where)
    return {"postgresql_where": clause, "sqlite_where": clause}


disputes = Table(
    "disputes",
    metadata,
    Column("id", Uuid, primary_key=True),
    Column("payment_id", Uuid, ForeignKey("payments.id"), nullable=False),
    Column("booking_id", Uuid, nullable=False),
    Column("guest_id", Uuid, nullable=False),
    Column("provider", String(32), nullable=False),
    Column("provider_dispute_id", String(255), nullable=False),
    Column("amount", BigInteger, nullable=False),
    Column("currency", CHAR(3), nullable=False),
    Column("reason", String(64), nullable=False),
    Column("status", String(16), nullable=False),
    Column("inquiry", Boolean, nullable=False),
    Column("evidence_due_by", UTCDateTime),
    # The evidence, JSON (field -> text), every value screened on its way in; encrypted.
    Column("evidence", LargeBinary, nullable=False),
    Column("evidence_submitted_at", UTCDateTime),
    Column("evidence_submitting", Boolean, nullable=False),
    Column("funds_withdrawn", Boolean, nullable=False),
    Column("next_check_at", UTCDateTime),
    Column("closed_at", UTCDateTime),
    Column("created_at", UTCDateTime, nullable=False),
    Column("updated_at", UTCDateTime, nullable=False),
    Column("version", Integer, nullable=False),
    CheckConstraint(f"status IN ({DISPUTE_STATUSES})", name="status_known"),
    CheckConstraint("amount > 0", name="amount_positive"),
    UniqueConstraint("provider", "provider_dispute_id"),
    Index("ix_disputes_payment_page", "payment_id", "created_at", "id"),
    Index("ix_disputes_status_page", "status", "created_at", "id"),
    Index("ix_disputes_created_page", "created_at", "id"),
    Index("ix_disputes_open_by_payment", "payment_id", **_partial(OPEN_DISPUTES)),
    Index("ix_disputes_check_due", "next_check_at", "id", **_partial(OPEN_DISPUTES)),
)

"""The ``payment_plans`` table (revision 0008).

A plan's installments and its decided cancellation live in JSON columns of its row, not in
child tables: they are value objects owned whole by the plan, always read and written with
it, and the plan row's optimistic version is what lets one worker, and only one, claim an
installment. ``wake_at`` (when the background work next has something to do for the plan) is
what the plan loop asks for, through a partial index over the few plans that have one.
"""

from __future__ import annotations

from typing import Final

from sqlalchemy import (
    JSON,
    BigInteger,
    CheckConstraint,
    Column,
    Date,
    Index,
    Integer,
    LargeBinary,
    String,
    Table,
    Uuid,
    literal_column,
)
from sqlalchemy.types import CHAR

from payment_adapters.sqlalchemy.tables._base import metadata
from payment_adapters.sqlalchemy.types import UTCDateTime

__all__ = ["DEFAULTED", "PLANS_AWAKE", "PLAN_STATUSES", "payment_plans"]

PLAN_STATUSES: Final = "'ACTIVE', 'PAID', 'CANCELLED', 'DEFAULTED', 'NO_SHOW'"
#: The plans the loop looks at: those with something to do some time.
PLANS_AWAKE: Final = "wake_at IS NOT NULL"
#: The plans that need a person (the console's list).
DEFAULTED: Final = "DEFAULTED"

payment_plans = Table(
    "payment_plans",
    metadata,
    Column("id", Uuid, primary_key=True),
    Column("booking_id", Uuid, nullable=False),
    Column("guest_id", Uuid, nullable=False),
    Column("currency", CHAR(3), nullable=False),
    Column("total_amount", BigInteger, nullable=False),
    Column("check_in", Date, nullable=False),
    Column("time_zone", String(64), nullable=False),
    Column("provider", String(32), nullable=False),
    Column("status", String(16), nullable=False),
    Column("deposit_bps", Integer, nullable=False),
    Column("balance_due_days_before_check_in", Integer),
    Column("balance_due_at", UTCDateTime),
    Column("cancellation_policy", JSON),
    Column("payment_method", String(255)),
    Column("payment_method_id", Uuid),
    Column("installments", JSON, nullable=False),
    Column("cancellation", JSON),
    # The reason a cancellation was given (free text from outside): sealed like every column
    # of ``ENCRYPTED_COLUMNS``, and rotated with them.
    Column("cancellation_reason", LargeBinary),
    Column("amount_refunded", BigInteger, nullable=False),
    Column("wake_at", UTCDateTime),
    Column("moved_by_request", Uuid),
    Column("created_at", UTCDateTime, nullable=False),
    Column("updated_at", UTCDateTime, nullable=False),
    Column("version", Integer, nullable=False),
    CheckConstraint("total_amount > 0", name="total_amount_positive"),
    CheckConstraint("amount_refunded >= 0", name="amount_refunded_non_negative"),
    CheckConstraint("amount_refunded <= total_amount", name="refunded_within_total"),
    CheckConstraint("deposit_bps BETWEEN 0 AND 10000", name="deposit_bps_range"),
    CheckConstraint(f"status IN ({PLAN_STATUSES})", name="status_known"),
    Index("ix_payment_plans_booking_page", "booking_id", "created_at", "id"),
    Index(
        "ix_payment_plans_wake_at",
        "wake_at",
        "id",
        postgresql_where=literal_column(PLANS_AWAKE),
        sqlite_where=literal_column(PLANS_AWAKE),
    ),
    Index(
        "ix_payment_plans_defaulted",
        "updated_at",
        "id",
        postgresql_where=literal_column(f"status = '{DEFAULTED}'"),
        sqlite_where=literal_column(f"status = '{DEFAULTED}'"),
    ),
)

"""Payment plans and cancellation policies.

- ``payment_plans``: one row per plan, its installments, policy and decided cancellation as
  JSON (value objects owned whole by the plan), ``wake_at`` (when the background work next has
  something to do for it) served by a partial index over the plans that have one; the
  console's list of plans in default by another; a cancellation's reason (free text) sealed
  in ``cancellation_reason``.

Revision ID: 0008
Revises: 0007
Create Date: 2026-12-06
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0008"
down_revision = "0007"
branch_labels = None
depends_on = None

_STATUSES = "'ACTIVE', 'PAID', 'CANCELLED', 'DEFAULTED', 'NO_SHOW'"
_AWAKE = "wake_at IS NOT NULL"


def upgrade() -> None:
    op.create_table(
        "payment_plans",
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.Column("booking_id", sa.Uuid(), nullable=False),
        sa.Column("guest_id", sa.Uuid(), nullable=False),
        sa.Column("currency", sa.CHAR(length=3), nullable=False),
        sa.Column("total_amount", sa.BigInteger(), nullable=False),
        sa.Column("check_in", sa.Date(), nullable=False),
        sa.Column("time_zone", sa.String(length=64), nullable=False),
        sa.Column("provider", sa.String(length=32), nullable=False),
        sa.Column("status", sa.String(length=16), nullable=False),
        sa.Column("deposit_bps", sa.Integer(), nullable=False),
        sa.Column("balance_due_days_before_check_in", sa.Integer(), nullable=True),
        sa.Column("balance_due_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("cancellation_policy", sa.JSON(), nullable=True),
        sa.Column("payment_method", sa.String(length=255), nullable=True),
        sa.Column("payment_method_id", sa.Uuid(), nullable=True),
        sa.Column("installments", sa.JSON(), nullable=False),
        sa.Column("cancellation", sa.JSON(), nullable=True),
        sa.Column("cancellation_reason", sa.LargeBinary(), nullable=True),
        sa.Column("amount_refunded", sa.BigInteger(), nullable=False),
        sa.Column("wake_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("moved_by_request", sa.Uuid(), nullable=True),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("version", sa.Integer(), nullable=False),
        sa.CheckConstraint("total_amount > 0", name=op.f("ck_payment_plans_total_amount_positive")),
        sa.CheckConstraint(
            "amount_refunded >= 0", name=op.f("ck_payment_plans_amount_refunded_non_negative")
        ),
        sa.CheckConstraint(
            "amount_refunded <= total_amount", name=op.f("ck_payment_plans_refunded_within_total")
        ),
        sa.CheckConstraint(
            "deposit_bps BETWEEN 0 AND 10000", name=op.f("ck_payment_plans_deposit_bps_range")
        ),
        sa.CheckConstraint(f"status IN ({_STATUSES})", name=op.f("ck_payment_plans_status_known")),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_payment_plans")),
    )
    op.create_index(
        "ix_payment_plans_booking_page", "payment_plans", ["booking_id", "created_at", "id"]
    )
    clause = sa.text(_AWAKE)
    op.create_index(
        "ix_payment_plans_wake_at",
        "payment_plans",
        ["wake_at", "id"],
        postgresql_where=clause,
        sqlite_where=clause,
    )

    defaulted = sa.text("status = 'DEFAULTED'")
    op.create_index(
        "ix_payment_plans_defaulted",
        "payment_plans",
        ["updated_at", "id"],
        postgresql_where=defaulted,
        sqlite_where=defaulted,
    )


def downgrade() -> None:
    op.drop_index("ix_payment_plans_defaulted", table_name="payment_plans")
    op.drop_index("ix_payment_plans_wake_at", table_name="payment_plans")
    op.drop_index("ix_payment_plans_booking_page", table_name="payment_plans")
    op.drop_table("payment_plans")

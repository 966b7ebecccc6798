"""Card holds and saved payment methods.

- ``payments``: ``capture_method``, ``amount_capturable``, ``amount_captured`` (set to the
  amount of every payment already ``COMPLETED``), ``amount_capture_pending`` (a capture whose
  outcome is not known yet), ``authorization_expires_at``, ``expiry_warned_at``,
  ``hold_moved_by_request``, ``payment_method_id``, ``off_session``,
  ``setup_future_usage``; the states ``AUTHORIZED`` and ``EXPIRED``; refunds are held within
  what was captured (``refunds_within_captured`` replaces ``refunds_within_amount``).
- Partial indexes for the hold sweep (holds by expiry; those not warned yet) and for
  reconciliation of captures in flight.
- ``payment_methods``: a guest's saved cards, the provider's token and customer id sealed.

SQLite cannot change a table's CHECK constraints in place, and rebuilding ``payments`` would
break the foreign keys that point at it (they are enforced, and cannot be turned off inside
the migration's transaction). Widening them is a change SQLite documents as safe to make by
editing the stored schema ("Making other kinds of table schema changes",
https://www.sqlite.org/lang_altertable.html), which is what happens there: the rows already
satisfy the new constraints (the data is updated first), and the file format is unchanged.

Revision ID: 0007
Revises: 0006
Create Date: 2026-12-08
"""

from __future__ import annotations

from typing import Any

import sqlalchemy as sa
from alembic import op

revision = "0007"
down_revision = "0006"
branch_labels = None
depends_on = None

_OLD_STATUSES = "'PENDING', 'PROCESSING', 'COMPLETED', 'FAILED', 'CANCELLED'"
_NEW_STATUSES = f"{_OLD_STATUSES}, 'AUTHORIZED', 'EXPIRED'"
_OLD_REFUNDS = "amount_refunded + amount_refund_pending <= amount"
_CHECKS = {
    "refunds_within_captured": "amount_refunded + amount_refund_pending <= amount_captured",
    "captured_within_amount": "amount_captured <= amount",
    "capturable_within_amount": "amount_capturable <= amount",
    "capture_within_capturable": "amount_capture_pending <= amount_capturable",
    "capture_method_known": "capture_method IN ('automatic', 'manual')",
    **{
        f"{column}_non_negative": f"{column} >= 0"
        for column in ("amount_capturable", "amount_captured", "amount_capture_pending")
    },
}
_HOLDS = "status = 'AUTHORIZED' AND amount_capture_pending = 0"
_INDEXES = {
    "ix_payments_capture_due": (["reconcile_at", "id"], "amount_capture_pending > 0"),
    "ix_payments_hold_expiry": (["status", "authorization_expires_at", "id"], _HOLDS),
    "ix_payments_hold_warning": (
        ["status", "authorization_expires_at", "id"],
        f"{_HOLDS} AND expiry_warned_at IS NULL",
    ),
}


def _columns() -> list[sa.Column[Any]]:
    return [
        sa.Column("capture_method", sa.String(16), server_default="automatic", nullable=False),
        sa.Column("amount_capturable", sa.BigInteger(), server_default="0", nullable=False),
        sa.Column("amount_captured", sa.BigInteger(), server_default="0", nullable=False),
        sa.Column("amount_capture_pending", sa.BigInteger(), server_default="0", nullable=False),
        sa.Column("authorization_expires_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("expiry_warned_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("hold_moved_by_request", sa.Uuid(), nullable=True),
        sa.Column("payment_method_id", sa.Uuid(), nullable=True),
        sa.Column("off_session", sa.Boolean(), server_default=sa.false(), nullable=False),
        sa.Column("setup_future_usage", sa.String(16), nullable=True),
    ]


def _old_checks_sql() -> str:
    return f"CONSTRAINT ck_payments_refunds_within_amount CHECK ({_OLD_REFUNDS})"


def _new_checks_sql() -> str:
    return ", \n\t".join(
        f"CONSTRAINT ck_payments_{name} CHECK ({check})" for name, check in _CHECKS.items()
    )


def _edit_sqlite_schema(replacements: list[tuple[str, str]]) -> None:
    """Rewrite the stored ``CREATE TABLE payments`` (see the module's docstring)."""
    bind = op.get_bind()
    sql = bind.execute(
        sa.text("SELECT sql FROM sqlite_master WHERE type = 'table' AND name = 'payments'")
    ).scalar_one()
    for old, new in replacements:
        if sql.count(old) != 1:
            raise RuntimeError(f"the payments table is not as revision 0006 left it: {old!r}")
        sql = sql.replace(old, new)
    version = bind.execute(sa.text("PRAGMA schema_version")).scalar_one()
    bind.execute(sa.text("PRAGMA writable_schema = ON"))
    bind.execute(
        sa.text("UPDATE sqlite_master SET sql = :sql WHERE type = 'table' AND name = 'payments'"),
        {"sql": sql},
    )
    bind.execute(sa.text(f"PRAGMA schema_version = {int(version) + 1}"))
    bind.execute(sa.text("PRAGMA writable_schema = OFF"))


def upgrade() -> None:
    sqlite = op.get_bind().dialect.name == "sqlite"
    for column in _columns():
        op.add_column("payments", column)
    op.execute("UPDATE payments SET amount_captured = amount WHERE status = 'COMPLETED'")
    if sqlite:
        _edit_sqlite_schema(
            [
                (_old_checks_sql(), _new_checks_sql()),
                (f"CHECK (status IN ({_OLD_STATUSES}))", f"CHECK (status IN ({_NEW_STATUSES}))"),
            ]
        )
    else:
        op.drop_constraint(op.f("ck_payments_refunds_within_amount"), "payments", type_="check")
        op.drop_constraint(op.f("ck_payments_status_known"), "payments", type_="check")
        op.create_check_constraint(
            op.f("ck_payments_status_known"), "payments", f"status IN ({_NEW_STATUSES})"
        )
        for name, check in _CHECKS.items():
            op.create_check_constraint(op.f(f"ck_payments_{name}"), "payments", check)
    for name, (columns, where) in _INDEXES.items():
        clause = sa.text(where)
        op.create_index(name, "payments", columns, postgresql_where=clause, sqlite_where=clause)

    op.create_table(
        "payment_methods",
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.Column("guest_id", sa.Uuid(), nullable=False),
        sa.Column("provider", sa.String(length=32), nullable=False),
        sa.Column("type", sa.String(length=16), nullable=False),
        sa.Column("provider_token", sa.LargeBinary(), nullable=False),
        sa.Column("provider_customer_id", sa.LargeBinary(), nullable=True),
        sa.Column("card_brand", sa.String(length=32), nullable=True),
        sa.Column("card_last4", sa.CHAR(length=4), nullable=True),
        sa.Column("card_exp_month", sa.SmallInteger(), nullable=True),
        sa.Column("card_exp_year", sa.SmallInteger(), nullable=True),
        sa.Column("status", sa.String(length=16), nullable=False),
        sa.Column("payment_id", sa.Uuid(), nullable=True),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("version", sa.Integer(), nullable=False),
        sa.CheckConstraint(
            "status IN ('ACTIVE', 'DETACHED')", name=op.f("ck_payment_methods_status_known")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_payment_methods")),
        sa.UniqueConstraint("payment_id", name=op.f("uq_payment_methods_payment_id")),
    )
    op.create_index(
        "ix_payment_methods_guest_page", "payment_methods", ["guest_id", "created_at", "id"]
    )


def downgrade() -> None:
    bind = op.get_bind()
    held = bind.execute(
        sa.text("SELECT count(*) FROM payments WHERE status = 'AUTHORIZED'")
    ).scalar_one()
    if held:
        raise RuntimeError(
            f"{held} payment(s) hold money (AUTHORIZED), which revision 0006 cannot "
            "represent: capture or release every hold before downgrading"
        )
    # An expired hold took nothing: as an earlier version would have said, cancelled.
    op.execute("UPDATE payments SET status = 'CANCELLED' WHERE status = 'EXPIRED'")
    op.drop_index("ix_payment_methods_guest_page", table_name="payment_methods")
    op.drop_table("payment_methods")
    for name in _INDEXES:
        op.drop_index(name, table_name="payments")
    if op.get_bind().dialect.name == "sqlite":
        _edit_sqlite_schema(
            [
                (_new_checks_sql(), _old_checks_sql()),
                (f"CHECK (status IN ({_NEW_STATUSES}))", f"CHECK (status IN ({_OLD_STATUSES}))"),
            ]
        )
    else:
        for name in _CHECKS:
            op.drop_constraint(op.f(f"ck_payments_{name}"), "payments", type_="check")
        op.drop_constraint(op.f("ck_payments_status_known"), "payments", type_="check")
        op.create_check_constraint(
            op.f("ck_payments_status_known"), "payments", f"status IN ({_OLD_STATUSES})"
        )
        op.create_check_constraint(
            op.f("ck_payments_refunds_within_amount"), "payments", _OLD_REFUNDS
        )
    for column in reversed(_columns()):
        if op.get_bind().dialect.name == "sqlite":
            op.execute(f"ALTER TABLE payments DROP COLUMN {column.name}")
        else:
            op.drop_column("payments", column.name)

"""The hold sweep reads holds by their expiry through its partial indexes, never a scan of
the payments table, on both databases; the plan loop reads due plans the same way."""

from __future__ import annotations

from collections.abc import AsyncIterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import text

from payment_adapters.console.plans import defaulted_query
from payment_adapters.crypto import FieldCipher, generate_key
from payment_adapters.sqlalchemy import Database
from payment_adapters.sqlalchemy import tables as t
from payment_adapters.sqlalchemy.repositories.payment_plans import due_query
from payment_adapters.sqlalchemy.repositories.payments import holds_query
from payment_adapters.sqlalchemy.testing import create_database, drop_database

pytestmark = pytest.mark.integration

CIPHER = FieldCipher.from_keys(generate_key("hold-plans"))
NOW = datetime(2026, 11, 28, 12, tzinfo=UTC)


@pytest.fixture(params=["sqlite", "postgres"])
async def database(request: pytest.FixtureRequest, tmp_path: Path) -> AsyncIterator[Database]:
    if request.param == "postgres":
        url = await create_database("payments_test_hold_plans")
    else:
        url = f"sqlite+aiosqlite:///{tmp_path / 'plans.db'}"
    database = Database.from_url(url, cipher=CIPHER)
    try:
        await database.migrate()
        yield database
    finally:
        await database.dispose()
        if request.param == "postgres":
            await drop_database(url)


async def _plan(database: Database, predicate: str | None, query: Any = None) -> str:
    if query is None:
        query = due_query(NOW, 100) if predicate is None else holds_query(predicate, NOW, 100)
    statement = query.compile(
        dialect=database.engine.dialect, compile_kwargs={"literal_binds": True}
    )
    async with database.engine.connect() as conn:
        if database.dialect_name == "postgresql":
            # An empty table is cheaper to scan; ask whether the index can serve the query.
            await conn.execute(text("SET enable_seqscan = off"))
            # ... and whether it serves it in order (a bitmap scan of a few rows sorts them).
            await conn.execute(text("SET enable_bitmapscan = off"))
            rows = await conn.execute(text(f"EXPLAIN {statement}"))
        else:
            rows = await conn.execute(text(f"EXPLAIN QUERY PLAN {statement}"))
        return "\n".join(" ".join(str(v) for v in row) for row in rows)


@pytest.mark.parametrize(
    ("predicate", "index"),
    [(t.HOLDS_TO_WARN, "ix_payments_hold_warning"), (t.HOLDS, "ix_payments_hold_expiry")],
)
async def test_the_hold_queries_read_their_partial_index(database, predicate, index):
    plan = await _plan(database, predicate)
    assert index in plan, plan
    assert "SCAN payments\n" not in plan + "\n", plan
    assert "Seq Scan" not in plan, plan
    # Ordered by the index: no sort step.
    assert "TEMP B-TREE" not in plan, plan
    assert "Sort" not in plan, plan


async def test_the_plan_loop_reads_due_plans_from_their_partial_index(database):
    plan = await _plan(database, None)
    assert "ix_payment_plans_wake_at" in plan, plan
    assert "SCAN payment_plans\n" not in plan + "\n", plan
    assert "Seq Scan" not in plan, plan
    assert "TEMP B-TREE" not in plan, plan
    assert "Sort" not in plan, plan


async def test_the_console_reads_plans_in_default_from_their_partial_index(database):
    plan = await _plan(database, None, defaulted_query(100))
    assert "ix_payment_plans_defaulted" in plan, plan
    assert "Seq Scan" not in plan, plan
    assert "Sort" not in plan, plan
    assert "TEMP B-TREE" not in plan, plan

"""The Alembic migrations build exactly the schema ``tables.py`` declares, on both databases."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from uuid import uuid4

import pytest
from alembic import command
from alembic.autogenerate import compare_metadata
from alembic.runtime.migration import MigrationContext
from sqlalchemy import inspect, text
from sqlalchemy.exc import IntegrityError

from payment_adapters.crypto import FieldCipher, generate_key
from payment_adapters.sqlalchemy import Database
from payment_adapters.sqlalchemy import tables as t
from payment_adapters.sqlalchemy.mapping import invoice_to_row, payment_to_row
from payment_adapters.sqlalchemy.migrations import alembic_config, current_revision
from payment_adapters.sqlalchemy.tables import metadata
from payment_adapters.sqlalchemy.testing import create_database, drop_database
from payment_core import Currency, Invoice, LineItem, Money, Payment

pytestmark = pytest.mark.integration

CIPHER = FieldCipher.from_keys(generate_key("migrations"))
HOUR = timedelta(hours=1)
HEAD_REVISION = "0009"
#: The payment columns revision 0007 adds (not there in an older schema).
HOLD_COLUMNS = (
    "capture_method",
    "amount_capturable",
    "amount_captured",
    "amount_capture_pending",
    "authorization_expires_at",
    "expiry_warned_at",
    "hold_moved_by_request",
    "payment_method_id",
    "off_session",
    "setup_future_usage",
)


@pytest.fixture(params=["sqlite", "postgres"])
async def fresh(request: pytest.FixtureRequest, tmp_path: Path) -> AsyncIterator[Database]:
    """An empty database (no tables at all) of each kind."""
    if request.param == "postgres":
        url = await create_database("payments_test_migrations")
    else:
        url = f"sqlite+aiosqlite:///{tmp_path / 'migrations.db'}"
    database = Database.from_url(url, cipher=CIPHER)
    try:
        yield database
    finally:
        await database.dispose()
        if request.param == "postgres":
            await drop_database(url)


def _diffs(sync_connection):
    # Server defaults are compared on PostgreSQL (the outbox identity); SQLite has no identity
    # (the rowid alias autoincrements) and Alembic reports the Identity() as a spurious diff.
    opts = {
        "compare_type": True,
        "compare_server_default": sync_connection.dialect.name == "postgresql",
    }
    return compare_metadata(MigrationContext.configure(sync_connection, opts=opts), metadata)


async def test_the_migrated_schema_is_the_declared_one(fresh):
    await fresh.migrate()
    async with fresh.engine.connect() as conn:
        diffs = await conn.run_sync(_diffs)
        tables = await conn.run_sync(lambda c: set(inspect(c).get_table_names()))
    assert diffs == []
    assert tables == {*metadata.tables, "alembic_version"}


async def test_every_declared_index_exists_with_its_columns(fresh):
    await fresh.migrate()

    def indexes(sync_connection):
        inspector = inspect(sync_connection)
        return {
            (table, index["name"], tuple(index["column_names"]))
            for table in metadata.tables
            for index in inspector.get_indexes(table)
        }

    async with fresh.engine.connect() as conn:
        found = await conn.run_sync(indexes)
    declared = {
        (table.name, index.name, tuple(c.name for c in index.columns))
        for table in metadata.tables.values()
        for index in table.indexes
    }
    assert declared <= found


async def test_migrating_again_changes_nothing(fresh):
    await fresh.migrate()
    await fresh.migrate()
    async with fresh.engine.connect() as conn:
        assert await conn.run_sync(current_revision) == HEAD_REVISION
        assert await conn.run_sync(_diffs) == []


async def test_downgrade_removes_everything_and_upgrade_restores_it(fresh):
    await fresh.migrate()

    def downgrade(sync_connection):
        config = alembic_config()
        config.attributes["connection"] = sync_connection
        command.downgrade(config, "base")

    async with fresh.write_transaction() as conn:
        await conn.run_sync(downgrade)
    async with fresh.engine.connect() as conn:
        left = await conn.run_sync(lambda c: set(inspect(c).get_table_names()))
    assert left <= {"alembic_version", "sqlite_sequence"}
    await fresh.migrate()
    async with fresh.engine.connect() as conn:
        assert await conn.run_sync(_diffs) == []


def _to(revision: str, *, down: bool = False):
    def run(sync_connection):
        config = alembic_config()
        config.attributes["connection"] = sync_connection
        (command.downgrade if down else command.upgrade)(config, revision)

    return run


async def test_upgrading_a_database_with_data_keeps_it(fresh):
    """0001 -> 0002 on a database in use: its payments read back whole, not refund-marked."""
    async with fresh.write_transaction() as conn:
        await conn.run_sync(_to("0001"))
    payment = Payment.initiate(
        id=uuid4(),
        reference="pay_upgrade",
        booking_id=uuid4(),
        guest_id=uuid4(),
        amount=Money(12_500, Currency.of("EUR")),
        provider="fake",
        now=datetime(2026, 11, 28, 12, tzinfo=UTC),
        event_id=uuid4(),
        description="Room 12",
    )
    row = payment_to_row(payment, CIPHER)
    for later in ("refund_on_completion", "moved_by_request", *HOLD_COLUMNS):
        del row[later]  # not columns yet
    async with fresh.write_transaction() as conn:
        await conn.execute(t.payments.insert().values(row))
    await fresh.migrate()
    async with fresh.uow() as uow:
        read = await uow.payments.get(payment.id)
        assert await uow.bookings.lock(payment.booking_id) is None
    assert read is not None
    assert (read.amount, read.description, read.refund_on_completion) == (
        payment.amount,
        "Room 12",
        False,
    )
    async with fresh.write_transaction() as conn:
        await conn.run_sync(_to("0001", down=True))
    async with fresh.engine.connect() as conn:
        tables = await conn.run_sync(lambda c: set(inspect(c).get_table_names()))
        count = (await conn.execute(text("SELECT count(*) FROM payments"))).scalar()
    assert "bookings" not in tables
    assert count == 1


async def test_invoices_paid_before_0003_count_as_paid_by_their_payment(fresh):
    """0002 -> 0003: a PAID invoice with a payment took its amount_paid from it (so that the
    payment cannot pay it again elsewhere); every other invoice took nothing."""
    async with fresh.write_transaction() as conn:
        await conn.run_sync(_to("0002"))
    eur = Currency.of("EUR")
    when = datetime(2026, 11, 28, 12, tzinfo=UTC)
    payment = Payment.initiate(
        id=uuid4(),
        reference="pay_invoiced",
        booking_id=uuid4(),
        guest_id=uuid4(),
        amount=Money(22_000, eur),
        provider="fake",
        now=when,
        event_id=uuid4(),
    )
    lines = [LineItem("Room", 2, 10_000, 1_000)]
    paid, open_, by_hand = (
        Invoice.draft(
            id=uuid4(),
            booking_id=payment.booking_id,
            guest_id=payment.guest_id,
            currency=eur,
            now=when,
            line_items=lines,
            payment_id=link,
        )
        for link in (payment.id, payment.id, None)
    )
    for invoice in (paid, open_, by_hand):
        invoice.issue(now=when, number=f"INV-2026-{uuid4().int % 10**6:06d}", event_id=uuid4())
    paid.mark_paid(now=when, event_id=uuid4())
    by_hand.mark_paid(now=when, event_id=uuid4())
    async with fresh.write_transaction() as conn:
        payment_row = payment_to_row(payment, CIPHER)
        for later in ("moved_by_request", *HOLD_COLUMNS):
            del payment_row[later]  # added by 0004 and 0007
        await conn.execute(t.payments.insert().values(payment_row))
        for invoice in (paid, open_, by_hand):
            row = invoice_to_row(invoice, CIPHER)
            for later in ("amount_applied", "customer", "amount_credited"):
                del row[later]  # not columns yet
            await conn.execute(t.invoices.insert().values(row))
    await fresh.migrate()
    async with fresh.uow() as uow:
        read = {i.id: await uow.invoices.get(i.id) for i in (paid, open_, by_hand)}
        assert await uow.invoices.amount_applied_from(payment.id) == 22_000
    assert [
        (read[i.id].amount_paid, read[i.id].amount_applied) for i in (paid, open_, by_hand)
    ] == [
        (22_000, 22_000),
        (0, 0),
        (22_000, 0),
    ]
    async with fresh.write_transaction() as conn:
        await conn.run_sync(_to("0002", down=True))
    async with fresh.engine.connect() as conn:
        columns = await conn.run_sync(
            lambda c: {col["name"] for col in inspect(c).get_columns("invoices")}
        )
    assert "amount_applied" not in columns
    assert "amount_paid" in columns


async def test_the_database_refuses_more_applied_than_paid(fresh):
    await fresh.migrate()
    payment = Payment.initiate(
        id=uuid4(),
        reference="pay_checked",
        booking_id=uuid4(),
        guest_id=uuid4(),
        amount=Money(1_000, Currency.of("EUR")),
        provider="fake",
        now=datetime(2026, 11, 28, 12, tzinfo=UTC),
        event_id=uuid4(),
    )
    invoice = Invoice.draft(
        id=uuid4(),
        booking_id=payment.booking_id,
        guest_id=payment.guest_id,
        currency=Currency.of("EUR"),
        now=datetime(2026, 11, 28, 12, tzinfo=UTC),
        payment_id=payment.id,
    )
    async with fresh.write_transaction() as conn:
        await conn.execute(t.payments.insert().values(payment_to_row(payment, CIPHER)))
        await conn.execute(t.invoices.insert().values(invoice_to_row(invoice, CIPHER)))
    for applied, paid in ((1, 0), (-1, -1)):
        with pytest.raises(IntegrityError):
            async with fresh.write_transaction() as conn:
                await conn.execute(
                    t.invoices.update()
                    .where(t.invoices.c.id == invoice.id)
                    .values(amount_applied=applied, amount_paid=max(paid, 0))
                )


async def test_concurrent_starters_migrate_once(fresh):
    """Several processes starting at once (AUTO_MIGRATE) take turns and all succeed."""
    url = fresh.engine.url.render_as_string(hide_password=False)
    others = [Database.from_url(url, cipher=CIPHER) for _ in range(4)]
    try:
        await asyncio.gather(*(d.migrate() for d in [fresh, *others]))
    finally:
        for other in others:
            await other.dispose()
    async with fresh.engine.connect() as conn:
        assert await conn.run_sync(current_revision) == HEAD_REVISION
        versions = (await conn.execute(text("SELECT count(*) FROM alembic_version"))).scalar()
    assert versions == 1


async def test_concurrent_starters_on_a_new_sqlite_file_all_succeed(tmp_path):
    """Starters racing to switch a brand-new file to WAL wait their turn instead of failing.

    SQLite answers that race with an immediate "database is locked"; each round is a new file,
    as only the first switch races.
    """
    for round_ in range(30):
        url = f"sqlite+aiosqlite:///{tmp_path / f'new-{round_}.db'}"
        starters = [Database.from_url(url, cipher=CIPHER) for _ in range(5)]
        try:
            await asyncio.gather(*(d.migrate() for d in starters))
        finally:
            for starter in starters:
                await starter.dispose()
        check = Database.from_url(url, cipher=CIPHER)
        try:
            async with check.engine.connect() as conn:
                assert await conn.run_sync(current_revision) == HEAD_REVISION
                mode = (await conn.execute(text("PRAGMA journal_mode"))).scalar()
        finally:
            await check.dispose()
        assert mode == "wal"


async def test_several_databases_migrate_at_once_in_one_process(fresh, tmp_path):
    """Migrations of different databases in one process do not run into each other."""
    others = [
        Database.from_url(f"sqlite+aiosqlite:///{tmp_path / f'other-{n}.db'}", cipher=CIPHER)
        for n in range(3)
    ]
    try:
        await asyncio.gather(*(d.migrate() for d in [fresh, *others]))
        for database in [fresh, *others]:
            async with database.engine.connect() as conn:
                assert await conn.run_sync(current_revision) == HEAD_REVISION
                assert await conn.run_sync(_diffs) == []
    finally:
        for other in others:
            await other.dispose()


async def test_invoices_from_before_0005_have_no_customer_and_nothing_credited(fresh):
    """0004 -> 0005 on a database in use: invoices read back whole, credited 0, and the
    database refuses credits above an invoice's total."""
    async with fresh.write_transaction() as conn:
        await conn.run_sync(_to("0004"))
    when = datetime(2026, 11, 28, 12, tzinfo=UTC)
    invoice = Invoice.draft(
        id=uuid4(),
        booking_id=uuid4(),
        guest_id=uuid4(),
        currency=Currency.of("EUR"),
        now=when,
        line_items=[LineItem("Room", 2, 10_000, 1_000)],
        notes="kept",
    )
    row = invoice_to_row(invoice, CIPHER)
    for later in ("customer", "amount_credited"):
        del row[later]  # not columns yet
    async with fresh.write_transaction() as conn:
        await conn.execute(t.invoices.insert().values(row))
    await fresh.migrate()
    async with fresh.uow() as uow:
        read = await uow.invoices.get(invoice.id)
    assert read is not None
    assert (read.notes, read.customer, read.amount_credited, read.total.amount) == (
        "kept",
        None,
        0,
        22_000,
    )
    for credited in (22_001, -1):
        with pytest.raises(IntegrityError):
            async with fresh.write_transaction() as conn:
                await conn.execute(
                    t.invoices.update()
                    .where(t.invoices.c.id == invoice.id)
                    .values(amount_credited=credited)
                )
    async with fresh.write_transaction() as conn:
        await conn.run_sync(_to("0004", down=True))
    async with fresh.engine.connect() as conn:
        tables = await conn.run_sync(lambda c: set(inspect(c).get_table_names()))
        columns = await conn.run_sync(
            lambda c: {col["name"] for col in inspect(c).get_columns("invoices")}
        )
    assert not {"credit_notes", "credit_note_number_counters"} & tables
    assert not {"customer", "amount_credited"} & columns


async def test_payments_from_before_0007_captured_what_they_completed(fresh):
    """0006 -> 0007 on a database in use: a completed payment captured its amount (so its
    refunds stay within what was captured), a pending one nothing; the database then takes
    the new states and refuses refunds above what was captured."""
    async with fresh.write_transaction() as conn:
        await conn.run_sync(_to("0006"))
    when = datetime(2026, 11, 28, 12, tzinfo=UTC)
    payments = [
        Payment.initiate(
            id=uuid4(),
            reference=f"pay_{n}",
            booking_id=uuid4(),
            guest_id=uuid4(),
            amount=Money(10_000, Currency.of("EUR")),
            provider="fake",
            now=when,
            event_id=uuid4(),
        )
        for n in range(2)
    ]
    completed, pending = payments
    completed.start_processing(now=when, payment_method="pm_card_visa", reconcile_after=HOUR)
    completed.complete(now=when, event_id=uuid4(), card=None)
    completed.reserve_refund(now=when, amount=Money(4_000, Currency.of("EUR")))
    async with fresh.write_transaction() as conn:
        for payment in payments:
            row = payment_to_row(payment, CIPHER)
            for later in HOLD_COLUMNS:
                del row[later]
            await conn.execute(t.payments.insert().values(row))
    await fresh.migrate()
    async with fresh.uow() as uow:
        read = {p.id: await uow.payments.get(p.id) for p in payments}
    assert [(read[p.id].amount_captured, read[p.id].refundable) for p in payments] == [
        (10_000, 6_000),
        (0, 0),
    ]
    async with fresh.write_transaction() as conn:
        await conn.execute(
            t.payments.update()
            .where(t.payments.c.id == pending.id)
            .values(status="AUTHORIZED", capture_method="manual", amount_capturable=10_000)
        )
    for values in (
        {"amount_refund_pending": 10_001},
        {"status": "HELD"},
        {"amount_captured": 10_001},
        {"capture_method": "later"},
    ):
        with pytest.raises(IntegrityError):
            async with fresh.write_transaction() as conn:
                await conn.execute(
                    t.payments.update().where(t.payments.c.id == completed.id).values(values)
                )
    # Downgrading with money held is refused; an expired hold goes back as cancelled.
    with pytest.raises(RuntimeError, match="capture or release every hold"):
        async with fresh.write_transaction() as conn:
            await conn.run_sync(_to("0006", down=True))
    async with fresh.write_transaction() as conn:
        await conn.execute(
            t.payments.update().where(t.payments.c.id == pending.id).values(status="EXPIRED")
        )
    async with fresh.write_transaction() as conn:
        await conn.run_sync(_to("0006", down=True))
    async with fresh.engine.connect() as conn:
        tables = await conn.run_sync(lambda c: set(inspect(c).get_table_names()))
        columns = await conn.run_sync(
            lambda c: {col["name"] for col in inspect(c).get_columns("payments")}
        )
        status = (
            await conn.execute(
                text("SELECT status FROM payments WHERE reference = :r"), {"r": "pay_1"}
            )
        ).scalar()
    assert "payment_methods" not in tables
    assert not set(HOLD_COLUMNS) & columns
    assert status == "CANCELLED"

"""``Database``: URLs, health, SQLite settings, the outbox notification, retention, indexes."""

from __future__ import annotations

import asyncio
import socket
from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta, timezone
from pathlib import Path
from uuid import uuid4

import asyncpg
import pytest
from sqlalchemy import func, insert, select, text
from sqlalchemy.engine import make_url
from sqlalchemy.exc import IntegrityError, StatementError

from payment_adapters.crypto import FieldCipher, generate_key
from payment_adapters.sqlalchemy import Database
from payment_adapters.sqlalchemy import tables as t
from payment_adapters.sqlalchemy.retention import purge
from payment_adapters.sqlalchemy.testing import create_database, drop_database
from payment_adapters.sqlalchemy.unit_of_work import NOTIFY_CHANNEL
from payment_core.ids import new_reference, uuid7
from payment_core.model.payment import Payment
from payment_core.money import Currency, Money
from payment_core.pagination import Cursor, PageRequest

pytestmark = pytest.mark.integration

CIPHER = FieldCipher.from_keys(generate_key("database"))
T0 = datetime(2026, 5, 1, 12, 0, tzinfo=UTC)


@pytest.fixture(params=["sqlite", "postgres"])
async def database(request: pytest.FixtureRequest, tmp_path: Path) -> AsyncIterator[Database]:
    if request.param == "postgres":
        url = await create_database("payments_test_database")
    else:
        url = f"sqlite+aiosqlite:///{tmp_path / 'database.db'}"
    db = Database.from_url(url, cipher=CIPHER)
    try:
        await db.migrate()
        yield db
    finally:
        await db.dispose()
        if request.param == "postgres":
            await drop_database(url)


@pytest.fixture
async def postgres() -> AsyncIterator[Database]:
    url = await create_database("payments_test_database")
    db = Database.from_url(url, cipher=CIPHER)
    try:
        await db.migrate()
        yield db
    finally:
        await db.dispose()
        await drop_database(url)


def _payment(**overrides) -> Payment:
    fields = {
        "id": uuid7(),
        "reference": new_reference("pay"),
        "booking_id": uuid4(),
        "guest_id": uuid4(),
        "amount": Money(1_000, Currency.of("EUR")),
        "provider": "fake",
        "now": T0,
        "event_id": uuid4(),
    }
    fields.update(overrides)
    return Payment.initiate(**fields)


# ------------------------------------------------------------------ construction
def test_from_url_does_no_io_and_picks_the_async_driver(tmp_path):
    pg = Database.from_url("postgresql://u:hunter2@db.invalid:5432/payments", cipher=CIPHER)
    lite = Database.from_url(f"sqlite:///{tmp_path / 'x.db'}", cipher=CIPHER)
    assert pg.engine.url.drivername == "postgresql+asyncpg"
    assert pg.dialect_name == "postgresql"
    assert lite.engine.url.drivername == "sqlite+aiosqlite"
    assert lite.dialect_name == "sqlite"
    assert "hunter2" not in repr(pg)
    assert not (tmp_path / "x.db").exists()


@pytest.mark.parametrize(
    ("url", "reason"),
    [
        ("mysql://u:hunter2@h/db", "unsupported database"),
        ("sqlite+aiosqlite://", "in-memory"),
        ("sqlite+aiosqlite:///:memory:", "in-memory"),
        ("not a url", "not a valid database URL"),
    ],
)
def test_from_url_refuses_what_it_cannot_serve(url, reason):
    with pytest.raises(ValueError, match=reason) as caught:
        Database.from_url(url, cipher=CIPHER)
    assert "hunter2" not in str(caught.value)


async def test_ping_answers_when_the_database_is_up(database):
    await database.ping()


async def test_ping_raises_when_the_server_is_down():
    with socket.socket() as probe:  # a port nobody listens on
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    down = Database.from_url(f"postgresql+asyncpg://postgres@127.0.0.1:{port}/x", cipher=CIPHER)
    try:
        with pytest.raises(ConnectionRefusedError):
            await down.ping()
    finally:
        await down.dispose()


# ------------------------------------------------------------------ SQLite settings
async def test_sqlite_runs_in_wal_mode_with_foreign_keys(tmp_path):
    db = Database.from_url(f"sqlite+aiosqlite:///{tmp_path / 'p.db'}", cipher=CIPHER)
    try:
        await db.migrate()
        async with db.engine.connect() as conn:
            mode = (await conn.execute(text("PRAGMA journal_mode"))).scalar()
            keys = (await conn.execute(text("PRAGMA foreign_keys"))).scalar()
            busy = (await conn.execute(text("PRAGMA busy_timeout"))).scalar()
        assert (mode, keys) == ("wal", 1)
        assert busy >= 1000
    finally:
        await db.dispose()


# ------------------------------------------------------------------ types
async def test_timestamps_come_back_aware_utc_with_microseconds(database):
    moment = datetime(2026, 5, 1, 14, 0, 0, 654321, tzinfo=UTC).astimezone(
        timezone(timedelta(hours=2))
    )
    payment = _payment(now=moment)
    async with database.uow() as uow:
        await uow.payments.add(payment)
        await uow.commit()
    async with database.engine.connect() as conn:
        stored = (
            await conn.execute(select(t.payments.c.created_at).where(t.payments.c.id == payment.id))
        ).scalar_one()
    assert stored == moment
    assert stored.tzinfo is UTC
    assert stored.microsecond == 654321


async def test_a_naive_timestamp_is_refused(database):
    async with database.engine.begin() as conn:
        with pytest.raises(StatementError, match="timezone-aware"):
            await conn.execute(
                insert(t.inbox).values(consumer="c", event_id="e", handled_at=datetime(2026, 1, 1))
            )


async def test_the_refund_invariant_is_also_a_database_constraint(database):
    payment = _payment()
    payment.amount_refunded = 600
    payment.amount_refund_pending = 500  # 1100 > 1000
    async with database.uow() as uow:
        await uow.payments.add(payment)
        with pytest.raises(IntegrityError):
            await uow.commit()


# ------------------------------------------------------------------ PostgreSQL specifics
async def test_commit_with_events_notifies_the_relay(postgres):
    url = make_url(postgres.engine.url.render_as_string(hide_password=False))
    listener = await asyncpg.connect(
        user=url.username, host=url.host, port=url.port, database=url.database
    )
    heard: asyncio.Queue[str] = asyncio.Queue()
    await listener.add_listener(NOTIFY_CHANNEL, lambda *args: heard.put_nowait(args[2]))
    try:
        async with postgres.uow() as uow:
            await uow.payments.add(_payment())
            await asyncio.sleep(0.05)
            assert heard.empty()  # nothing before commit
            await uow.commit()
        assert await asyncio.wait_for(heard.get(), 5) == NOTIFY_CHANNEL
        async with postgres.uow() as uow:  # no event, no notification
            await uow.inbox.add("c", "e")
            await uow.commit()
        await asyncio.sleep(0.1)
        assert heard.empty()
    finally:
        await listener.close()


async def _listen(postgres: Database) -> tuple[asyncpg.Connection, asyncio.Queue[str]]:
    url = make_url(postgres.engine.url.render_as_string(hide_password=False))
    listener = await asyncpg.connect(
        user=url.username, host=url.host, port=url.port, database=url.database
    )
    heard: asyncio.Queue[str] = asyncio.Queue()
    await listener.add_listener(NOTIFY_CHANNEL, lambda *args: heard.put_nowait(args[2]))
    return listener, heard


async def test_commits_in_a_burst_are_announced_by_one_notification_per_interval(postgres):
    """The first commit is announced at once; the commits that follow within the interval
    share one more notification, sent when the interval is over; not one per commit."""
    waker = postgres.waker
    assert waker is not None
    waker.interval = 60.0  # nothing more can be sent during this test
    listener, heard = await _listen(postgres)
    try:
        async with postgres.uow() as uow:
            await uow.payments.add(_payment())
            await uow.commit()
        assert await asyncio.wait_for(heard.get(), 5) == NOTIFY_CHANNEL
        for _ in range(10):
            async with postgres.uow() as uow:
                await uow.payments.add(_payment())
                await uow.commit()
        await asyncio.sleep(0.2)
        assert heard.empty()
        assert waker.sent == 1
        await waker.close()  # a stopping process announces what it committed since
        assert await asyncio.wait_for(heard.get(), 5) == NOTIFY_CHANNEL
        assert waker.sent == 2
    finally:
        await listener.close()


async def test_the_commits_after_the_first_are_announced_when_the_interval_is_over(postgres):
    waker = postgres.waker
    assert waker is not None
    waker.interval = 0.3
    listener, heard = await _listen(postgres)
    try:
        for _ in range(5):
            async with postgres.uow() as uow:
                await uow.payments.add(_payment())
                await uow.commit()
        await asyncio.wait_for(heard.get(), 5)
        await asyncio.wait_for(heard.get(), 5)  # the trailing one, for commits 2 to 5
        await asyncio.sleep(0.7)  # two intervals more: nothing was left to announce
        assert heard.empty()
        assert waker.sent == 2
    finally:
        await listener.close()


async def test_a_failed_notification_fails_no_commit(postgres):
    """The wake-up is a hint: with its server unreachable, commits still succeed (and the
    relay's polling delivers)."""
    waker = postgres.waker
    assert waker is not None
    waker._dsn = "postgresql://nobody@127.0.0.1:1/none"
    for _ in range(3):
        async with postgres.uow() as uow:
            await uow.payments.add(_payment())
            await uow.commit()
    async with postgres.engine.connect() as conn:
        assert await conn.scalar(select(func.count()).select_from(t.outbox)) == 3
    assert waker.sent == 0


async def test_a_waker_whose_loop_has_ended_closes_from_another(postgres):
    """An app served from a thread (a test client) leaves its waker's connection on a loop
    that has ended: closing from another loop gives it up without an error."""
    from payment_adapters.sqlalchemy._wake import OutboxWaker  # noqa: PLC0415

    dsn = postgres.engine.url.set(drivername="postgresql")
    waker = OutboxWaker(dsn.render_as_string(hide_password=False), NOTIFY_CHANNEL)

    async def commit_once() -> None:
        waker.poke()
        for _ in range(100):
            if waker.sent:
                break
            await asyncio.sleep(0.01)

    await asyncio.to_thread(asyncio.run, commit_once())  # a loop of its own, closed after
    assert waker.sent == 1
    await waker.close()  # would raise "Event loop is closed" before


async def test_pages_read_the_composite_index_without_sorting(postgres):
    """A page costs an index range scan of ``limit`` rows, however many the booking has."""
    booking = uuid4()
    rows = []
    for n in range(3000):
        payment = _payment(booking_id=booking if n % 2 else uuid4(), now=T0 + timedelta(n))
        rows.append(payment)
    async with postgres.uow() as uow:
        for payment in rows:
            await uow.payments.add(payment)
        await uow.commit()
    async with postgres.engine.begin() as conn:
        await conn.execute(text("ANALYZE payments"))
    async with postgres.uow() as uow:
        first = await uow.payments.list_by_booking(booking, PageRequest(limit=50))
    after = Cursor.decode(first.next_cursor)
    query = (
        "EXPLAIN SELECT * FROM payments WHERE booking_id = :b AND (created_at, id) > (:c, :i) "
        "ORDER BY created_at, id LIMIT 51"
    )
    async with postgres.engine.connect() as conn:
        plan = "\n".join(
            r[0]
            for r in await conn.execute(
                text(query), {"b": booking, "c": after.created_at, "i": after.id}
            )
        )
    # With half the table in one booking the planner may walk the time index and filter (the
    # console's search index): either way an ordered index scan, never a sort of the booking.
    assert "ix_payments_booking_page" in plan or "ix_payments_created_page" in plan, plan
    assert "Sort" not in plan


# ------------------------------------------------------------------ retention
async def test_retention_purges_expired_keys_and_old_published_events_in_batches(database):
    now = T0 + timedelta(days=2)
    for n in range(7):
        await database.idempotency.claim(
            f"old-{n}", "fp", now=T0, ttl=timedelta(hours=24), lock_timeout=timedelta(seconds=30)
        )
    await database.idempotency.claim(
        "fresh", "fp", now=now, ttl=timedelta(hours=24), lock_timeout=timedelta(seconds=30)
    )
    for _ in range(5):
        async with database.uow() as uow:
            await uow.payments.add(_payment())
            await uow.commit()
    async with database.engine.begin() as conn:
        sequences = (
            (await conn.execute(select(t.outbox.c.sequence).order_by(t.outbox.c.sequence)))
            .scalars()
            .all()
        )
        old, recent = sequences[:3], sequences[3:4]  # the last one stays unpublished
        await conn.execute(
            t.outbox.update().where(t.outbox.c.sequence.in_(old)).values(published_at=T0)
        )
        await conn.execute(
            t.outbox.update().where(t.outbox.c.sequence.in_(recent)).values(published_at=now)
        )

    counts = await purge(
        database, now=now, outbox_published_before=now - timedelta(hours=1), batch_size=2
    )

    assert counts == {"idempotency_keys": 7, "outbox": 3}
    async with database.engine.connect() as conn:
        left = (
            (await conn.execute(select(t.outbox.c.sequence).order_by(t.outbox.c.sequence)))
            .scalars()
            .all()
        )
        keys = (await conn.execute(select(t.idempotency_keys.c.key))).scalars().all()
    assert left == sequences[3:]
    assert keys == ["fresh"]

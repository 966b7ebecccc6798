"""The direct path to asyncpg (``_driver``): same rows, SQLAlchemy's errors, no stale connection."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import AsyncIterator
from uuid import uuid4

import pytest
from sqlalchemy import bindparam, event, func, literal, select, text
from sqlalchemy import exc as sa_exc
from sqlalchemy.engine import make_url
from tests.integration.conftest import TcpProxy

from payment_adapters.crypto import FieldCipher, generate_key
from payment_adapters.sqlalchemy import Database, _driver
from payment_adapters.sqlalchemy import tables as t
from payment_adapters.sqlalchemy.testing import create_database, drop_database
from payment_core.errors import ConcurrencyError
from payment_core.ids import new_reference
from payment_core.model.payment import Payment
from payment_core.money import Currency, Money
from payment_core.system import SystemClock

pytestmark = pytest.mark.integration

CIPHER = FieldCipher.from_keys(generate_key("driver"))


@pytest.fixture
async def url() -> AsyncIterator[str]:
    url = await create_database("payments_test_driver")
    database = Database.from_url(url, cipher=CIPHER)
    try:
        await database.migrate()
    finally:
        await database.dispose()
    yield url
    await drop_database(url)


@pytest.fixture
async def database(url: str) -> AsyncIterator[Database]:
    database = Database.from_url(url, cipher=CIPHER, pool_size=1)
    yield database
    await database.dispose()


def _payment(**overrides) -> Payment:
    fields = {
        "id": uuid4(),
        "reference": new_reference("pay"),
        "booking_id": uuid4(),
        "guest_id": uuid4(),
        "amount": Money(12_500, Currency.of("EUR")),
        "provider": "fake",
        "now": SystemClock().now(),
        "event_id": uuid4(),
        "client_secret": "pi_secret_x",
        "description": "Room 12",
        "metadata": {"k": "v"},
    } | overrides
    return Payment.initiate(**fields)


async def _create(database: Database, payment: Payment) -> None:
    async with database.uow() as uow:
        await uow.payments.add(payment)
        await uow.commit()


async def test_the_path_is_open_only_on_postgresql_with_nobody_watching(database, tmp_path):
    assert _driver.driver_path_open(database.engine)

    sqlite = Database.from_url(f"sqlite+aiosqlite:///{tmp_path / 'x.db'}", cipher=CIPHER)
    echoing = Database.from_url(str(database.engine.url), cipher=CIPHER, echo=True)
    try:
        assert not _driver.driver_path_open(sqlite.engine)
        assert not _driver.driver_path_open(echoing.engine)
    finally:
        await sqlite.dispose()
        await echoing.dispose()

    logger = logging.getLogger("sqlalchemy.engine.Engine")
    level = logger.level
    logger.setLevel(logging.INFO)
    try:
        assert not _driver.driver_path_open(database.engine)
    finally:
        logger.setLevel(level)

    seen: list[str] = []

    def listener(conn, cursor, statement, parameters, context, executemany):
        seen.append(statement)

    event.listen(database.engine.sync_engine, "before_cursor_execute", listener)
    try:
        assert not _driver.driver_path_open(database.engine)
        # Watched, the create goes SQLAlchemy's way, where the listener sees it.
        await _create(database, _payment())
        assert any("INSERT INTO payments" in s for s in seen)
    finally:
        event.remove(database.engine.sync_engine, "before_cursor_execute", listener)
    assert _driver.driver_path_open(database.engine)


async def test_a_payment_created_on_the_direct_path_reads_back_whole(database):
    payment = _payment(metadata={"room": "12", "nights": "2"})
    await _create(database, payment)

    async with database.uow() as uow:
        found = await uow.payments.get(payment.id)
    assert found.reference == payment.reference
    assert found.amount == payment.amount
    assert found.client_secret == "pi_secret_x"
    assert found.description == "Room 12"
    assert found.metadata == {"room": "12", "nights": "2"}
    assert found.created_at == payment.created_at
    async with database.engine.connect() as conn:
        types = (await conn.execute(text("SELECT type FROM outbox"))).scalars().all()
    assert types == ["payment.initiated"]


async def test_a_taken_id_is_a_concurrency_error_and_writes_nothing(database):
    payment = _payment()
    await _create(database, payment)

    with pytest.raises(ConcurrencyError) as raised:
        await _create(database, _payment(id=payment.id))
    assert raised.value.entity == "payment"
    async with database.engine.connect() as conn:
        outbox = (await conn.execute(text("SELECT count(*) FROM outbox"))).scalar()
    assert outbox == 1  # the twin's event went nowhere either


async def test_server_errors_come_out_as_sqlalchemy_errors_by_sqlstate(database):
    division = select(literal(1) / bindparam("zero", type_=t.payments.c.amount.type))
    with pytest.raises(sa_exc.DataError) as raised:
        await _driver.fetchrow(database.engine, division, {"zero": 0})
    assert raised.value.orig.sqlstate == "22012"
    assert not raised.value.connection_invalidated

    missing = select(func.no_such_function())
    with pytest.raises(sa_exc.ProgrammingError):
        await _driver.fetchrow(database.engine, missing, {})

    # The connection is fine after a statement error: the next statement works on it.
    assert (await _driver.fetchrow(database.engine, select(literal(7)), {}))[0] == 7


async def test_a_connection_cut_mid_statement_is_invalidated_and_the_next_works(url):
    parsed = make_url(url)
    proxy = TcpProxy(parsed.host or "127.0.0.1", parsed.port or 5432)
    await proxy.start()
    proxied = parsed.set(host="127.0.0.1", port=proxy.port, query={"ssl": "disable"})
    database = Database.from_url(
        proxied.render_as_string(hide_password=False), cipher=CIPHER, pool_size=1
    )
    try:
        await _create(database, _payment())  # a pooled, warm connection

        slow = select(func.pg_sleep(bindparam("seconds", type_=t.payments.c.amount.type)))
        statement = asyncio.ensure_future(_driver.fetchrow(database.engine, slow, {"seconds": 5}))
        await asyncio.sleep(0.3)
        await proxy.stop()  # drops the connection mid-statement
        with pytest.raises(sa_exc.OperationalError) as raised:
            await statement
        assert raised.value.connection_invalidated
        await proxy.start()  # the database is reachable again

        # The pool holds one connection: had the broken one gone back, this would fail.
        payment = _payment()
        await _create(database, payment)
        async with database.uow() as uow:
            assert (await uow.payments.get(payment.id)).id == payment.id
    finally:
        await database.dispose()
        await proxy.stop()


async def test_a_statement_cancelled_midway_leaves_no_busy_connection_behind(database):
    slow = select(func.pg_sleep(bindparam("seconds", type_=t.payments.c.amount.type)))
    statement = asyncio.ensure_future(_driver.fetchrow(database.engine, slow, {"seconds": 5}))
    await asyncio.sleep(0.3)
    statement.cancel()
    with pytest.raises(asyncio.CancelledError):
        await statement

    # One pooled connection: a create right away must not meet "another operation is in
    # progress" or wait for the sleep to end.
    payment = _payment()
    await asyncio.wait_for(_create(database, payment), timeout=3)
    async with database.uow() as uow:
        assert (await uow.payments.get(payment.id)).id == payment.id

"""Round trips to PostgreSQL per operation, counted two ways.

1. On the wire, the count that matters: the connection goes through a TCP proxy that counts
   *turns*, the times the client starts sending after the server has answered. A turn is one
   round trip whatever the driver does (prepares, BEGIN, COMMIT, hidden queries).
2. SQLAlchemy's events, to see which statements they were: every statement
   (``before_cursor_execute``) and every ``commit``. (Its ``begin`` event fires for
   autocommit connections too, where asyncpg sends no BEGIN, so it is not counted.)

Both are taken on a warm connection (pool of one, prepared statements cached), which is the
steady state of a running service.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from datetime import timedelta
from uuid import uuid4

import attrs
import pytest
from sqlalchemy import event, text
from sqlalchemy.engine import make_url

from payment_adapters.crypto import FieldCipher, generate_key
from payment_adapters.idempotency import StoredResponse
from payment_adapters.sqlalchemy import Database
from payment_adapters.sqlalchemy.testing import create_database, drop_database
from payment_core.ids import new_reference
from payment_core.model.payment import Payment
from payment_core.money import Currency, Money
from payment_core.services import CreatePayment, Dependencies, ProviderRegistry, Services
from payment_core.system import SystemClock, SystemIds
from payment_core.testing import FakeProvider

pytestmark = pytest.mark.integration

CIPHER = FieldCipher.from_keys(generate_key("roundtrips"))


class TurnCountingProxy:
    """A TCP proxy to PostgreSQL that counts client turns (round trips)."""

    def __init__(self, host: str, port: int) -> None:
        self.target = (host, port)
        self.port = 0
        self.turns = 0
        self._last = ""
        self._server: asyncio.Server | None = None

    async def start(self) -> None:
        self._server = await asyncio.start_server(self._handle, "127.0.0.1", 0)
        self.port = self._server.sockets[0].getsockname()[1]

    async def stop(self) -> None:
        if self._server is not None:
            self._server.close()
            await self._server.wait_closed()

    async def _handle(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        upstream_reader, upstream_writer = await asyncio.open_connection(*self.target)
        await asyncio.gather(
            self._pipe(reader, upstream_writer, "client"),
            self._pipe(upstream_reader, writer, "server"),
        )

    async def _pipe(self, reader, writer, side: str) -> None:
        try:
            while data := await reader.read(65536):
                if side == "client" and self._last != "client":
                    self.turns += 1
                self._last = side
                writer.write(data)
                await writer.drain()
        except OSError:
            pass
        finally:
            writer.close()


@attrs.define
class Counted:
    database: Database
    proxy: TurnCountingProxy
    statements: list[str] = attrs.field(factory=list)
    begins: int = 0
    commits: int = 0

    def reset(self) -> None:
        self.statements.clear()
        self.begins = self.commits = 0
        self.proxy.turns = 0


@pytest.fixture
async def counted() -> AsyncIterator[Counted]:
    url = await create_database("payments_test_roundtrips")
    parsed = make_url(url)
    proxy = TurnCountingProxy(parsed.host or "127.0.0.1", parsed.port or 5432)
    await proxy.start()
    # No TLS through the proxy, so that nothing but our traffic crosses it.
    proxied = parsed.set(host="127.0.0.1", port=proxy.port, query={"ssl": "disable"})
    # Without the relay's wake-up: it is sent after the commit on a connection of its own
    # (test_sql_database.py), not one of the unit of work's round trips.
    database = Database.from_url(
        proxied.render_as_string(hide_password=False), cipher=CIPHER, pool_size=1, notify=False
    )
    counted = Counted(database, proxy)
    sync_engine = database.engine.sync_engine

    @event.listens_for(sync_engine, "before_cursor_execute")
    def _statement(conn, cursor, statement, parameters, context, executemany):
        counted.statements.append(statement)

    @event.listens_for(sync_engine, "begin")
    def _begin(conn):
        counted.begins += 1

    @event.listens_for(sync_engine, "commit")
    def _commit(conn):
        counted.commits += 1

    try:
        await database.migrate()
        yield counted
    finally:
        await database.dispose()
        await proxy.stop()
        await drop_database(url)


def _payment() -> Payment:
    return Payment.initiate(
        id=uuid4(),
        reference=new_reference("pay"),
        booking_id=uuid4(),
        guest_id=uuid4(),
        amount=Money(12_500, Currency.of("EUR")),
        provider="fake",
        now=SystemClock().now(),
        event_id=uuid4(),
        client_secret="pi_secret_x",
        description="Room 12",
        metadata={"k": "v"},
    )


async def _create(database: Database, payment: Payment) -> None:
    async with database.uow() as uow:
        await uow.payments.add(payment)
        await uow.commit()


async def test_creating_a_payment_is_one_round_trip(counted):
    await _create(counted.database, _payment())  # warm up: connect, prepare
    counted.reset()

    await _create(counted.database, _payment())

    # One statement (payment insert + outbox insert), atomic by itself, sent in autocommit
    # mode: no BEGIN, no COMMIT. No NOTIFY in it: the relay is woken after the commit.
    assert len(counted.statements) == 1
    statement = counted.statements[0]
    assert "INSERT INTO payments" in statement
    assert "INSERT INTO outbox" in statement
    assert "pg_notify" not in statement
    assert "NOTIFY" not in statement
    assert counted.commits == 0
    assert counted.proxy.turns == 1


async def test_a_unit_of_work_that_reads_first_is_begin_statements_commit(counted):
    async def cancel(payment: Payment) -> None:
        async with counted.database.uow() as uow:
            loaded = await uow.payments.get(payment.id, for_update=True)
            loaded.cancel(now=SystemClock().now(), event_id=uuid4())
            await uow.payments.update(loaded)
            await uow.commit()

    first, second = _payment(), _payment()
    await _create(counted.database, first)
    await _create(counted.database, second)
    await cancel(first)  # warm up: prepare these statements
    counted.reset()

    await cancel(second)

    # BEGIN, SELECT ... FOR NO KEY UPDATE, UPDATE, the outbox insert, COMMIT.
    assert len(counted.statements) == 3
    assert counted.commits == 1
    assert counted.proxy.turns == 5


async def test_the_create_use_case_is_one_round_trip(counted):
    services = Services.build(
        Dependencies(
            uow=counted.database.uow,
            providers=ProviderRegistry([FakeProvider()]),
            clock=SystemClock(),
            ids=SystemIds(),
        )
    )
    command = CreatePayment(
        booking_id=uuid4(),
        guest_id=uuid4(),
        amount=100,
        currency="EUR",
        description="Room 12",
        metadata={"k": "v"},
    )
    await services.payments.create(command)
    counted.reset()

    await services.payments.create(command)

    assert len(counted.statements) == 1
    assert counted.proxy.turns == 1


async def test_the_idempotency_claim_is_one_more_round_trip(counted):
    store = counted.database.idempotency
    now = SystemClock().now()
    await store.claim("warm", "fp", now=now, ttl=timedelta(hours=1), lock_timeout=timedelta(1))
    counted.reset()

    await store.claim(
        f"key-{uuid4()}", "fp", now=now, ttl=timedelta(hours=1), lock_timeout=timedelta(seconds=30)
    )

    # Autocommit: the INSERT ... ON CONFLICT DO NOTHING RETURNING is atomic by itself.
    assert len(counted.statements) == 1
    assert counted.commits == 0
    assert counted.proxy.turns == 1


async def test_several_events_are_one_outbox_insert(counted):
    payment = _payment()
    await _create(counted.database, payment)
    counted.reset()

    async with counted.database.uow() as uow:
        loaded = await uow.payments.get(payment.id, for_update=True)
        loaded.cancel(now=SystemClock().now(), event_id=uuid4())
        await uow.payments.update(loaded)
        other = _payment()
        await uow.payments.add(other)
        await uow.commit()

    # BEGIN; SELECT ... FOR NO KEY UPDATE; UPDATE; one INSERT (payment + 2 outbox rows);
    # COMMIT.
    inserts = [s for s in counted.statements if "INSERT INTO outbox" in s]
    assert len(inserts) == 1
    assert len(counted.statements) == 3
    async with counted.database.engine.connect() as conn:
        types = (await conn.execute(text("SELECT type FROM outbox ORDER BY sequence"))).all()
    assert [t for (t,) in types] == ["payment.initiated", "payment.cancelled", "payment.initiated"]


async def test_creating_a_payment_on_the_direct_path_is_one_round_trip(counted):
    # Nothing listens to this engine's statement events, so the create goes straight to
    # asyncpg (``_driver``); only the wire can count it.
    unwatched = Database.from_url(
        counted.database.engine.url.render_as_string(hide_password=False),
        cipher=CIPHER,
        pool_size=1,
        notify=False,
    )
    try:
        await _create(unwatched, _payment())  # warm up: connect, prepare
        counted.reset()

        await _create(unwatched, _payment())

        assert counted.statements == []  # not SQLAlchemy's execute path
        assert counted.proxy.turns == 1
    finally:
        await unwatched.dispose()


async def test_claiming_and_completing_a_key_on_the_direct_path_is_a_round_trip_each(counted):
    unwatched = Database.from_url(
        counted.database.engine.url.render_as_string(hide_password=False),
        cipher=CIPHER,
        pool_size=1,
        notify=False,
    )
    store = unwatched.idempotency
    now = SystemClock().now()
    ttl, lock = timedelta(hours=1), timedelta(seconds=30)
    try:
        await store.claim("warm", "fp", now=now, ttl=ttl, lock_timeout=lock)
        await store.complete("warm", StoredResponse(201, b"{}", "application/json"), now=now)
        counted.reset()

        key = f"key-{uuid4()}"
        claim = await store.claim(key, "fp", now=now, ttl=ttl, lock_timeout=lock)
        assert claim.replay is None
        assert counted.proxy.turns == 1
        response = StoredResponse(201, b'{"id": "pay_1"}', "application/json")
        await store.complete(key, response, now=now)
        assert counted.proxy.turns == 2
        assert counted.statements == []  # neither went SQLAlchemy's execute path

        again = await store.claim(key, "fp", now=now, ttl=ttl, lock_timeout=lock)
        assert again.replay == response
    finally:
        await unwatched.dispose()

"""``kill -9`` of ``payment-service worker`` in the middle of consuming and of relaying, again
and again: after a restart every committed change has its event published, no booking event
is handled twice, and no refund is issued twice.

The fake provider keeps its state in the process that dies, so everything is checked in the
database: inbox rows, payments and refunds per booking, outbox rows and their published flag,
and the messages that reached a queue bound to the payments exchange.
"""

from __future__ import annotations

import asyncio
import os
import signal
import subprocess
import sys
from collections.abc import AsyncIterator
from typing import Any
from uuid import UUID, uuid4

import attrs
import pytest
from sqlalchemy import func, select

from payment_adapters.sqlalchemy import Database
from payment_adapters.sqlalchemy import tables as t

from .conftest import (
    CIPHER,
    CIPHER_KEYS,
    RabbitAdmin,
    envelope,
    eventually,
    first_occurrences,
)

pytestmark = [pytest.mark.integration, pytest.mark.slow]


@attrs.define
class Worker:
    """``python -m payment_http worker`` as a child process."""

    env: dict[str, str]
    process: subprocess.Popen[bytes] | None = None
    starts: int = 0

    def start(self) -> None:
        self.process = subprocess.Popen(
            [sys.executable, "-m", "payment_http", "worker"],
            env=self.env,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.PIPE,
        )
        self.starts += 1

    def kill(self) -> None:
        assert self.process is not None
        self.process.send_signal(signal.SIGKILL)
        self.process.wait()

    def terminate(self, within: float = 30.0) -> int:
        assert self.process is not None
        self.process.send_signal(signal.SIGTERM)
        try:
            return self.process.wait(within)
        except subprocess.TimeoutExpired:
            self.process.kill()
            raise

    def stderr_tail(self) -> str:
        if self.process is None or self.process.stderr is None:
            return ""
        return self.process.stderr.read().decode(errors="replace")[-3000:]


@attrs.define
class Setup:
    database: Database
    worker: Worker
    bookings_exchange: str
    queue: str
    capture: str
    rabbit: RabbitAdmin
    #: (booking events handled, outbox rows unpublished) right after each kill -9.
    kills: list[tuple[int, int]] = attrs.field(factory=list)


@pytest.fixture
async def setup(postgres_url: str, rabbit: RabbitAdmin) -> AsyncIterator[Setup]:
    payments = rabbit.exchange("payments")
    capture = await rabbit.capture(payments)
    bookings_exchange = rabbit.exchange("bookings")
    queue = rabbit.queue("bookings")
    env = {
        **os.environ,
        "DATABASE_URL": postgres_url,
        "RABBITMQ_URL": rabbit.url,
        "PAYMENTS_EXCHANGE": payments,
        "BOOKINGS_EXCHANGE": bookings_exchange,
        "BOOKINGS_QUEUE": queue,
        "ENCRYPTION_KEYS": CIPHER_KEYS,
        "ENVIRONMENT": "test",
        "AUTO_MIGRATE": "false",
        "PAYMENT_PROVIDER": "fake",
        "LOG_LEVEL": os.environ.get("TEST_WORKER_LOG_LEVEL", "WARNING"),
        "BACKGROUND_INTERVAL_SECONDS": "1",
        # A kill between "processing" and the provider's answer leaves a payment or a refund
        # PROCESSING until reconciliation asks the provider: soon, in this test.
        "RECONCILE_AFTER_SECONDS": "2",
        "REFUND_RETRY_BASE_SECONDS": "1",
    }
    database = Database.from_url(postgres_url, cipher=CIPHER, pool_size=2)
    worker = Worker(env)
    try:
        yield Setup(database, worker, bookings_exchange, queue, capture, rabbit)
    finally:
        if worker.process is not None and worker.process.poll() is None:
            worker.process.kill()
            worker.process.wait()
        await database.dispose()


async def count(database: Database, query: Any) -> int:
    async with database.engine.connect() as conn:
        return int(await conn.scalar(query) or 0)


async def rows(database: Database, query: Any) -> list[Any]:
    async with database.engine.connect() as conn:
        return [tuple(r) for r in (await conn.execute(query)).all()]


INBOX = select(func.count()).select_from(t.inbox)
PUBLISHED = select(func.count()).select_from(t.outbox).where(t.outbox.c.published_at.is_not(None))
UNPUBLISHED = select(func.count()).select_from(t.outbox).where(t.outbox.c.published_at.is_(None))


async def kill_when(setup: Setup, ready: Any, *, within: float = 60.0) -> None:
    """Wait until ``ready()`` holds, while the worker is busy; ``kill -9`` it; start another."""
    try:
        await eventually(ready, within=within, every=0.005)
    except TimeoutError:
        setup.worker.kill()
        rabbit = setup.rabbit
        queues = {
            name: await rabbit.count(name) if await rabbit.exists(name) else None
            for name in (setup.queue, f"{setup.queue}.retry", f"{setup.queue}.dlq")
        }
        pytest.fail(
            f"the worker made no progress: inbox {await count(setup.database, INBOX)}, "
            f"unpublished {await count(setup.database, UNPUBLISHED)}, queues {queues}, "
            f"kills {setup.kills}\n{setup.worker.stderr_tail()}"
        )
    setup.worker.kill()
    # What the dead worker left: events not yet published, refunds in flight.
    setup.kills.append(
        (await count(setup.database, INBOX), await count(setup.database, UNPUBLISHED))
    )
    setup.worker.start()


async def test_kill_9_while_consuming_and_relaying_loses_and_repeats_nothing(
    setup: Setup, rabbit: RabbitAdmin
) -> None:
    database = setup.database
    setup.worker.start()

    async def queue_declared() -> bool:
        # A consumer per routing key: each starts after its binding, so both bindings exist
        # (an event published to the exchange before that would be dropped by RabbitMQ).
        return await rabbit.consumers(setup.queue) == 2

    await eventually(queue_declared, within=60, every=0.1)

    bookings = [uuid4() for _ in range(60)]
    created_ids = [f"created-{b}" for b in bookings]
    for i, booking_id in enumerate(bookings):
        await rabbit.publish(
            setup.bookings_exchange,
            "booking.created",
            envelope(
                "booking.created",
                {
                    "booking_id": str(booking_id),
                    "guest_id": str(uuid4()),
                    "amount": 5_000 + i,
                    "currency": "EUR",
                    "payment_required": True,
                    "payment_method": "pm_card_visa",
                },
                event_id=created_ids[i],
            ),
        )

    # Phase 1: booking.created. Kill while events are consumed and the relay publishes.
    for threshold in (8, 20, 35):

        async def busy(threshold: int = threshold) -> bool:
            handled = await count(database, INBOX)
            return handled >= threshold and (
                await count(database, UNPUBLISHED) > 0 or handled >= threshold + 5
            )

        await kill_when(setup, busy)

    async def phase_one_done() -> bool:
        return await count(database, INBOX) == len(bookings)

    await kill_when(setup, phase_one_done)  # and once more, wherever it is

    # Phase 2: booking.cancelled, refunding the completed payments. Kill mid-way again.
    cancelled = bookings[::2]
    for booking_id in cancelled:
        await rabbit.publish(
            setup.bookings_exchange,
            "booking.cancelled",
            envelope(
                "booking.cancelled",
                {"booking_id": str(booking_id)},
                event_id=f"cancelled-{booking_id}",
            ),
        )
    expected_inbox = len(bookings) + len(cancelled)
    for threshold in (len(bookings) + 6, len(bookings) + 18):

        async def refunding(threshold: int = threshold) -> bool:
            return await count(database, INBOX) >= threshold

        await kill_when(setup, refunding)

    # The last one: let it finish, then stop it cleanly.
    state: dict[str, int] = {}

    async def settled() -> bool:
        state["inbox"] = await count(database, INBOX)
        state["unpublished"] = await count(database, UNPUBLISHED)
        state["refunds in flight"] = await count(
            database,
            select(func.count())
            .select_from(t.refunds)
            .where(t.refunds.c.status.in_(["PENDING", "PROCESSING"])),
        )
        return list(state.values()) == [expected_inbox, 0, 0]

    try:
        await eventually(settled, within=90)
    except TimeoutError:
        pytest.fail(f"not settled: {state}\n{setup.worker.stderr_tail()}")
    assert setup.worker.terminate() == 0, setup.worker.stderr_tail()
    assert setup.worker.starts == 7
    print("kills (handled, unpublished):", setup.kills)
    assert any(unpublished for _, unpublished in setup.kills), (
        f"no kill caught the relay with work in hand: {setup.kills}"
    )

    # No booking event handled twice: one inbox row each, one payment per booking.
    inbox = {r[0] for r in await rows(database, select(t.inbox.c.event_id))}
    assert inbox == set(created_ids) | {f"cancelled-{b}" for b in cancelled}
    per_booking = dict(
        await rows(
            database,
            select(t.payments.c.booking_id, func.count()).group_by(t.payments.c.booking_id),
        )
    )
    assert per_booking == dict.fromkeys(bookings, 1)

    # No refund issued twice: at most one refund per payment.
    refunds = await rows(
        database, select(t.refunds.c.payment_id, func.count()).group_by(t.refunds.c.payment_id)
    )
    assert all(n == 1 for _, n in refunds), refunds
    statuses = dict(await rows(database, select(t.payments.c.booking_id, t.payments.c.status)))
    refunded_bookings = {r[0] for r in await rows(database, select(t.refunds.c.booking_id))}
    for booking_id in cancelled:
        # A kill between "payment created" and "payment confirmed" leaves it unconfirmed
        # (the redelivered event is a duplicate): then it is cancelled, not refunded.
        if statuses[booking_id] == "COMPLETED":
            assert booking_id in refunded_bookings
    assert len(refunded_bookings) >= len(cancelled) // 2, "most cancelled bookings refunded"

    # Every committed change has its event published, in commit order per payment.
    outbox = await rows(
        database,
        select(t.outbox.c.id, t.outbox.c.stream_id, t.outbox.c.published_at).order_by(
            t.outbox.c.sequence
        ),
    )
    assert all(published is not None for _, _, published in outbox)
    captured = first_occurrences(await rabbit.take(setup.capture, at_least=len(outbox)))
    assert {m.id for m in captured} == {str(i) for i, _, _ in outbox}
    assert _streams([(m.id, UUID(str(m.subject))) for m in captured]) == _streams(
        [(str(i), s) for i, s, _ in outbox]
    )


def _streams(pairs: list[tuple[str, UUID]]) -> dict[UUID, list[str]]:
    streams: dict[UUID, list[str]] = {}
    for event_id, stream in pairs:
        streams.setdefault(stream, []).append(event_id)
    return streams


async def test_sigterm_stops_the_worker_cleanly(setup: Setup, rabbit: RabbitAdmin) -> None:
    setup.worker.start()

    async def queue_declared() -> bool:
        # A consumer per routing key: each starts after its binding, so both bindings exist
        # (an event published to the exchange before that would be dropped by RabbitMQ).
        return await rabbit.consumers(setup.queue) == 2

    await eventually(queue_declared, within=60, every=0.1)
    booking_id = uuid4()
    await rabbit.publish(
        setup.bookings_exchange,
        "booking.created",
        envelope(
            "booking.created",
            {
                "booking_id": str(booking_id),
                "guest_id": str(uuid4()),
                "amount": 100,
                "currency": "EUR",
                "payment_required": True,
            },
        ),
    )

    async def handled() -> bool:
        return await count(setup.database, PUBLISHED) == 1

    await eventually(handled, within=30)
    assert setup.worker.terminate() == 0, setup.worker.stderr_tail()
    await asyncio.sleep(0)


async def test_a_worker_without_rabbitmq_does_the_database_work_and_stops_on_sigterm(
    sqlite_url: str,
) -> None:
    env = {
        **os.environ,
        "DATABASE_URL": sqlite_url,
        "ENCRYPTION_KEYS": CIPHER_KEYS,
        "ENVIRONMENT": "test",
        "LOG_LEVEL": "WARNING",
    }
    env.pop("RABBITMQ_URL", None)
    worker = Worker(env)
    worker.start()
    try:
        await asyncio.sleep(3)
        assert worker.process is not None
        assert worker.process.poll() is None, worker.stderr_tail()
        assert worker.terminate() == 0, worker.stderr_tail()
    finally:
        if worker.process is not None and worker.process.poll() is None:
            worker.kill()

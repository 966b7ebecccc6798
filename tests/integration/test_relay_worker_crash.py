"""``kill -9`` of ``payment-service worker`` in the middle of consuming, relaying and refunding,
again and again, and ``SIGTERM`` with booking events in flight: after a restart every
committed change has its event published, no booking event is handled twice, every cancelled
booking's payment is refunded exactly once, and the provider pays each refund once, under one
idempotency key.

The fake provider keeps its state in the process that dies, so each worker runs with a
stand-in boot (:data:`BOOT`) that keeps the provider's memory of refunds in a journal file,
written with one ``write`` per record (the kernel keeps it when the process is killed), and
read back when the next worker's provider is built: a restarted worker talks to a provider
that remembers, as a real one does. The journal also records every call, so the test sees
which keys each refund was asked under, by which process, and that every call a stopping
worker began was answered.
"""

from __future__ import annotations

import asyncio
import inspect
import json
import os
import signal
import subprocess
import sys
import time
from collections.abc import AsyncIterator
from pathlib import Path
from typing import IO, Any
from uuid import UUID, uuid4

import attrs
import pytest
from sqlalchemy import func, select

from payment_adapters.background import build_broker
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

#: ``python -c BOOT worker`` is ``python -m payment_http worker``; with
#: ``TEST_PROVIDER_JOURNAL`` set, its fake provider journals every call (``call``), every
#: refund it makes (``refunded``: the money moved) and, for the operations slowed down by
#: ``TEST_PROVIDER_DELAYS`` (``{"operation": [seconds before, seconds after]}``), when the
#: answer went back (``answered``). A new provider loads the refunds of the journal, so a
#: retry with a known key gets the first answer and a new key pays again, as at a real
#: provider.
BOOT = r"""
import asyncio, json, os, runpy, sys, time

journal = os.environ.get("TEST_PROVIDER_JOURNAL")
if journal:
    from payment_core.money import Money
    from payment_core.ports import ProviderRefund, ProviderRefundStatus
    from payment_core.testing.fake_provider import FakeProvider

    fd = os.open(journal, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o600)
    pid = os.getpid()

    def note(**record):
        record = {"pid": pid, "at": time.time(), **record}
        os.write(fd, (json.dumps(record) + "\n").encode())

    original_init = FakeProvider.__init__
    original_call = FakeProvider._call
    original_refund = FakeProvider._refund

    def __init__(self, *args, **kwargs):
        original_init(self, *args, **kwargs)
        with open(journal, encoding="utf-8") as lines:
            for line in lines:
                record = json.loads(line) if line.endswith("\n") else {}
                if record.get("event") == "refunded":
                    self._refunds[record["key"]] = ProviderRefund(
                        provider_refund_id=record["provider_refund_id"],
                        status=ProviderRefundStatus.SUCCEEDED,
                        amount=Money.of(record["amount"], record["currency"]),
                    )

    def _call(self, operation, key, body):
        note(event="call", operation=operation, key=key)
        return original_call(self, operation, key, body)

    def _refund(self, request):
        known = request.idempotency_key in self._refunds
        reply = original_refund(self, request)
        if not known:
            note(
                event="refunded",
                key=request.idempotency_key,
                refund_id=str(request.refund_id),
                provider_refund_id=reply.provider_refund_id,
                amount=reply.amount.amount,
                currency=reply.amount.currency.code,
            )
        return reply

    def slowed(operation, method, before, after):
        async def call(self, request, *args):
            await asyncio.sleep(before)
            try:
                reply = await method(self, request, *args)
                await asyncio.sleep(after)
            except BaseException as exc:
                note(event="answered", operation=operation,
                     key=request.idempotency_key, error=type(exc).__name__)
                raise
            note(event="answered", operation=operation, key=request.idempotency_key)
            return reply
        return call

    FakeProvider.__init__ = __init__
    FakeProvider._call = _call
    FakeProvider._refund = _refund
    for operation, (before, after) in json.loads(
        os.environ.get("TEST_PROVIDER_DELAYS") or "{}"
    ).items():
        setattr(FakeProvider, operation, slowed(
            operation, getattr(FakeProvider, operation), before, after))

sys.argv = ["payment_http", *sys.argv[1:]]
runpy.run_module("payment_http", run_name="__main__", alter_sys=True)
"""

#: How long the worker's broker waits for the messages in flight when it stops.
GRACEFUL_TIMEOUT = float(inspect.signature(build_broker).parameters["graceful_timeout"].default)


@attrs.define
class Worker:
    """``python -m payment_http worker`` (through :data:`BOOT`) as a child process."""

    env: dict[str, str]
    logs: Path
    process: subprocess.Popen[bytes] | None = None
    starts: int = 0
    _log: IO[bytes] | None = None

    def start(self) -> None:
        self.starts += 1
        if self._log is not None:
            self._log.close()
        # A file, not a pipe nobody reads: a worker that logs a lot never blocks on stderr.
        self._log = (self.logs / f"worker-{self.starts}.log").open("wb")
        self.process = subprocess.Popen(
            [sys.executable, "-c", BOOT, "worker"],
            env=self.env,
            stdout=subprocess.DEVNULL,
            stderr=self._log,
        )

    @property
    def pid(self) -> int:
        assert self.process is not None
        return self.process.pid

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
        if self.starts == 0:
            return ""
        log = self.logs / f"worker-{self.starts}.log"
        return log.read_bytes().decode(errors="replace")[-3000:]

    def close(self) -> None:
        if self.process is not None and self.process.poll() is None:
            self.process.kill()
            self.process.wait()
        if self._log is not None:
            self._log.close()
            self._log = None


def journal(path: Path) -> list[dict[str, Any]]:
    """The provider journal's complete records, in the order they were written."""
    if not path.exists():
        return []
    text = path.read_text(encoding="utf-8")
    return [json.loads(line) for line in text.splitlines(keepends=True) if line.endswith("\n")]


@attrs.define
class Setup:
    database: Database
    worker: Worker
    journal: Path
    bookings_exchange: str
    queue: str
    capture: str
    rabbit: RabbitAdmin
    #: (booking events handled, outbox rows unpublished) right after each kill -9.
    kills: list[tuple[int, int]] = attrs.field(factory=list)
    #: The provider keys of the refunds a kill -9 left PROCESSING, after the last one.
    left_processing: set[str] = attrs.field(factory=set)


@pytest.fixture
async def setup(postgres_url: str, rabbit: RabbitAdmin, tmp_path: Path) -> AsyncIterator[Setup]:
    payments = rabbit.exchange("payments")
    capture = await rabbit.capture(payments)
    bookings_exchange = rabbit.exchange("bookings")
    queue = rabbit.queue("bookings")
    provider_journal = tmp_path / "provider.jsonl"
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
        "TEST_PROVIDER_JOURNAL": str(provider_journal),
    }
    database = Database.from_url(postgres_url, cipher=CIPHER, pool_size=2)
    worker = Worker(env, tmp_path)
    try:
        yield Setup(database, worker, provider_journal, bookings_exchange, queue, capture, rabbit)
    finally:
        worker.close()
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
REFUNDS_PROCESSING = select(t.refunds.c.id, t.refunds.c.key_generation).where(
    t.refunds.c.status == "PROCESSING"
)
IN_FLIGHT = ["PENDING", "PROCESSING"]
PAYMENTS_IN_FLIGHT = (
    select(func.count()).select_from(t.payments).where(t.payments.c.status.in_(IN_FLIGHT))
)
REFUNDS_IN_FLIGHT = (
    select(func.count()).select_from(t.refunds).where(t.refunds.c.status.in_(IN_FLIGHT))
)


async def queue_declared(setup: Setup) -> None:
    async def declared() -> bool:
        # A consumer per routing key: each starts after its binding, so both bindings exist
        # (an event published to the exchange before that would be dropped by RabbitMQ).
        return await setup.rabbit.consumers(setup.queue) == 2

    await eventually(declared, within=60, every=0.1)


async def publish_created(
    setup: Setup,
    booking_id: UUID,
    amount: int,
    event_id: str,
    method: str | None = "pm_card_visa",
) -> None:
    data: dict[str, Any] = {
        "booking_id": str(booking_id),
        "guest_id": str(uuid4()),
        "amount": amount,
        "currency": "EUR",
        "payment_required": True,
    }
    if method is not None:
        data["payment_method"] = method
    await setup.rabbit.publish(
        setup.bookings_exchange,
        "booking.created",
        envelope("booking.created", data, event_id=event_id),
    )


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
    setup.left_processing = {
        f"refund-{r[0]}-{r[1]}" for r in await rows(setup.database, REFUNDS_PROCESSING)
    }
    setup.worker.start()


async def test_kill_9_while_consuming_relaying_and_refunding_loses_and_repeats_nothing(
    setup: Setup, rabbit: RabbitAdmin
) -> None:
    database = setup.database
    # Each refund waits 0.1 s before the provider call (PROCESSING here, nothing there yet)
    # and 0.3 s after it (the money moved, the answer not recorded yet): windows to kill in.
    setup.worker.env["TEST_PROVIDER_DELAYS"] = json.dumps({"refund": [0.1, 0.3]})
    setup.worker.start()
    await queue_declared(setup)

    bookings = [uuid4() for _ in range(60)]
    amounts = {b: 5_000 + i for i, b in enumerate(bookings)}
    created_ids = [f"created-{b}" for b in bookings]
    for booking_id, event_id in zip(bookings, created_ids, strict=True):
        await publish_created(setup, booking_id, amounts[booking_id], event_id)

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

    # Phase 2: booking.cancelled, refunding the completed payments (and the ones a kill left
    # PROCESSING, once reconciliation completes them). Kill mid-way again, and twice with a
    # refund in flight.
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

    async def refunding() -> bool:
        return await count(database, INBOX) >= len(bookings) + 6

    await kill_when(setup, refunding)

    caught: dict[str, set[str]] = {}

    async def refund_in_flight(window: str) -> bool:
        """A refund this worker started is in ``window``: ``"paid"`` (the provider paid it
        within the last 0.15 s and has not answered yet) or ``"unpaid"`` (not asked yet)."""
        # The database first: a refund PROCESSING then cannot complete before its answer.
        started = {
            f"refund-{r[0]}-{r[1]}" for r in await rows(database, REFUNDS_PROCESSING)
        } - setup.left_processing
        records = journal(setup.journal)
        called = {r["key"] for r in records if r["event"] == "call"}
        answered = {r["key"] for r in records if r["event"] == "answered"}
        recently_paid = {
            r["key"] for r in records if r["event"] == "refunded" and r["at"] > time.time() - 0.15
        }
        if window == "paid":
            caught[window] = (started & recently_paid) - answered
        else:
            caught[window] = started - called
        return bool(caught[window])

    await kill_when(setup, lambda: refund_in_flight("paid"))
    await kill_when(setup, lambda: refund_in_flight("unpaid"))

    # The last one: let it finish, then stop it cleanly.
    state: dict[str, int] = {}

    async def settled() -> bool:
        state["inbox"] = await count(database, INBOX)
        state["unpublished"] = await count(database, UNPUBLISHED)
        state["payments in flight"] = await count(database, PAYMENTS_IN_FLIGHT)
        state["refunds in flight"] = await count(database, REFUNDS_IN_FLIGHT)
        state["refunds completed"] = await count(
            database,
            select(func.count()).select_from(t.refunds).where(t.refunds.c.status == "COMPLETED"),
        )
        return list(state.values()) == [expected_inbox, 0, 0, 0, len(cancelled)]

    try:
        await eventually(settled, within=60, every=0.1)
    except TimeoutError:
        pytest.fail(f"not settled: {state}\n{setup.worker.stderr_tail()}")
    assert setup.worker.terminate() == 0, setup.worker.stderr_tail()
    assert setup.worker.starts == 8
    print("kills (handled, unpublished):", setup.kills)
    assert any(unpublished for _, unpublished in setup.kills), (
        f"no kill caught the relay with work in hand: {setup.kills}"
    )

    # No booking event handled twice: one inbox row each, one payment per booking.
    inbox = {r[0] for r in await rows(database, select(t.inbox.c.event_id))}
    assert inbox == set(created_ids) | {f"cancelled-{b}" for b in cancelled}
    payments = {
        r[0]: r[1:]
        for r in await rows(
            database,
            select(
                t.payments.c.booking_id,
                t.payments.c.id,
                t.payments.c.status,
                t.payments.c.amount,
                t.payments.c.amount_refunded,
                t.payments.c.amount_refund_pending,
            ),
        )
    }
    assert sorted(payments) == sorted(bookings), "one payment per booking"
    assert len({p[0] for p in payments.values()}) == len(bookings)

    # Every payment was charged (a kill between create and confirm is finished by the
    # redelivery, one between confirm and answer by reconciliation); every cancelled
    # booking's payment is refunded in full, exactly once; the others not at all.
    refunds = await rows(
        database,
        select(
            t.refunds.c.id,
            t.refunds.c.payment_id,
            t.refunds.c.booking_id,
            t.refunds.c.status,
            t.refunds.c.amount,
            t.refunds.c.key_generation,
            t.refunds.c.provider_refund_id,
        ),
    )
    refunds_by_booking: dict[UUID, list[Any]] = {}
    for refund in refunds:
        refunds_by_booking.setdefault(refund[2], []).append(refund)
    for booking_id in bookings:
        payment_id, status, amount, refunded, pending = payments[booking_id]
        assert (status, amount) == ("COMPLETED", amounts[booking_id]), booking_id
        if booking_id in cancelled:
            [refund] = refunds_by_booking.pop(booking_id)
            assert refund[1] == payment_id
            assert (refund[3], refund[4]) == ("COMPLETED", amount)
            assert (refunded, pending) == (amount, 0)
        else:
            assert booking_id not in refunds_by_booking
            assert (refunded, pending) == (0, 0)
    assert refunds_by_booking == {}

    # The provider paid each refund once, asked under one key only: the one in the database.
    records = journal(setup.journal)
    made: dict[str, list[dict[str, Any]]] = {}
    for record in records:
        if record["event"] == "refunded":
            made.setdefault(record["refund_id"], []).append(record)
    asked: dict[str, set[str]] = {}
    askers: dict[str, set[int]] = {}
    for record in records:
        if record["event"] == "call" and record["operation"] in ("refund", "retrieve_refund"):
            refund_id = record["key"].removeprefix("refund-").rsplit("-", 1)[0]
            asked.setdefault(refund_id, set()).add(record["key"])
            askers.setdefault(refund_id, set()).add(record["pid"])
    assert set(made) == {str(r[0]) for r in refunds}
    for refund_id, _, _, _, amount, generation, provider_refund_id in refunds:
        key = f"refund-{refund_id}-{generation}"
        payouts = made[str(refund_id)]
        assert len(payouts) == 1, f"refund {refund_id} paid {len(payouts)} times: {payouts}"
        [payout] = payouts
        assert (payout["key"], payout["amount"]) == (key, amount)
        assert payout["provider_refund_id"] == provider_refund_id
        assert asked[str(refund_id)] == {key}
    # A kill caught a refund between the provider's payout and the database: the next worker
    # asked again, with the same key, and got the first answer.
    retried = {r for r, pids in askers.items() if len(pids) > 1}
    print("refunds asked about by more than one worker:", len(retried), caught)
    paid_then_killed = {key.removeprefix("refund-").rsplit("-", 1)[0] for key in caught["paid"]}
    assert paid_then_killed
    assert paid_then_killed <= retried, "a refund paid by a killed worker was not asked again"

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
    await queue_declared(setup)
    await publish_created(setup, uuid4(), 100, f"created-{uuid4()}", method=None)

    async def handled() -> bool:
        return await count(setup.database, PUBLISHED) == 1

    await eventually(handled, within=30)
    assert setup.worker.terminate() == 0, setup.worker.stderr_tail()


async def test_sigterm_with_booking_events_in_flight_finishes_them_and_loses_none(
    setup: Setup, rabbit: RabbitAdmin
) -> None:
    database = setup.database
    # Each charge takes 0.4 s at the provider: at any moment one message is being handled.
    setup.worker.env["TEST_PROVIDER_DELAYS"] = json.dumps({"confirm_payment": [0.0, 0.4]})
    setup.worker.start()
    first = setup.worker.pid
    await queue_declared(setup)

    bookings = [uuid4() for _ in range(15)]
    created_ids = {b: f"created-{b}" for b in bookings}
    for i, booking_id in enumerate(bookings):
        await publish_created(setup, booking_id, 7_000 + i, created_ids[booking_id])

    def in_flight() -> set[str]:
        """The charges the first worker asked for and has no answer to yet."""
        open_calls: set[str] = set()
        for record in journal(setup.journal):
            if record["pid"] != first or record.get("operation") != "confirm_payment":
                continue
            if record["event"] == "call":
                open_calls.add(record["key"])
            elif record["event"] == "answered":
                open_calls.discard(record["key"])
        return open_calls

    async def mid_message() -> bool:
        return await count(database, INBOX) >= 3 and bool(in_flight())

    await eventually(mid_message, within=30, every=0.005)
    started = time.monotonic()
    rc = setup.worker.terminate(within=GRACEFUL_TIMEOUT + 5)
    took = time.monotonic() - started
    assert rc == 0, setup.worker.stderr_tail()
    assert took < GRACEFUL_TIMEOUT, f"stopped in {took:.1f} s"
    print(f"SIGTERM: exited 0 in {took:.2f} s")

    # The message in flight was finished, not abandoned: every charge the worker began was
    # answered in that worker (none cancelled), and nothing it touched is left half-done.
    assert in_flight() == set()
    errors = [r for r in journal(setup.journal) if r["event"] == "answered" and "error" in r]
    assert errors == []
    assert await count(database, PAYMENTS_IN_FLIGHT) == 0
    handled_by_first = await count(database, INBOX)
    assert handled_by_first < len(bookings), "the first worker had nothing left to hand over"

    # A new worker handles the rest: each event once, nothing dead-lettered.
    setup.worker.env["TEST_PROVIDER_DELAYS"] = "{}"
    setup.worker.start()
    state: dict[str, int] = {}

    async def done() -> bool:
        state["inbox"] = await count(database, INBOX)
        state["completed"] = await count(
            database,
            select(func.count()).select_from(t.payments).where(t.payments.c.status == "COMPLETED"),
        )
        state["unpublished"] = await count(database, UNPUBLISHED)
        return list(state.values()) == [len(bookings), len(bookings), 0]

    try:
        await eventually(done, within=30, every=0.05)
    except TimeoutError:
        pytest.fail(f"not done: {state}\n{setup.worker.stderr_tail()}")
    assert setup.worker.terminate() == 0, setup.worker.stderr_tail()

    inbox = {r[0] for r in await rows(database, select(t.inbox.c.event_id))}
    assert inbox == set(created_ids.values())
    per_booking = dict(
        await rows(
            database,
            select(t.payments.c.booking_id, func.count()).group_by(t.payments.c.booking_id),
        )
    )
    assert per_booking == dict.fromkeys(bookings, 1)
    # Charged once each: one confirm per payment across both workers, under its one key.
    payment_ids = {r[0] for r in await rows(database, select(t.payments.c.id))}
    confirms = [
        r["key"]
        for r in journal(setup.journal)
        if r["event"] == "call" and r["operation"] == "confirm_payment"
    ]
    assert sorted(confirms) == sorted(f"payment-{p}-confirm" for p in payment_ids)
    for queue in (setup.queue, f"{setup.queue}.retry", f"{setup.queue}.dlq"):
        assert await rabbit.count(queue) == 0, queue


async def test_a_worker_without_rabbitmq_does_the_database_work_and_stops_on_sigterm(
    sqlite_url: str, tmp_path: Path
) -> None:
    env = {
        **os.environ,
        "DATABASE_URL": sqlite_url,
        "ENCRYPTION_KEYS": CIPHER_KEYS,
        "ENVIRONMENT": "test",
        "LOG_LEVEL": "WARNING",
    }
    env.pop("RABBITMQ_URL", None)
    worker = Worker(env, tmp_path)
    worker.start()
    try:
        await asyncio.sleep(3)
        assert worker.process is not None
        assert worker.process.poll() is None, worker.stderr_tail()
        assert worker.terminate() == 0, worker.stderr_tail()
    finally:
        worker.close()

"""Events: the relay's confirmed publishes per second against the rate at which create-payment
produces events, and the commit-to-confirm lag at half load.

One run, on a fresh PostgreSQL database (``payments_bench_<hex>``, dropped at the end) and the
local RabbitMQ (an exchange and a durable queue of its own, deleted at the end; a consumer
drains the queue all along, so confirms include RabbitMQ persisting each message to it):

1. **produce**: ``--clients`` asyncio tasks call ``services.payments.create`` (the fake
   provider, the unit of work with its outbox row and ``NOTIFY``) for ``--seconds`` with the
   relay stopped: events per second (one ``payment.initiated`` per payment);
2. **relay**: one relay as the service runs it (``SqlOutbox`` leases of 500, two rounds
   overlapping, stream-ordered publishing with up to 64 confirms in flight per round,
   ``FastStreamPublisher``) drains that backlog: confirmed publishes per second. Steps 1 and
   2 alternate ``--runs`` times (medians);
3. **lag at half load**: the relay runs as in ``serve`` (woken by ``LISTEN``, same process and
   event loop as the producers) while payments are created open-loop at half the measured
   produce rate (or ``--rate``, e.g. half of ``bench/http.py``'s create rate) for
   ``--seconds``; for each event, the time from its commit (the create call returning) to
   the broker's confirm: p50, p99, max.

    .venv/bin/python bench/events.py [--seconds 10] [--clients 16] [--runs 3] [--rate N]
                                     [--http-rate N]
"""

# ruff: noqa: E402, ASYNC110 - sys.path is fixed before any import; polling counters is the point
from __future__ import annotations

import sys
from pathlib import Path

# bench/http.py would shadow the standard library's http package (FastStream imports it).
BENCH = Path(__file__).resolve().parent
sys.path[:] = [p for p in sys.path if Path(p or ".").resolve() != BENCH]

import argparse
import asyncio
import contextlib
import secrets
import statistics
import time
from typing import Any
from uuid import UUID, uuid4

import aio_pika
from faststream.rabbit import RabbitBroker

from payment_adapters.bootstrap import service_config
from payment_adapters.crypto import FieldCipher, generate_key
from payment_adapters.messaging.publishers import FastStreamPublisher, OutboxMessage
from payment_adapters.messaging.relay import OutboxRelay
from payment_adapters.settings import Settings
from payment_adapters.sqlalchemy import Database
from payment_adapters.sqlalchemy.outbox import SqlOutbox
from payment_adapters.sqlalchemy.testing import create_database, drop_database, server_url
from payment_core.services import CreatePayment, Dependencies, ProviderRegistry, Services
from payment_core.system import SystemClock, SystemIds
from payment_core.testing import FakeProvider

CIPHER = FieldCipher.from_keys(generate_key("bench"))
TARGETS = {"relay_over_produce": 1.2, "p99_ms": 500.0}


def services_over(database: Database) -> Services:
    deps = Dependencies(
        uow=database.uow,
        providers=ProviderRegistry([FakeProvider()]),
        clock=SystemClock(),
        ids=SystemIds(),
        config=service_config(Settings(environment="test")),
    )
    return Services.build(deps)


def command() -> CreatePayment:
    return CreatePayment(
        booking_id=uuid4(),
        guest_id=uuid4(),
        amount=12_500,
        currency="EUR",
        description="Room 12, 2 nights",
        metadata={"channel": "web"},
    )


async def produce(services: Services, clients: int, seconds: float) -> float:
    """Payments (= events) per second, closed loop."""
    done = 0
    stop_at = time.monotonic() + seconds

    async def client() -> None:
        nonlocal done
        while time.monotonic() < stop_at:
            await services.payments.create(command())
            done += 1

    started = time.monotonic()
    await asyncio.gather(*(client() for _ in range(clients)))
    return done / (time.monotonic() - started)


async def drain(relay: OutboxRelay, outbox: SqlOutbox) -> tuple[int, float]:
    """Run the relay as the service does until the backlog is gone: confirmed per second."""
    backlog = await outbox.unpublished_count()
    before = relay.stats.published
    stop = asyncio.Event()
    started = time.monotonic()
    running = asyncio.create_task(relay.run(stop))
    while relay.stats.published - before < backlog:
        await asyncio.sleep(0.01)
    elapsed = time.monotonic() - started
    stop.set()
    await running
    return backlog, backlog / elapsed


async def lag_at(
    services: Services, relay: OutboxRelay, rate: float, seconds: float
) -> list[float]:
    """Commit-to-confirm lag of each event while payments are created at ``rate`` per second."""
    committed: dict[UUID, float] = {}
    confirmed: dict[UUID, float] = {}

    def on_confirmed(message: OutboxMessage, at: float) -> None:
        confirmed.setdefault(message.stream_id, at)

    relay.on_confirmed = on_confirmed
    stop = asyncio.Event()
    relaying = asyncio.create_task(relay.run(stop))
    await asyncio.sleep(0.5)
    tasks: set[asyncio.Task[None]] = set()

    async def create_one() -> None:
        payment = await services.payments.create(command())
        committed[payment.id] = time.monotonic()

    interval = 1.0 / rate
    start = time.monotonic()
    n = 0
    while (due := start + n * interval) < start + seconds:  # open loop: on schedule
        await asyncio.sleep(max(0.0, due - time.monotonic()))
        task = asyncio.create_task(create_one())
        tasks.add(task)
        task.add_done_callback(tasks.discard)
        n += 1
    await asyncio.gather(*tasks)
    deadline = time.monotonic() + 30
    while len(confirmed) < len(committed) and time.monotonic() < deadline:
        await asyncio.sleep(0.05)
    stop.set()
    await relaying
    relay.on_confirmed = None
    missing = len(committed) - len(confirmed.keys() & committed.keys())
    if missing:
        raise SystemExit(f"{missing} events were not confirmed within 30 s")
    return [max(0.0, confirmed[k] - t) for k, t in committed.items()]


def percentile(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(q * (len(ordered) - 1)))]


async def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.partition("\n")[0])
    parser.add_argument("--seconds", type=float, default=10)
    parser.add_argument("--clients", type=int, default=16)
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--server", default=server_url(), help="PostgreSQL maintenance URL")
    parser.add_argument("--rabbitmq", default="amqp://guest:guest@127.0.0.1:5672/")
    parser.add_argument(
        "--rate",
        type=float,
        default=None,
        help="events/s for the lag measurement (default: half of --http-rate, else half the "
        "measured produce rate)",
    )
    parser.add_argument(
        "--http-rate",
        type=float,
        default=None,
        help="create-payment requests/s that bench/http.py measured on this machine: the "
        "relay's target is 1.2x that",
    )
    args = parser.parse_args()

    suffix = secrets.token_hex(4)
    exchange, queue_name = f"bench.payments.{suffix}", f"bench.events.{suffix}"
    url = await create_database("payments_bench", server=args.server)
    database = Database.from_url(url, cipher=CIPHER, pool_size=args.clients)
    admin = await aio_pika.connect(args.rabbitmq, timeout=5)
    broker = RabbitBroker(args.rabbitmq, logger=None)
    delivered = 0
    try:
        await database.migrate()
        channel = await admin.channel()
        ex = await channel.declare_exchange(exchange, aio_pika.ExchangeType.TOPIC, durable=True)
        queue = await channel.declare_queue(queue_name, durable=True)
        await queue.bind(ex, routing_key="#")

        async def count(message: aio_pika.abc.AbstractIncomingMessage) -> None:
            nonlocal delivered
            delivered += 1

        await queue.consume(count, no_ack=True)
        await broker.connect()
        services = services_over(database)
        outbox = SqlOutbox(database.engine, database.cipher)
        # As BackgroundWork runs it on PostgreSQL: two overlapping rounds, batches of 500.
        relay = OutboxRelay(outbox, FastStreamPublisher(broker, exchange=exchange), concurrency=2)
        await produce(services, args.clients, 1.0)  # warm up connections and caches
        await drain(relay, outbox)

        produced: list[float] = []
        relayed: list[float] = []
        for run in range(1, args.runs + 1):
            produced.append(await produce(services, args.clients, args.seconds))
            backlog, rate = await drain(relay, outbox)
            relayed.append(rate)
            print(
                f"run {run}: produce {produced[-1]:7.0f} events/s   "
                f"relay {relayed[-1]:7.0f} confirmed/s ({backlog} events)"
            )

        produce_rate, relay_rate = statistics.median(produced), statistics.median(relayed)
        listener = outbox.listener()
        assert listener is not None
        await listener.start()
        relay.wakeups = listener
        half = args.rate or (args.http_rate or produce_rate) / 2
        lags = await lag_at(services, relay, half, args.seconds)
        await listener.close()
        with contextlib.suppress(TimeoutError):
            async with asyncio.timeout(10):
                while delivered < relay.stats.published:
                    await asyncio.sleep(0.05)
    finally:
        await broker.stop()
        with contextlib.suppress(Exception):
            cleanup = await admin.channel()
            await cleanup.queue_delete(queue_name)
            await cleanup.exchange_delete(exchange)
        await admin.close()
        await database.dispose()
        await drop_database(url, server=args.server)

    p50, p99 = percentile(lags, 0.50) * 1000, percentile(lags, 0.99) * 1000
    ratio = relay_rate / produce_rate
    print()
    print(
        f"{args.clients} producers, {args.runs} runs of {args.seconds:g} s; "
        f"{relay.stats.published} events confirmed, {delivered} delivered to the queue"
    )
    print(f"produce (median):        {produce_rate:7.0f} events/s")
    print(f"relay   (median):        {relay_rate:7.0f} confirmed publishes/s")
    if args.http_rate:
        print(
            f"ratio relay / produce:   {ratio:7.2f}  (creates in process, no HTTP: for reference)"
        )
        print(
            f"ratio relay / HTTP creates ({args.http_rate:.0f}/s): "
            f"{relay_rate / args.http_rate:5.2f}  (target >= {TARGETS['relay_over_produce']})"
        )
    else:
        print(
            f"ratio relay / produce:   {ratio:7.2f}  (target >= {TARGETS['relay_over_produce']}; "
            "stricter than against bench/http.py's rate, see --http-rate)"
        )
    print(
        f"lag at half load ({half:.0f}/s, {len(lags)} events): "
        f"p50 {p50:.1f} ms, p99 {p99:.1f} ms, max {max(lags) * 1000:.1f} ms "
        f"(target p99 < {TARGETS['p99_ms']:.0f} ms)"
    )
    summary: dict[str, Any] = {
        "produce_per_s": round(produce_rate),
        "relay_per_s": round(relay_rate),
        "ratio": round(ratio, 2),
        "relay_over_http": round(relay_rate / args.http_rate, 2) if args.http_rate else None,
        "lag_p50_ms": round(p50, 1),
        "lag_p99_ms": round(p99, 1),
    }
    print(summary)


if __name__ == "__main__":
    asyncio.run(main())

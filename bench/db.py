"""Create-payment transactions per second through the repositories, against pgbench.

Both sides write the same thing to the same fresh database in the same run: one payment row
(its client secret, description and metadata sealed with AES-256-GCM) and one outbox row (the
CloudEvents JSON of ``payment.initiated``), in one transaction. Since 6 December 2026 that
transaction no longer notifies: ours wakes the relay after the commit, at most once per
10 ms per process (``sqlalchemy/_wake.py``). ``--notify-in-transaction`` gives pgbench the
statement as it was before, with ``pg_notify`` inside, for the before/after comparison.

- **ours**: ``clients`` asyncio tasks in one process, each looping over
  ``async with db.uow() as uow: await uow.payments.add(payment); await uow.commit()`` with a
  freshly built ``Payment`` (so the domain object, the encryption, the event encoding and
  SQLAlchemy are all in the measured path).
- **pgbench**: ``clients`` connections (``-M prepared``) running a script with the statement
  our unit of work sends (``BEGIN``; the data-modifying CTEs; ``COMMIT``),
  with literal values of the same sizes and server-generated ids.

Runs alternate (ours, pgbench, ours, ...) so that drift in the machine's load hits both;
the medians and their ratio are printed, with the round trips of one create (counted with
SQLAlchemy's events on a warm connection: statements, BEGIN and COMMIT).

    .venv/bin/python bench/db.py [--clients 16] [--seconds 10] [--runs 3]
        [--processes 2] [--no-notify] [--notify-in-transaction] [--compare-sqlalchemy-path]
"""

from __future__ import annotations

import argparse
import asyncio
import multiprocessing
import re
import shutil
import statistics
import tempfile
import time
from concurrent.futures import ProcessPoolExecutor
from pathlib import Path
from uuid import uuid4

from sqlalchemy import event, text
from sqlalchemy.engine import make_url

from payment_adapters.crypto import FieldCipher, generate_key
from payment_adapters.messaging.codec import encode_event
from payment_adapters.sqlalchemy import Database
from payment_adapters.sqlalchemy import tables as t
from payment_adapters.sqlalchemy.mapping import payment_to_row
from payment_adapters.sqlalchemy.testing import create_database, drop_database, server_url
from payment_core.ids import new_reference, uuid7
from payment_core.model.payment import Payment
from payment_core.money import Currency, Money
from payment_core.system import SystemClock

CIPHER = FieldCipher.from_keys(generate_key("bench"))
EUR = Currency.of("EUR")
CLOCK = SystemClock()


def new_payment() -> Payment:
    """What ``PaymentService.create`` builds after the provider answered."""
    payment_id = uuid7()
    return Payment.initiate(
        id=payment_id,
        reference=new_reference("pay"),
        booking_id=uuid4(),
        guest_id=uuid4(),
        amount=Money(12_500, EUR),
        provider="fake",
        now=CLOCK.now(),
        event_id=uuid7(),
        payment_method="pm_card_visa",
        provider_payment_id=f"pi_fake_{payment_id.hex}",
        client_secret=f"pi_fake_{payment_id.hex}_secret_{uuid4().hex[:16]}",
        description="Room 12, 2 nights",
        metadata={"channel": "web", "room": "12"},
    )


# ------------------------------------------------------------------ ours
def _ignore_statement(conn, cursor, statement, parameters, context, executemany) -> None:
    """A statement listener that does nothing: it sends commits SQLAlchemy's execute path."""


async def _work(
    url: str, clients: int, start_at: float, stop_at: float, notify: bool, via_sqlalchemy: bool
) -> int:
    """One process: ``clients`` tasks creating payments between two wall-clock instants."""
    database = Database.from_url(url, cipher=CIPHER, pool_size=clients, notify=notify)
    if via_sqlalchemy:
        event.listen(database.engine.sync_engine, "before_cursor_execute", _ignore_statement)
    done = 0

    async def create() -> None:
        async with database.uow() as uow:
            await uow.payments.add(new_payment())
            await uow.commit()

    async def client() -> None:
        nonlocal done
        while time.time() < stop_at:
            await create()
            done += 1

    try:
        # Open every connection and prepare the statement before the clock starts.
        await asyncio.gather(*(create() for _ in range(clients)))
        await asyncio.sleep(max(0.0, start_at - time.time()))
        await asyncio.gather(*(client() for _ in range(clients)))
    finally:
        await database.dispose()
    return done


def _worker(
    url: str, clients: int, start_at: float, stop_at: float, notify: bool, via_sqlalchemy: bool
) -> int:
    return asyncio.run(_work(url, clients, start_at, stop_at, notify, via_sqlalchemy))


async def run_ours(
    url: str,
    clients: int,
    seconds: float,
    *,
    processes: int = 1,
    notify: bool = True,
    via_sqlalchemy: bool = False,
) -> float:
    """Transactions per second: ``clients`` tasks spread over ``processes`` processes."""
    start_at = time.time() + 3.0  # time for the processes to start and warm up
    stop_at = start_at + seconds
    shares = [clients // processes + (i < clients % processes) for i in range(processes)]
    loop = asyncio.get_running_loop()
    context = multiprocessing.get_context("spawn")
    with ProcessPoolExecutor(max_workers=processes, mp_context=context) as pool:
        counts = await asyncio.gather(
            *(
                loop.run_in_executor(
                    pool, _worker, url, share, start_at, stop_at, notify, via_sqlalchemy
                )
                for share in shares
            )
        )
    return sum(counts) / seconds


async def round_trips(url: str) -> tuple[int, list[str]]:
    """Round trips of one create on a warm connection: statements + BEGIN + COMMIT.

    SQLAlchemy fires its ``begin`` event for autocommit connections too, where asyncpg sends
    no BEGIN; those are not counted. Listening to the statement events sends the create
    SQLAlchemy's way rather than straight to asyncpg (the statement is the same);
    tests/integration/test_sql_round_trips.py counts both on the wire, through a TCP proxy.
    """
    database = Database.from_url(url, cipher=CIPHER, pool_size=1)
    statements: list[str] = []
    shape: list[str] = []
    control = [0]

    @event.listens_for(database.engine.sync_engine, "before_cursor_execute")
    def _statement(conn, cursor, statement, parameters, context, executemany):
        statements.append(statement)
        shape.append(re.sub(r"\s+", " ", statement)[:60] + "...")

    @event.listens_for(database.engine.sync_engine, "begin")
    def _begin(conn):
        if conn.get_execution_options().get("isolation_level") != "AUTOCOMMIT":
            control[0] += 1
            shape.append("BEGIN")

    @event.listens_for(database.engine.sync_engine, "commit")
    def _commit(conn):
        if conn.get_execution_options().get("isolation_level") != "AUTOCOMMIT":
            control[0] += 1
            shape.append("COMMIT")

    try:
        for _ in range(2):  # the first warms the connection and its statement cache
            statements.clear()
            shape.clear()
            control[0] = 0
            async with database.uow() as uow:
                await uow.payments.add(new_payment())
                await uow.commit()
    finally:
        await database.dispose()
    return len(statements) + control[0], shape


# ------------------------------------------------------------------ pgbench
def _literal(value: object) -> str:
    if value is None:
        return "NULL"
    if isinstance(value, bytes):
        return f"'\\x{value.hex()}'::bytea"
    if isinstance(value, int):
        return str(value)
    return "'" + str(value).replace("'", "''") + "'"


def pgbench_script(*, notify: bool = True) -> str:
    """Our unit of work's statement for one create, with literals of the same sizes."""
    payment = new_payment()
    row = payment_to_row(payment, CIPHER)
    generated = {
        "id": "gen_random_uuid()",
        "reference": "'pay_' || substr(md5(random()::text), 1, 26)",
        "booking_id": "gen_random_uuid()",
        "guest_id": "gen_random_uuid()",
        "created_at": "now()",
        "updated_at": "now()",
    }
    columns = [c.name for c in t.payments.columns]
    values = [generated.get(c) or _literal(row[c]) for c in columns]
    body = encode_event(payment.events[0])
    return (
        "BEGIN;\n"
        f"WITH ins_payments AS (INSERT INTO payments ({', '.join(columns)}) "
        f"VALUES ({', '.join(values)})), "
        "ins_outbox AS (INSERT INTO outbox (id, type, stream_id, body, created_at) "
        f"VALUES (gen_random_uuid(), 'payment.initiated', gen_random_uuid(), {_literal(body)}, "
        "now())) SELECT " + ("pg_notify('payments_outbox', '')" if notify else "1") + ";\n"
        "COMMIT;\n"
    )


def _pgbench_binary() -> str:
    found = shutil.which("pgbench")
    if found:
        return found
    candidates = sorted(Path("/usr/lib/postgresql").glob("*/bin/pgbench"))
    if not candidates:
        raise SystemExit("pgbench is not installed (it comes with PostgreSQL)")
    return str(candidates[-1])


async def run_pgbench(url: str, script: Path, clients: int, seconds: int) -> float:
    parsed = make_url(url)
    process = await asyncio.create_subprocess_exec(
        _pgbench_binary(), "-n", "-M", "prepared", "-c", str(clients), "-j", "2",
        "-T", str(seconds), "-f", str(script),
        "-h", parsed.host or "127.0.0.1", "-p", str(parsed.port or 5432),
        "-U", parsed.username or "postgres", parsed.database or "",
        stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.PIPE,
    )
    out, err = await process.communicate()
    if process.returncode != 0:
        raise SystemExit(f"pgbench failed: {err.decode()[-500:]}")
    match = re.search(r"tps = ([0-9.]+) \(without initial connection time\)", out.decode())
    if match is None:
        raise SystemExit(f"cannot read pgbench's output:\n{out.decode()}")
    return float(match.group(1))


# ------------------------------------------------------------------ main
async def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.partition("\n")[0])
    parser.add_argument("--clients", type=int, default=16)
    parser.add_argument("--seconds", type=int, default=10)
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--server", default=server_url(), help="maintenance database URL")
    parser.add_argument("--processes", type=int, default=1,
                        help="spread the clients over this many processes (pgbench: -j 2)")
    parser.add_argument("--no-notify", action="store_true",
                        help="ours without the relay's wake-ups (Database.from_url(notify=False))")
    parser.add_argument("--notify-in-transaction", action="store_true",
                        help="pgbench's statement as before 6 December 2026: with pg_notify")
    parser.add_argument("--compare-sqlalchemy-path", action="store_true",
                        help="also run ours through SQLAlchemy's execute path, each run")
    args = parser.parse_args()
    notify = not args.no_notify

    url = await create_database("payments_bench", server=args.server)
    database = Database.from_url(url, cipher=CIPHER, pool_size=2)
    ours: list[float] = []
    usual: list[float] = []
    theirs: list[float] = []
    try:
        await database.migrate()
        trips, shape = await round_trips(url)
        with tempfile.TemporaryDirectory() as tmp:
            script = Path(tmp) / "create_payment.sql"
            script.write_text(pgbench_script(notify=args.notify_in_transaction))
            for run in range(1, args.runs + 1):
                ours.append(await run_ours(url, args.clients, args.seconds,
                                           processes=args.processes, notify=notify))
                if args.compare_sqlalchemy_path:
                    usual.append(await run_ours(url, args.clients, args.seconds,
                                                processes=args.processes, notify=notify,
                                                via_sqlalchemy=True))
                theirs.append(await run_pgbench(url, script, args.clients, args.seconds))
                also = f"   via SQLAlchemy {usual[-1]:8.0f} tx/s" if usual else ""
                print(f"run {run}: ours {ours[-1]:8.0f} tx/s{also}   "
                      f"pgbench {theirs[-1]:8.0f} tx/s")
        async with database.engine.connect() as conn:
            rows = (await conn.execute(text("SELECT count(*) FROM payments"))).scalar()
    finally:
        await database.dispose()
        await drop_database(url, server=args.server)

    mine, bench = statistics.median(ours), statistics.median(theirs)
    print()
    print(f"clients {args.clients} ({args.processes} process(es)), {args.runs} runs of "
          f"{args.seconds} s, {rows} payments written, wake-ups {'on' if notify else 'off'}, "
          f"pgbench {'with' if args.notify_in_transaction else 'without'} pg_notify")
    print(f"round trips per create: {trips} ({' | '.join(shape)})")
    print(f"repositories (median): {mine:8.0f} tx/s")
    if usual:
        print(f"  via SQLAlchemy's execute path (median): {statistics.median(usual):8.0f} tx/s "
              f"(ratio {statistics.median(usual) / statistics.median(theirs):.2f})")
    print(f"pgbench      (median): {bench:8.0f} tx/s")
    print(f"ratio: {mine / bench:.2f} (target >= 0.60)")


if __name__ == "__main__":
    asyncio.run(main())

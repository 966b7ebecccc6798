"""One parametrised ``storage`` fixture over every implementation of the storage ports.

- ``memory``: ``payment_core.testing``'s in-memory store and unit of work.
- ``sqlite``: a temporary SQLite file, migrated once per run.
- ``postgres``: a fresh database on the local server (``payments_test_<hex>``), created and
  migrated once per run and dropped at the end. An unreachable server is an error, not a skip.

SQL tables are emptied before each test, so every test starts from nothing, as with memory.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Callable, Coroutine, Iterator
from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import Any, TypeVar
from uuid import UUID, uuid4

import asyncpg
import attrs
import pytest
from sqlalchemy import delete, select, text

from payment_adapters.crypto import FieldCipher, generate_key
from payment_adapters.idempotency import IdempotencyStore, InMemoryIdempotencyStore
from payment_adapters.sqlalchemy import Database
from payment_adapters.sqlalchemy import tables as t
from payment_adapters.sqlalchemy.testing import create_database, drop_database, server_url
from payment_core.ids import new_reference
from payment_core.model.billing import BillingRecord, BillingRecordType
from payment_core.model.dispute import Dispute
from payment_core.model.invoice import Invoice, LineItem
from payment_core.model.payment import CaptureMethod, Card, NextAction, Payment
from payment_core.model.payment_method import PaymentMethod
from payment_core.model.refund import Refund
from payment_core.money import Currency, Money
from payment_core.ports import UnitOfWork
from payment_core.testing import InMemoryStore, InMemoryUnitOfWork

T = TypeVar("T")

BACKENDS = ["memory", "sqlite", "postgres"]
#: Concurrent tasks per backend in the concurrency cases (SQLite has one writer at a time).
CONCURRENCY = {"memory": 32, "sqlite": 8, "postgres": 32}
CIPHER = FieldCipher.from_keys(generate_key("contract"))


@attrs.define
class OutboxRow:
    sequence: int
    id: UUID
    type: str
    stream_id: UUID
    published: bool


@attrs.define
class Storage:
    """What a contract test needs from a backend."""

    name: str
    uow: Callable[[], UnitOfWork]
    idempotency: IdempotencyStore
    database: Database | None = None
    store: InMemoryStore | None = None

    @property
    def tasks(self) -> int:
        return CONCURRENCY[self.name]

    async def add(self, *items: Any) -> None:
        """Add payments, refunds, invoices and billing records in one unit of work; commit."""
        async with self.uow() as uow:
            for item in items:
                if isinstance(item, BillingRecord):
                    await uow.billing.add(item)
                else:
                    await _repository(uow, item).add(item)
            await uow.commit()

    async def update(self, aggregate: Any) -> None:
        """Save one aggregate in a unit of work of its own."""
        async with self.uow() as uow:
            await _repository(uow, aggregate).update(aggregate)
            await uow.commit()

    async def outbox(self) -> list[OutboxRow]:
        """Every committed outbox row, in sequence order."""
        if self.store is not None:
            return [
                OutboxRow(
                    e.sequence,
                    e.event.event_id,
                    e.event.type,
                    e.event.stream_id,
                    e.published_at is not None,
                )
                for e in self.store.outbox
            ]
        assert self.database is not None
        async with self.database.engine.connect() as conn:
            rows = (await conn.execute(select(t.outbox).order_by(t.outbox.c.sequence))).all()
        return [
            OutboxRow(r.sequence, r.id, r.type, r.stream_id, r.published_at is not None)
            for r in rows
        ]


def _repository(uow: UnitOfWork, aggregate: Any) -> Any:
    if isinstance(aggregate, Payment):
        return uow.payments
    if isinstance(aggregate, Refund):
        return uow.refunds
    if isinstance(aggregate, Invoice):
        return uow.invoices
    if isinstance(aggregate, PaymentMethod):
        return uow.payment_methods
    if isinstance(aggregate, Dispute):
        return uow.disputes
    raise TypeError(type(aggregate).__name__)


# ------------------------------------------------------------------ databases, once per run
def run_aside(coroutine: Coroutine[Any, Any, T]) -> T:
    """Run a coroutine to completion on a private loop in another thread.

    Session fixtures are first requested from inside a test's running loop, where
    ``asyncio.run`` is not allowed; their connections must not outlive that loop anyway.
    """
    with ThreadPoolExecutor(max_workers=1) as pool:
        return pool.submit(asyncio.run, coroutine).result()


@pytest.fixture(scope="session")
def postgres_url() -> Iterator[str]:
    try:
        url = run_aside(create_database("payments_test"))
    except (OSError, asyncpg.PostgresError) as exc:
        # Fail, never skip: a suite that silently skips its database tests proves nothing.
        pytest.fail(f"PostgreSQL is not reachable at {server_url()}: {type(exc).__name__}: {exc}")
    try:
        run_aside(_migrate(url))
        yield url
    finally:
        run_aside(drop_database(url))


@pytest.fixture(scope="session")
def sqlite_url(tmp_path_factory: pytest.TempPathFactory) -> str:
    path: Path = tmp_path_factory.mktemp("sqlite") / "contract.db"
    url = f"sqlite+aiosqlite:///{path}"
    run_aside(_migrate(url))
    return url


async def _migrate(url: str) -> None:
    database = Database.from_url(url, cipher=CIPHER)
    try:
        await database.migrate()
    finally:
        await database.dispose()


async def empty_tables(database: Database) -> None:
    async with database.engine.begin() as conn:
        if database.dialect_name == "postgresql":
            names = ", ".join(table.name for table in t.metadata.sorted_tables)
            await conn.execute(text(f"TRUNCATE {names} RESTART IDENTITY"))
        else:
            for table in reversed(t.metadata.sorted_tables):
                await conn.execute(delete(table))


@pytest.fixture(params=BACKENDS)
async def storage(request: pytest.FixtureRequest) -> AsyncIterator[Storage]:
    name: str = request.param
    if name == "memory":
        store = InMemoryStore()
        yield Storage(
            name, lambda: InMemoryUnitOfWork(store), InMemoryIdempotencyStore(), store=store
        )
        return
    url = request.getfixturevalue("postgres_url" if name == "postgres" else "sqlite_url")
    database = Database.from_url(url, cipher=CIPHER, pool_size=CONCURRENCY[name] + 2)
    try:
        await empty_tables(database)
        yield Storage(name, database.uow, database.idempotency, database=database)
    finally:
        await database.dispose()


# ------------------------------------------------------------------ builders
#: A timestamp with microseconds, in UTC, as every backend must give back unchanged.
T0 = datetime(2026, 3, 4, 5, 6, 7, 123456, tzinfo=UTC)
EUR = Currency.of("EUR")


def at(seconds: float) -> datetime:
    return T0 + timedelta(seconds=seconds)


def make_payment(**overrides: Any) -> Payment:
    """A payment with every optional field set (override to taste)."""
    fields: dict[str, Any] = {
        "id": uuid4(),
        "reference": new_reference("pay"),
        "booking_id": uuid4(),
        "guest_id": uuid4(),
        "amount": Money(12_500, EUR),
        "provider": "fake",
        "now": T0,
        "event_id": uuid4(),
        "payment_method": "pm_card_visa",
        "provider_payment_id": f"pi_fake_{uuid4().hex}",
        "client_secret": f"pi_secret_{uuid4().hex}",
        "description": "Room 12, 2 nights, Zoë's stay",
        "metadata": {"room": "12", "note": "late arrival ✓"},
    }
    fields.update(overrides)
    return Payment.initiate(**fields)


def make_completed_payment(**overrides: Any) -> Payment:
    """A COMPLETED payment with a card (its events dropped: tests add their own)."""
    payment = make_payment(**overrides)
    payment.start_processing(
        now=at(1), payment_method="pm_card_visa", reconcile_after=timedelta(minutes=5)
    )
    payment.complete(
        now=at(2),
        event_id=uuid4(),
        card=Card(brand="visa", last4="4242", exp_month=12, exp_year=2034),
    )
    payment.events.clear()
    return payment


def make_hold(expires_at: datetime | None = None, **overrides: Any) -> Payment:
    """An AUTHORIZED payment holding its whole amount until ``expires_at`` (a week on)."""
    payment = make_payment(capture_method=CaptureMethod.MANUAL, **overrides)
    payment.start_processing(
        now=at(1), payment_method="pm_card_visa", reconcile_after=timedelta(minutes=5)
    )
    payment.authorize(
        now=at(2),
        event_id=uuid4(),
        amount_capturable=payment.amount.amount,
        expires_at=expires_at or at(7 * 86_400),
        card=Card(brand="visa", last4="4242", exp_month=12, exp_year=2034),
    )
    payment.events.clear()
    return payment


def make_payment_method(**overrides: Any) -> PaymentMethod:
    """An ACTIVE saved card with a token and a customer that must never leak."""
    fields: dict[str, Any] = {
        "id": uuid4(),
        "guest_id": uuid4(),
        "provider": "fake",
        "provider_token": f"pm_saved_{uuid4().hex}",
        "provider_customer_id": f"cus_{uuid4().hex}",
        "card": Card(brand="mastercard", last4="4444", exp_month=1, exp_year=2031),
        "payment_id": uuid4(),
        "now": T0,
    }
    fields.update(overrides)
    return PaymentMethod.save(**fields)


def make_refund(payment: Payment, amount: int = 500, **overrides: Any) -> Refund:
    fields: dict[str, Any] = {
        "id": uuid4(),
        "reference": new_reference("re"),
        "payment_id": payment.id,
        "booking_id": payment.booking_id,
        "guest_id": payment.guest_id,
        "amount": Money(amount, payment.amount.currency),
        "provider": payment.provider,
        "reason": "requested_by_customer",
        "now": T0,
        "event_id": uuid4(),
    }
    fields.update(overrides)
    return Refund.create(**fields)


def make_invoice(**overrides: Any) -> Invoice:
    fields: dict[str, Any] = {
        "id": uuid4(),
        "booking_id": uuid4(),
        "guest_id": uuid4(),
        "currency": EUR,
        "now": T0,
        "line_items": [
            LineItem(description="Room", quantity=2, unit_amount=10_000, tax_rate_bps=1000),
            LineItem(description="Breakfast", quantity=3, unit_amount=1_250, tax_rate_bps=700),
        ],
        "due_date": date(2026, 12, 31),
        "notes": "Thank you, Zoë — see you soon",
    }
    fields.update(overrides)
    return Invoice.draft(**fields)


def make_record(
    previous: BillingRecord | None,
    *,
    booking_id: UUID | None = None,
    guest_id: UUID | None = None,
    created_at: datetime = T0,
    amount: int = 1000,
) -> BillingRecord:
    booking = booking_id or (previous.booking_id if previous else uuid4())
    return BillingRecord.append_to(
        previous,
        id=uuid4(),
        type=BillingRecordType.CHARGE,
        booking_id=booking,
        guest_id=guest_id or (previous.guest_id if previous else uuid4()),
        amount=Money(amount, EUR),
        description="Payment",
        created_at=created_at,
        payment_id=uuid4(),
    )


def state(aggregate: Any) -> dict[str, Any]:
    """Every field of an aggregate but its pending events, for equality checks."""
    values = attrs.asdict(aggregate, recurse=False)
    values.pop("events", None)
    return values


class Builders:
    """The builders above, handed to tests as the ``build`` fixture (test modules cannot
    import from a conftest)."""

    T0 = T0
    EUR = EUR
    at = staticmethod(at)
    payment = staticmethod(make_payment)
    completed_payment = staticmethod(make_completed_payment)
    hold = staticmethod(make_hold)
    payment_method = staticmethod(make_payment_method)
    refund = staticmethod(make_refund)
    invoice = staticmethod(make_invoice)
    record = staticmethod(make_record)
    state = staticmethod(state)
    card = Card
    next_action = NextAction


@pytest.fixture
def build() -> Builders:
    return Builders()

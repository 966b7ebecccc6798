"""Encryption at rest, on SQLite and PostgreSQL: a dump after a full flow gives nothing away;
keys rotate.

The flow creates, confirms (3-D Secure, completed by a stored provider webhook) and refunds a
payment, issues an invoice with notes, handles a booking event (inbox), stores an idempotent
response holding the payment's view, and tries to slip card numbers in. Its events wait in
the outbox, unpublished. Then every value of every column of every table is searched: from
``pg_dump --data-only`` on PostgreSQL (``bytea`` values decoded from hex), from the database
file on SQLite (every table in ``sqlite_master``, and the raw bytes of the file and its WAL).
"""

from __future__ import annotations

import asyncio
import base64
import json
import re
import secrets
import shutil
import sqlite3
from collections.abc import AsyncIterator, Awaitable, Callable, Iterable
from datetime import timedelta
from pathlib import Path
from uuid import UUID, uuid4

import attrs
import pytest
from sqlalchemy import insert, select
from sqlalchemy.engine import make_url

from payment_adapters.crypto import FieldCipher, generate_key, key_id_of
from payment_adapters.idempotency import StoredResponse
from payment_adapters.sqlalchemy import Database
from payment_adapters.sqlalchemy import tables as t
from payment_adapters.sqlalchemy.outbox import SqlOutbox
from payment_adapters.sqlalchemy.rotation import count_encrypted_rows, rotate_keys
from payment_adapters.sqlalchemy.testing import create_database, drop_database
from payment_core import Address, CreateCreditNote, Customer
from payment_core.card_data import card_number_spans
from payment_core.errors import RawCardDataError
from payment_core.model.invoice import LineItem
from payment_core.model.payment import PaymentStatus
from payment_core.pagination import PageRequest
from payment_core.services import (
    CreateInvoice,
    CreatePayment,
    CreatePaymentPlan,
    Dependencies,
    ProviderRegistry,
    Services,
)
from payment_core.services.bookings import BookingCreated
from payment_core.system import SystemClock, SystemIds
from payment_core.testing import FakeProvider

pytestmark = pytest.mark.integration

OLD_KEY = generate_key("old")
NEW_KEY = generate_key("new")
PAN = "4111111111111111"  # a Luhn-valid test card number
SEPARATED_PAN = "4111.1111\u00a01111 \u2013 1111"


def _pg_dump() -> str:
    found = shutil.which("pg_dump")
    if found:
        return found
    versions = sorted(Path("/usr/lib/postgresql").glob("*/bin/pg_dump"))
    if not versions:
        pytest.fail("pg_dump is not installed")
    return str(versions[-1])


def card_numbers(value: str | bytes) -> list[str]:
    """Card numbers in one stored value, as the service reads them in free text (ciphertext
    and hex are full of digits, but never a card number bounded like one)."""
    text = value.decode("latin-1") if isinstance(value, bytes) else value
    return [text[start:end] for start, end in card_number_spans(text, in_words=False)]


@attrs.define
class Dump:
    """Every stored value, by table: text as text, binary as bytes."""

    tables: dict[str, list[str | bytes]]
    raw: bytes = b""  # the database's files, where the engine has them (SQLite)

    def where(self, needle: str | bytes) -> set[str]:
        """The tables holding ``needle`` in any value (``"<files>"``: in the raw files)."""
        raw = needle.encode() if isinstance(needle, str) else needle
        found = {
            name
            for name, values in self.tables.items()
            if any(raw in v if isinstance(v, bytes) else str(needle) in v for v in values)
        }
        if self.raw and raw in self.raw:
            found.add("<files>")
        return found

    def cards(self) -> dict[str, list[str]]:
        found = {
            name: [c for v in values for c in card_numbers(v)]
            for name, values in self.tables.items()
        }
        return {name: numbers for name, numbers in found.items() if numbers}


async def pg_dump(url: str) -> Dump:
    parsed = make_url(url)
    process = await asyncio.create_subprocess_exec(
        _pg_dump(),
        "--data-only",
        "--no-owner",
        "-h",
        parsed.host or "127.0.0.1",
        "-p",
        str(parsed.port or 5432),
        "-U",
        parsed.username or "postgres",
        parsed.database,
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.PIPE,
    )
    out, err = await process.communicate()
    assert process.returncode == 0, err.decode()
    tables: dict[str, list[str | bytes]] = {}
    for match in re.finditer(
        r"^COPY public\.(\w+) .*?FROM stdin;\n(.*?)^\\\.$", out.decode(), re.MULTILINE | re.DOTALL
    ):
        values: list[str | bytes] = []
        for line in match.group(2).splitlines():
            for field in line.split("\t"):  # COPY's text format: tabs in values are escaped
                hexed = re.fullmatch(r"\\\\x([0-9a-f]*)", field)
                values.append(bytes.fromhex(hexed.group(1)) if hexed else field)
        tables[match.group(1)] = values
    return Dump(tables)


def sqlite_dump(path: Path) -> Dump:
    tables: dict[str, list[str | bytes]] = {}
    with sqlite3.connect(path) as conn:
        names = [r[0] for r in conn.execute("SELECT name FROM sqlite_master WHERE type='table'")]
        for name in names:
            rows = conn.execute(f'SELECT * FROM "{name}"').fetchall()
            tables[name] = [v if isinstance(v, bytes) else str(v) for row in rows for v in row]
    raw = b"".join(p.read_bytes() for p in path.parent.glob(f"{path.name}*") if p.is_file())
    return Dump(tables, raw)


@attrs.define
class Store:
    """A database to dump, on either engine."""

    url: str
    dump: Callable[[], Awaitable[Dump]]


@pytest.fixture(params=["sqlite", "postgresql"])
async def store(request: pytest.FixtureRequest, tmp_path: Path) -> AsyncIterator[Store]:
    if request.param == "sqlite":
        path = tmp_path / "at-rest.db"

        async def dump_sqlite() -> Dump:
            return await asyncio.to_thread(sqlite_dump, path)

        yield Store(f"sqlite+aiosqlite:///{path}", dump_sqlite)
        return
    url = await create_database("payments_test_at_rest")

    async def dump_postgres() -> Dump:
        return await pg_dump(url)

    try:
        yield Store(url, dump_postgres)
    finally:
        await drop_database(url)


@attrs.define
class Flow:
    """What the flow stored, in plaintext, that the database must not show."""

    secrets: dict[str, str | bytes]
    payment_id: object
    invoice_id: object
    webhook_id: object
    idempotency_key: str
    response: StoredResponse
    payment_method_id: object = None
    dispute_id: object = None


def _services(database: Database, provider: FakeProvider) -> Services:
    return Services.build(
        Dependencies(
            uow=database.uow,
            providers=ProviderRegistry([provider]),
            clock=SystemClock(),
            ids=SystemIds(),
        )
    )


async def run_flow(database: Database) -> Flow:
    provider = FakeProvider()
    services = _services(database, provider)
    marker = secrets.token_hex(8)
    description = f"Honeymoon suite for Zoë {marker}"
    guest_note = f"allergic to peanuts {marker}"

    for card in (PAN, SEPARATED_PAN):
        with pytest.raises(RawCardDataError):
            await services.payments.create(
                CreatePayment(
                    booking_id=uuid4(),
                    guest_id=uuid4(),
                    amount=100,
                    currency="EUR",
                    metadata={"card": card},
                )
            )

    booking_id = uuid4()
    await services.bookings.booking_created(
        f"evt-booking-{marker}",
        BookingCreated(
            booking_id=booking_id,
            guest_id=uuid4(),
            amount=25_000,
            currency="EUR",
            payment_required=False,
        ),
    )
    payment = await services.payments.create(
        CreatePayment(
            booking_id=booking_id,
            guest_id=uuid4(),
            amount=25_000,
            currency="EUR",
            description=description,
            metadata={"guest_note": guest_note},
        )
    )
    client_secret = payment.client_secret
    assert client_secret
    payment = await services.payments.confirm(payment.id, "pm_card_authenticationRequired")
    assert payment.status is PaymentStatus.PROCESSING

    obj = provider.payment_intent_object(payment.provider_payment_id)
    obj["shipping"] = {"name": f"Zoë Webhook {marker}"}
    body, headers = provider.build_webhook(
        "payment_intent.succeeded", obj, event_id=f"evt_{marker}", now=SystemClock().now()
    )
    result = await services.webhooks.receive("fake", body, headers)
    assert (await services.payments.get(payment.id)).status is PaymentStatus.COMPLETED

    await services.refunds.create(payment.id, 5_000, "requested_by_customer")

    notes = f"Invoice notes: VIP guest, door code 4711 {marker}"
    customer_name = f"Zoë Ñúñez {marker}"
    memo = f"Goodwill for the broken heating {marker}"
    invoice = await services.invoices.create(
        CreateInvoice(
            booking_id=payment.booking_id,
            guest_id=payment.guest_id,
            currency="EUR",
            line_items=[
                LineItem(description="Suite", quantity=2, unit_amount=10_000, tax_rate_bps=1000)
            ],
            notes=notes,
            payment_id=payment.id,
            customer=Customer(
                name=customer_name,
                email=f"zoe.{marker}@example.org",
                address=Address(line1=f"Calle Secreta {marker}", country="ES"),
            ),
        )
    )
    await services.invoices.issue(invoice.id)
    await services.credit_notes.create(invoice.id, CreateCreditNote(amount=500, memo=memo))

    # A card saved for later, then charged without the guest: the provider's token and
    # customer id are the saved card's secrets.
    saver = await services.payments.create(
        CreatePayment(
            booking_id=uuid4(),
            guest_id=uuid4(),
            amount=3_000,
            currency="EUR",
            payment_method="pm_card_visa",
            setup_future_usage="off_session",
            confirm=True,
        )
    )
    assert saver.payment_method_id is not None
    method = await services.payment_methods.get(saver.payment_method_id)
    assert method.provider_customer_id is not None
    charge = await services.payments.create(
        CreatePayment(
            booking_id=uuid4(),
            guest_id=saver.guest_id,
            amount=1_500,
            currency="EUR",
            payment_method_id=method.id,
            off_session=True,
            confirm=True,
        )
    )
    assert charge.status is PaymentStatus.COMPLETED

    # A dispute, sent by the fake provider through the webhook path, and its evidence: the
    # guest's details and the operator's words are personal free text.
    provider.dispute_delay = timedelta(0)
    provider.webhook_sink = lambda b, h: services.webhooks.receive("fake", b, h)
    disputed = await services.payments.create(
        CreatePayment(
            booking_id=uuid4(),
            guest_id=uuid4(),
            amount=2_000,
            currency="EUR",
            payment_method="pm_card_createDispute",
            confirm=True,
        )
    )
    assert await provider.deliver_due_webhooks() == 2
    [dispute] = (await services.disputes.list_by_payment(disputed.id, PageRequest())).items
    evidence_text = f"Zoë stayed in room 12 and signed {marker}"
    await services.disputes.add_evidence(dispute.id, {"uncategorized_text": evidence_text})

    # A payment plan cancelled with the guest's own words as its reason.
    plan = await services.plans.create(
        CreatePaymentPlan(
            booking_id=uuid4(),
            guest_id=uuid4(),
            currency="EUR",
            total_amount=10_000,
            check_in=(SystemClock().now() + timedelta(days=40)).date(),
            time_zone="Europe/Lisbon",
            deposit_bps=5000,
            payment_method="pm_card_visa",
        )
    )
    plan_reason = f"Zoë's mother is ill {marker}"
    await services.plans.cancel(plan.id, plan_reason)

    # The response the HTTP layer keeps for a retry: the payment's view, secrets and all.
    key = f"idem-{marker}"
    now = SystemClock().now()
    await database.idempotency.claim(
        key, "fp", now=now, ttl=timedelta(hours=24), lock_timeout=timedelta(seconds=30)
    )
    view = {
        "id": str(payment.id),
        "client_secret": client_secret,
        "description": description,
        "metadata": {"guest_note": guest_note},
    }
    response = StoredResponse(201, json.dumps(view).encode())
    await database.idempotency.complete(key, response, now=now)

    raw_key = base64.b64decode(OLD_KEY.partition(":")[2])
    return Flow(
        secrets={
            "description": description,
            "metadata": guest_note,
            "client_secret": client_secret,
            "notes": notes,
            "customer name": customer_name,
            "customer address": f"Calle Secreta {marker}",
            "credit note memo": memo,
            "webhook body": body.decode(),
            "webhook content": f"Zoë Webhook {marker}",
            "encryption key (base64)": OLD_KEY.partition(":")[2],
            "encryption key (bytes)": raw_key,
            "card number": PAN,
            "separated card number": SEPARATED_PAN,
            "saved card token": method.provider_token,
            "saved card customer": method.provider_customer_id,
            "dispute evidence": evidence_text,
            "plan cancellation reason": plan_reason,
        },
        payment_id=payment.id,
        invoice_id=invoice.id,
        webhook_id=result.webhook_id,
        idempotency_key=key,
        response=response,
        payment_method_id=method.id,
        dispute_id=dispute.id,
    )


async def published_bodies(database: Database, cipher: FieldCipher) -> list[dict[str, object]]:
    """The CloudEvents the relay would publish now, opened as it opens them."""
    outbox = SqlOutbox(database.engine, cipher)
    try:
        async with outbox.lease(1000) as batch:
            return [json.loads(outbox.unseal(m).body) for m in batch.messages]
    finally:
        outbox.close()


async def add_legacy_outbox_row(database: Database, cipher: FieldCipher, marker: str) -> None:
    """An event an earlier version wrote, body in plain JSON, still waiting to be published."""
    outbox = SqlOutbox(database.engine, cipher)
    try:
        async with outbox.lease(1) as batch:
            model = outbox.unseal(batch.messages[0])
    finally:
        outbox.close()
    event = json.loads(model.body)
    event["id"] = str(uuid4())
    event["data"]["description"] = f"legacy {marker}"
    async with database.engine.begin() as conn:
        await conn.execute(
            insert(t.outbox).values(
                id=UUID(event["id"]),
                type=model.type,
                stream_id=uuid4(),
                body=json.dumps(event).encode(),
                created_at=SystemClock().now(),
            )
        )


def everything_in(dump: Dump, names: Iterable[str]) -> None:
    missing = set(names) - set(dump.tables)
    assert not missing, f"the dump has no table {sorted(missing)}"


async def test_a_dump_shows_no_secret_anywhere_and_rotation_reencrypts_every_row(
    store: Store,
) -> None:
    old = FieldCipher.from_keys(OLD_KEY)
    database = Database.from_url(store.url, cipher=old)
    try:
        await database.migrate()
        flow = await run_flow(database)

        # 1. Every table, every column: no secret, no free text, no card number. The events
        #    waiting in the outbox carry the description, metadata and notes, sealed.
        before = await store.dump()
        everything_in(before, [*t.metadata.tables, "alembic_version"])
        assert before.tables["payments"]
        assert before.tables["outbox"]
        for name, value in flow.secrets.items():
            assert before.where(value) == set(), f"{name} found in {before.where(value)}"
        assert before.cards() == {}

        # 2. The relay opens them as it publishes: the events are whole.
        bodies = await published_bodies(database, old)
        descriptions = {b["data"].get("description") for b in bodies}  # type: ignore[union-attr]
        assert flow.secrets["description"] in descriptions
        notes = {b["data"].get("notes") for b in bodies}  # type: ignore[union-attr]
        assert flow.secrets["notes"] in notes

        # 3. A row an earlier version wrote in plain JSON still publishes, and rotation
        #    seals it with the rest.
        legacy = secrets.token_hex(8)
        await add_legacy_outbox_row(database, old, legacy)
        assert (await store.dump()).where(legacy) == {"outbox"} | (
            {"<files>"} if before.raw else set()
        )
        bodies = await published_bodies(database, old)
        assert any(b["data"].get("description") == f"legacy {legacy}" for b in bodies)  # type: ignore[union-attr]

        rotated_cipher = FieldCipher.from_keys(f"{NEW_KEY},{OLD_KEY}")
        total = await count_encrypted_rows(database)
        seen: list[int] = []
        rewritten = await rotate_keys(database, rotated_cipher, batch_size=1, progress=seen.append)
        assert rewritten > 0
        assert sum(seen) == total
        assert await rotate_keys(database, rotated_cipher) == 0  # nothing left to do
    finally:
        await database.dispose()

    after = await store.dump()
    for name, value in flow.secrets.items():
        assert after.where(value) == set(), f"{name} found in {after.where(value)}"
    assert after.tables.get("outbox")
    assert not after.where(f"legacy {legacy}") - {"<files>"}
    assert after.cards() == {}

    # 4. Every value is now under the new key, and the new key alone reads them all.
    new = FieldCipher.from_keys(NEW_KEY)
    only_new = Database.from_url(store.url, cipher=new)
    try:
        async with only_new.engine.connect() as conn:
            for table, _key, columns in t.ENCRYPTED_COLUMNS:
                rows = (await conn.execute(select(*(table.c[c] for c in columns)))).all()
                sealed = [bytes(v) for row in rows for v in row if v is not None]
                assert sealed, f"no encrypted value in {table.name}"
                assert {key_id_of(v) for v in sealed} == {"new"}
        services = _services(only_new, FakeProvider())
        payment = await services.payments.get(flow.payment_id)
        assert payment.description == flow.secrets["description"]
        assert payment.metadata == {"guest_note": flow.secrets["metadata"]}
        assert payment.client_secret == flow.secrets["client_secret"]
        invoice = await services.invoices.get(flow.invoice_id)
        assert invoice.notes == flow.secrets["notes"]
        assert invoice.customer is not None
        assert invoice.customer.name == flow.secrets["customer name"]
        [note] = await services.credit_notes.all_for_invoice(flow.invoice_id)
        assert note.memo == flow.secrets["credit note memo"]
        dispute = await services.disputes.get(flow.dispute_id)  # type: ignore[arg-type]
        assert dispute.evidence["uncategorized_text"] == flow.secrets["dispute evidence"]
        method = await services.payment_methods.get(flow.payment_method_id)
        assert (method.provider_token, method.provider_customer_id) == (
            flow.secrets["saved card token"],
            flow.secrets["saved card customer"],
        )
        async with only_new.uow() as uow:
            webhook = await uow.webhooks.get(flow.webhook_id)
        assert webhook.body.decode() == flow.secrets["webhook body"]
        claim = await only_new.idempotency.claim(
            flow.idempotency_key,
            "fp",
            now=SystemClock().now(),
            ttl=timedelta(hours=24),
            lock_timeout=timedelta(seconds=30),
        )
        assert claim.replay == flow.response
        bodies = await published_bodies(only_new, new)
        assert any(b["data"].get("description") == f"legacy {legacy}" for b in bodies)  # type: ignore[union-attr]
        assert flow.secrets["description"] in {b["data"].get("description") for b in bodies}  # type: ignore[union-attr]
    finally:
        await only_new.dispose()


def test_the_card_number_scanner_finds_what_it_should() -> None:
    assert card_numbers(f"x {PAN} y") == [PAN]
    assert card_numbers("4111 1111 1111 1111") == ["4111 1111 1111 1111"]
    assert card_numbers(SEPARATED_PAN) == [SEPARATED_PAN]
    assert card_numbers("4111111111111112") == []  # not Luhn-valid
    assert card_numbers(f"\\\\xab{PAN}cd") == []  # inside a hex token: ciphertext, not a PAN
    assert card_numbers("01937654-3210-7121-8abc-def012345678") == []  # a UUID
    assert card_numbers(f"{PAN}".encode()) == [PAN]  # in a binary column

"""Encryption at rest on PostgreSQL: a dump after a full flow gives nothing away; keys rotate.

The flow creates, confirms (3-D Secure, completed by a stored provider webhook) and refunds
a payment, issues an invoice with notes, stores an idempotent response, and tries to slip a
card number in. Then ``pg_dump --data-only`` is searched as text, and every ``bytea`` value in
it is decoded and searched too (plaintext in a binary column shows up as hex in a dump).
"""

from __future__ import annotations

import asyncio
import base64
import re
import secrets
import shutil
from collections.abc import AsyncIterator
from datetime import timedelta
from pathlib import Path
from uuid import uuid4

import attrs
import pytest
from sqlalchemy import select
from sqlalchemy.engine import make_url

from payment_adapters.crypto import FieldCipher, generate_key, key_id_of
from payment_adapters.sqlalchemy import Database
from payment_adapters.sqlalchemy import tables as t
from payment_adapters.sqlalchemy.retention import purge
from payment_adapters.sqlalchemy.rotation import count_encrypted_rows, rotate_keys
from payment_adapters.sqlalchemy.testing import create_database, drop_database
from payment_core import Address, CreateCreditNote, Customer
from payment_core.errors import RawCardDataError
from payment_core.model.invoice import LineItem
from payment_core.model.payment import PaymentStatus
from payment_core.ports import StoredResponse
from payment_core.services import (
    CreateInvoice,
    CreatePayment,
    Dependencies,
    ProviderRegistry,
    Services,
)
from payment_core.system import SystemClock, SystemIds
from payment_core.testing import FakeProvider

pytestmark = pytest.mark.integration

OLD_KEY = generate_key("old")
NEW_KEY = generate_key("new")
PAN = "4111111111111111"  # a Luhn-valid test card number


def _pg_dump() -> str:
    found = shutil.which("pg_dump")
    if found:
        return found
    versions = sorted(Path("/usr/lib/postgresql").glob("*/bin/pg_dump"))
    if not versions:
        pytest.fail("pg_dump is not installed")
    return str(versions[-1])


def luhn_valid(digits: str) -> bool:
    total = 0
    for index, char in enumerate(reversed(digits)):
        value = int(char)
        if index % 2 == 1:
            value = value * 2 - 9 if value > 4 else value * 2
        total += value
    return total % 10 == 0


# A run of 13-19 digits (optionally grouped by spaces or dashes) that is not part of a longer
# hexadecimal token: ciphertext in hex is full of digit runs, but never bounded like this.
_CANDIDATE = re.compile(r"(?<![0-9A-Za-z])(?:\d[ -]?){12,18}\d(?![0-9A-Za-z])")


# UUIDs (8-4-4-4-12 hex) are not card numbers, though one whose first groups happen to be all
# digits looks like a grouped PAN: uuid7's first 12 digits are the time, so at some moments
# every id made is such a candidate, and a tenth of those pass Luhn.
_UUID = re.compile(r"[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}")


def card_numbers(text: str) -> list[str]:
    found = []
    for match in _CANDIDATE.finditer(_UUID.sub(" ", text)):
        digits = re.sub(r"[ -]", "", match.group())
        if 13 <= len(digits) <= 19 and luhn_valid(digits):
            found.append(digits)
    return found


@attrs.define
class Dump:
    """A data-only dump, per table, with its bytea values decoded."""

    tables: dict[str, str]

    @classmethod
    def parse(cls, text: str) -> Dump:
        tables: dict[str, str] = {}
        for match in re.finditer(
            r"^COPY public\.(\w+) .*?FROM stdin;\n(.*?)^\\\.$", text, re.MULTILINE | re.DOTALL
        ):
            tables[match.group(1)] = match.group(2)
        return cls(tables)

    def blobs(self, table: str) -> list[bytes]:
        """Every bytea value of the table, decoded from the dump's hex."""
        return [bytes.fromhex(h) for h in re.findall(r"\\\\x([0-9a-f]+)", self.tables[table])]

    def contains(self, table: str, needle: str | bytes) -> bool:
        raw = needle.encode() if isinstance(needle, str) else needle
        text_hit = isinstance(needle, str) and needle in self.tables[table]
        return text_hit or any(raw in blob for blob in self.blobs(table))

    def where(self, needle: str | bytes) -> set[str]:
        """The tables whose text, or any of whose decoded bytea values, contains ``needle``."""
        return {name for name in self.tables if self.contains(name, needle)}

    def cards(self) -> dict[str, list[str]]:
        found = {
            name: card_numbers("\n".join([text, *(b.decode("latin-1") for b in self.blobs(name))]))
            for name, text in self.tables.items()
        }
        return {name: numbers for name, numbers in found.items() if numbers}


async def dump(url: str) -> Dump:
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
    return Dump.parse(out.decode())


@attrs.define
class Flow:
    """What the flow stored, in plaintext, that the database must not show."""

    secrets: dict[str, str | bytes]
    payment_id: object
    invoice_id: object
    webhook_id: object
    idempotency_key: str
    response: StoredResponse


@pytest.fixture
async def url() -> AsyncIterator[str]:
    created = await create_database("payments_test_at_rest")
    try:
        yield created
    finally:
        await drop_database(created)


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

    with pytest.raises(RawCardDataError):
        await services.payments.create(
            CreatePayment(
                booking_id=uuid4(),
                guest_id=uuid4(),
                amount=100,
                currency="EUR",
                metadata={"card": PAN},
            )
        )

    payment = await services.payments.create(
        CreatePayment(
            booking_id=uuid4(),
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

    key = f"idem-{marker}"
    now = SystemClock().now()
    await database.idempotency.claim(
        key, "fp", now=now, ttl=timedelta(hours=24), lock_timeout=timedelta(seconds=30)
    )
    response = StoredResponse(201, f'{{"client_secret":"{client_secret}"}}'.encode())
    await database.idempotency.complete(key, response, now=now)

    keys = {kid_key.partition(":")[0]: kid_key.partition(":")[2] for kid_key in [OLD_KEY]}
    raw_key = base64.b64decode(keys["old"])
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
            "encryption key (base64)": keys["old"],
            "encryption key (bytes)": raw_key,
            "card number": PAN,
        },
        payment_id=payment.id,
        invoice_id=invoice.id,
        webhook_id=result.webhook_id,
        idempotency_key=key,
        response=response,
    )


async def test_a_dump_shows_no_secret_and_rotation_reencrypts_every_row(url):
    database = Database.from_url(url, cipher=FieldCipher.from_keys(OLD_KEY))
    try:
        await database.migrate()
        flow = await run_flow(database)

        # 1. Events wait in the outbox as the CloudEvents the broker will carry (their data is
        #    the resource's view, as the contract says). That is the only place any of it is.
        before = await dump(url)
        assert before.tables["payments"].strip()  # the dump did capture rows
        for name, value in flow.secrets.items():
            assert before.where(value) <= {"outbox"}, f"{name} found outside the outbox"
        # The scanner does see plaintext in a dump (the outbox's bytea bodies, decoded) ...
        assert before.where(flow.secrets["description"]) == {"outbox"}
        # ... and never the secrets, which no event carries.
        assert before.where(flow.secrets["client_secret"]) == set()
        assert before.where(flow.secrets["webhook content"]) == set()
        assert before.where(PAN) == set()
        assert before.cards() == {}

        # 2. Once published and past retention, nothing is left in plaintext anywhere.
        async with database.engine.begin() as conn:
            await conn.execute(t.outbox.update().values(published_at=SystemClock().now()))
        deleted = await purge(
            database,
            now=SystemClock().now(),
            outbox_published_before=SystemClock().now() + timedelta(1),
        )
        assert deleted["outbox"] > 0
        after = await dump(url)
        for name, value in flow.secrets.items():
            assert after.where(value) == set(), f"{name} found in {after.where(value)}"
        assert after.cards() == {}

        # 3. Rotation: a new primary key; every sealed value moves to it, in batches.
        rotated_cipher = FieldCipher.from_keys(f"{NEW_KEY},{OLD_KEY}")
        total = await count_encrypted_rows(database)
        seen: list[int] = []
        rewritten = await rotate_keys(database, rotated_cipher, batch_size=1, progress=seen.append)
        assert rewritten > 0
        assert sum(seen) == total
        assert await rotate_keys(database, rotated_cipher) == 0  # nothing left to do
    finally:
        await database.dispose()

    # 4. Every value is now under the new key, and the new key alone reads them all.
    only_new = Database.from_url(url, cipher=FieldCipher.from_keys(NEW_KEY))
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
    finally:
        await only_new.dispose()


def test_the_card_number_scanner_finds_what_it_should():
    assert card_numbers(f"x {PAN} y") == [PAN]
    assert card_numbers("4111 1111 1111 1111") == [PAN]
    assert card_numbers("4111111111111112") == []  # not Luhn-valid
    assert card_numbers(f"\\\\xab{PAN}cd") == []  # inside a hex token: ciphertext, not a PAN
    assert card_numbers("01937654-3210-7121-8abc-def012345678") == []  # a UUID
    assert card_numbers("01937654-3210-7121") == ["0193765432107121"]  # its first groups would

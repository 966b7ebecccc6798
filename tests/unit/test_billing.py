"""Billing records: the per-booking hash chain and its verification."""

from __future__ import annotations

import hashlib
import json
from datetime import UTC, datetime, timedelta
from uuid import UUID, uuid4

import attrs
import pytest
from hypothesis import given
from hypothesis import strategies as st

from payment_core import BillingRecord, BillingRecordType, Currency, Money, verify_chain
from payment_core.errors import ValidationError
from payment_core.model.billing import GENESIS_HASH, ChainVerifier, compute_hash
from payment_core.pagination import PageRequest

NOW = datetime(2026, 5, 1, 8, 0, tzinfo=UTC)
EUR = Currency.of("EUR")
BOOKING = UUID(int=100)
GUEST = UUID(int=200)


def chain(
    length: int, booking: UUID = BOOKING, start: int = 1, previous: BillingRecord | None = None
) -> list[BillingRecord]:
    records: list[BillingRecord] = []
    for n in range(length):
        previous = BillingRecord.append_to(
            previous,
            id=UUID(int=start + n),
            type=BillingRecordType.CHARGE if n % 2 == 0 else BillingRecordType.REFUND,
            booking_id=booking,
            guest_id=GUEST,
            amount=Money(1_000 + n, EUR),
            description=f"record {n}",
            created_at=NOW + timedelta(seconds=n),
            payment_id=UUID(int=999),
        )
        records.append(previous)
    return records


def test_the_first_record_of_a_booking_follows_the_genesis_hash() -> None:
    [first] = chain(1)
    assert (first.sequence, first.previous_hash) == (1, GENESIS_HASH)


def test_each_record_points_at_the_previous_records_hash() -> None:
    records = chain(3)
    assert [r.sequence for r in records] == [1, 2, 3]
    assert records[1].previous_hash == records[0].hash
    assert records[2].previous_hash == records[1].hash


def test_the_hash_is_sha256_of_the_canonical_content() -> None:
    [record] = chain(1)
    canonical = json.dumps(
        [
            "v1",
            str(record.id),
            "CHARGE",
            str(BOOKING),
            str(GUEST),
            1,
            1_000,
            "EUR",
            "record 0",
            "2026-05-01T08:00:00.000000Z",
            str(UUID(int=999)),
            None,
            None,
            GENESIS_HASH,
        ],
        ensure_ascii=False,
        separators=(",", ":"),
    )
    assert record.hash == hashlib.sha256(canonical.encode()).hexdigest()
    assert record.hash == record.expected_hash()


def test_the_hash_does_not_depend_on_the_timezone_the_time_is_given_in() -> None:
    [utc] = chain(1)
    local = attrs.evolve(
        utc, created_at=utc.created_at.astimezone(datetime.now().astimezone().tzinfo)
    )
    assert local.expected_hash() == utc.hash


def test_a_record_cannot_continue_another_bookings_chain() -> None:
    [other] = chain(1, booking=UUID(int=101))
    with pytest.raises(ValidationError):
        chain(1, previous=other)


def test_billing_amounts_are_positive() -> None:
    with pytest.raises(ValidationError) as caught:
        BillingRecord.append_to(
            None,
            id=uuid4(),
            type=BillingRecordType.CHARGE,
            booking_id=BOOKING,
            guest_id=GUEST,
            amount=Money(0, EUR),
            description="x",
            created_at=NOW,
        )
    assert caught.value.field == "amount"


def test_an_intact_chain_verifies() -> None:
    result = verify_chain(chain(5))
    assert (result.ok, result.records, result.broken_record_id) == (True, 5, None)


def test_no_records_verify() -> None:
    assert verify_chain([]).ok


def test_an_edited_record_is_the_first_broken_link() -> None:
    records = chain(5)
    records[2] = attrs.evolve(records[2], amount=1)
    result = verify_chain(records)
    assert (result.ok, result.broken_record_id, result.booking_id) == (
        False,
        records[2].id,
        BOOKING,
    )
    assert result.records == 3
    assert "altered" in (result.reason or "")


def test_an_edit_that_also_rehashes_the_record_breaks_the_next_link() -> None:
    records = chain(5)
    edited = attrs.evolve(records[2], description="rewritten")
    records[2] = attrs.evolve(edited, hash=edited.expected_hash())
    result = verify_chain(records)
    assert result.broken_record_id == records[3].id
    assert "previous_hash" in (result.reason or "")


def test_a_deleted_record_breaks_the_chain_where_it_was() -> None:
    records = chain(5)
    del records[2]
    result = verify_chain(records)
    assert result.broken_record_id == records[2].id  # the record that followed the deleted one
    assert "missing" in (result.reason or "")


def test_a_deleted_first_record_is_found() -> None:
    records = chain(3)[1:]
    assert verify_chain(records).broken_record_id == records[0].id


def test_a_reordered_chain_is_found() -> None:
    records = chain(4)
    records[1], records[2] = records[2], records[1]
    result = verify_chain(records)
    assert (result.ok, result.broken_record_id) == (False, records[1].id)


def test_only_the_first_broken_link_is_reported() -> None:
    records = chain(5)
    records[1] = attrs.evolve(records[1], amount=1)
    records[3] = attrs.evolve(records[3], amount=1)
    assert verify_chain(records).broken_record_id == records[1].id


def test_each_booking_has_its_own_chain() -> None:
    a = chain(2, booking=UUID(int=1), start=10)
    b = chain(3, booking=UUID(int=2), start=20)
    assert (b[0].previous_hash, b[0].sequence) == (GENESIS_HASH, 1)
    assert verify_chain(a + b).records == 5


def test_the_verifier_keeps_reporting_the_first_break() -> None:
    records = chain(3)
    records[0] = attrs.evolve(records[0], amount=5)
    verifier = ChainVerifier()
    first = verifier.feed(records[0])
    assert first is not None
    assert verifier.feed(records[1]) is first
    assert verifier.result() is first


# ---------------------------------------------------------------------------- through the services


async def test_a_completed_payment_writes_a_charge_record(kit) -> None:
    payment = await kit.paid()
    [record] = kit.records(payment.booking_id)
    assert (record.type, record.amount, record.currency, record.payment_id, record.guest_id) == (
        BillingRecordType.CHARGE,
        payment.amount.amount,
        "EUR",
        payment.id,
        payment.guest_id,
    )
    assert record.description == f"Payment {payment.reference}"


async def test_a_failed_payment_writes_no_record(kit) -> None:
    payment = await kit.paid("pm_card_chargeDeclined")
    assert kit.records(payment.booking_id) == []


async def test_one_booking_keeps_one_chain_across_payments_refunds_and_invoices(
    kit, services
) -> None:
    booking = uuid4()
    payment = await kit.paid(booking_id=booking)
    await services.refunds.create(payment.id, 1_000)
    await services.invoices.issue((await kit.draft(booking_id=booking)).id)
    records = kit.records(booking)
    assert [r.type for r in records] == [
        BillingRecordType.CHARGE,
        BillingRecordType.REFUND,
        BillingRecordType.INVOICE_ISSUED,
    ]
    assert [r.sequence for r in records] == [1, 2, 3]
    assert (await services.billing.verify()).ok


async def test_verify_counts_every_record_of_every_booking(kit, services) -> None:
    for _ in range(3):
        await kit.paid()
    result = await services.billing.verify()
    assert (result.ok, result.records) == (True, 3)


async def test_verify_finds_a_record_edited_in_storage(kit, services, harness) -> None:
    payment = await kit.paid()
    chain_ = harness.store.billing[payment.booking_id]
    chain_[0] = attrs.evolve(chain_[0], amount=1)
    result = await services.billing.verify()
    assert (result.ok, result.broken_record_id) == (False, chain_[0].id)


async def test_verify_finds_a_record_deleted_from_storage(kit, services, harness) -> None:
    payment = await kit.paid()
    await services.refunds.create(payment.id, 100)
    await services.refunds.create(payment.id, 100)
    chain_ = harness.store.billing[payment.booking_id]
    del chain_[1]
    result = await services.billing.verify()
    assert (result.ok, result.broken_record_id) == (False, chain_[1].id)


async def test_records_are_listed_by_booking_and_by_guest(kit, services) -> None:
    guest = uuid4()
    first = await kit.paid(guest_id=guest)
    second = await kit.paid(guest_id=guest)
    by_booking = await services.billing.list_by_booking(first.booking_id, PageRequest())
    by_guest = await services.billing.list_by_guest(guest, PageRequest())
    assert [r.payment_id for r in by_booking.items] == [first.id]
    assert [r.payment_id for r in by_guest.items] == [first.id, second.id]


def reference_hash(**fields: object) -> str:
    """The canonical form by its definition: json.dumps of the field list, then SHA-256."""

    def ident(value: object) -> str | None:
        return None if value is None else str(value)

    created_at = fields["created_at"]
    assert isinstance(created_at, datetime)
    canonical = json.dumps(
        [
            "v1",
            str(fields["id"]),
            fields["type"].value,  # type: ignore[attr-defined]
            str(fields["booking_id"]),
            str(fields["guest_id"]),
            fields["sequence"],
            fields["amount"],
            fields["currency"],
            fields["description"],
            created_at.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%S.%fZ"),
            ident(fields["payment_id"]),
            ident(fields["refund_id"]),
            ident(fields["invoice_id"]),
            fields["previous_hash"],
        ],
        ensure_ascii=False,
        separators=(",", ":"),
    )
    return hashlib.sha256(canonical.encode()).hexdigest()


@given(
    description=st.text(),
    currency=st.text(max_size=5),
    previous_hash=st.text(max_size=70),
    sequence=st.integers(min_value=1, max_value=2**40),
    amount=st.integers(min_value=1, max_value=99_999_999_999),
    created_at=st.datetimes(
        min_value=datetime(1000, 1, 2),
        timezones=st.timezones(),  # naive bounds, aware values
    ),
    ids=st.lists(st.one_of(st.none(), st.uuids()), min_size=3, max_size=3),
    record_type=st.sampled_from(BillingRecordType),
)
def test_the_hash_is_exactly_that_of_the_canonical_json(
    description: str,
    currency: str,
    previous_hash: str,
    sequence: int,
    amount: int,
    created_at: datetime,
    ids: list[UUID | None],
    record_type: BillingRecordType,
) -> None:
    fields = {
        "id": UUID(int=1),
        "type": record_type,
        "booking_id": UUID(int=2),
        "guest_id": UUID(int=3),
        "sequence": sequence,
        "amount": amount,
        "currency": currency,
        "description": description,
        "created_at": created_at,
        "previous_hash": previous_hash,
        "payment_id": ids[0],
        "refund_id": ids[1],
        "invoice_id": ids[2],
    }
    assert compute_hash(**fields) == reference_hash(**fields)  # type: ignore[arg-type]

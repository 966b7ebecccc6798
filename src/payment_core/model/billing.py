"""Billing records: an append-only audit trail with one SHA-256 hash chain per booking.

Each record's ``hash`` covers its canonical content and the ``hash`` of the previous record of
the same booking, so any edit, insertion or deletion in storage breaks the chain at a place that
:func:`verify_chain` names. One chain per booking means bookings never wait on each other.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Callable, Iterable
from datetime import UTC, datetime, timedelta
from enum import StrEnum
from typing import Final
from uuid import UUID

import attrs

from payment_core.errors import ValidationError
from payment_core.money import Money

__all__ = [
    "GENESIS_HASH",
    "BillingRecord",
    "BillingRecordType",
    "ChainVerification",
    "ChainVerifier",
    "verify_chain",
]

#: The "previous hash" of the first record of every booking.
GENESIS_HASH: Final = "0" * 64


class BillingRecordType(StrEnum):
    CHARGE = "CHARGE"
    REFUND = "REFUND"
    REFUND_REVERSED = "REFUND_REVERSED"
    INVOICE_ISSUED = "INVOICE_ISSUED"
    INVOICE_VOIDED = "INVOICE_VOIDED"
    CREDIT_NOTE_ISSUED = "CREDIT_NOTE_ISSUED"
    #: A dispute's funds left our balance; ``CHARGEBACK_REVERSED`` when they came back.
    CHARGEBACK = "CHARGEBACK"
    CHARGEBACK_REVERSED = "CHARGEBACK_REVERSED"


def _ts(value: datetime) -> str:
    # Microsecond precision, always UTC, so the text is the same after any database round trip
    # (2026-01-01T12:00:00.000000Z). isoformat always writes a four-digit year, so the first
    # 26 characters of a UTC time are exactly that text, offset left out.
    if value.utcoffset() != _ZERO:
        value = value.astimezone(UTC)
    return value.isoformat(timespec="microseconds")[:26] + "Z"


_ZERO: Final = timedelta(0)


# How json.dumps(..., ensure_ascii=False) writes a string: quoted, with ", \\ and control
# characters escaped (the C implementation).
_quote: Final[Callable[[str], str]] = json.encoder.encode_basestring


def _quoted_id(value: UUID | None) -> str:
    return "null" if value is None else f'"{value}"'


@attrs.frozen(slots=True)
class BillingRecord:
    """One immutable line of the audit trail. ``amount`` is positive; ``type`` is the direction."""

    id: UUID
    type: BillingRecordType
    booking_id: UUID
    guest_id: UUID
    sequence: int
    amount: int
    currency: str
    description: str
    created_at: datetime
    previous_hash: str
    hash: str
    payment_id: UUID | None = None
    refund_id: UUID | None = None
    invoice_id: UUID | None = None

    @classmethod
    def append_to(
        cls,
        previous: BillingRecord | None,
        *,
        id: UUID,
        type: BillingRecordType,
        booking_id: UUID,
        guest_id: UUID,
        amount: Money,
        description: str,
        created_at: datetime,
        payment_id: UUID | None = None,
        refund_id: UUID | None = None,
        invoice_id: UUID | None = None,
    ) -> BillingRecord:
        """The record that follows ``previous`` (``None`` starts the booking's chain)."""
        if previous is not None and previous.booking_id != booking_id:
            raise ValidationError(field="booking_id", reason="previous record is another chain")
        if amount.amount <= 0:
            raise ValidationError(field="amount", reason="billing amounts are positive")
        sequence = 1 if previous is None else previous.sequence + 1
        previous_hash = GENESIS_HASH if previous is None else previous.hash
        currency = amount.currency.code
        # Hash first and build the record once (it is frozen; building it twice costs more).
        digest = compute_hash(
            id=id,
            type=type,
            booking_id=booking_id,
            guest_id=guest_id,
            sequence=sequence,
            amount=amount.amount,
            currency=currency,
            description=description,
            created_at=created_at,
            previous_hash=previous_hash,
            payment_id=payment_id,
            refund_id=refund_id,
            invoice_id=invoice_id,
        )
        return cls(
            id=id,
            type=type,
            booking_id=booking_id,
            guest_id=guest_id,
            sequence=sequence,
            amount=amount.amount,
            currency=currency,
            description=description,
            created_at=created_at,
            previous_hash=previous_hash,
            hash=digest,
            payment_id=payment_id,
            refund_id=refund_id,
            invoice_id=invoice_id,
        )

    def expected_hash(self) -> str:
        """The hash this record's content and ``previous_hash`` call for."""
        return compute_hash(
            id=self.id,
            type=self.type,
            booking_id=self.booking_id,
            guest_id=self.guest_id,
            sequence=self.sequence,
            amount=self.amount,
            currency=self.currency,
            description=self.description,
            created_at=self.created_at,
            previous_hash=self.previous_hash,
            payment_id=self.payment_id,
            refund_id=self.refund_id,
            invoice_id=self.invoice_id,
        )


def compute_hash(
    *,
    id: UUID,
    type: BillingRecordType,
    booking_id: UUID,
    guest_id: UUID,
    sequence: int,
    amount: int,
    currency: str,
    description: str,
    created_at: datetime,
    previous_hash: str,
    payment_id: UUID | None,
    refund_id: UUID | None,
    invoice_id: UUID | None,
) -> str:
    """SHA-256 over the canonical JSON of a record's content and the previous record's hash.

    The canonical text is the compact JSON array (``json.dumps(..., ensure_ascii=False,
    separators=(",", ":"))``) of ``["v1", id, type, booking_id, guest_id, sequence, amount,
    currency, description, created_at, payment_id, refund_id, invoice_id, previous_hash]``.
    It is written out directly, every string through the JSON encoder's own escaping, because
    this runs for every billing record written or verified; a test holds it to ``json.dumps``.
    """
    canonical = (
        f'["v1","{id}",{_quote(type.value)},"{booking_id}","{guest_id}",{int(sequence)},'
        f'{int(amount)},{_quote(currency)},{_quote(description)},"{_ts(created_at)}",'
        f"{_quoted_id(payment_id)},{_quoted_id(refund_id)},{_quoted_id(invoice_id)},"
        f"{_quote(previous_hash)}]"
    )
    return hashlib.sha256(canonical.encode("utf-8")).hexdigest()


@attrs.frozen(slots=True)
class ChainVerification:
    """The outcome of checking chains: ``ok``, how many records, and the first broken one."""

    ok: bool
    records: int
    broken_record_id: UUID | None = None
    booking_id: UUID | None = None
    reason: str | None = None


class ChainVerifier:
    """Checks records fed in ``(booking_id, sequence)`` order, one at a time.

    A record is broken when its stored hash is not the hash of its content, when it does not
    point at the previous record's hash, or when its sequence skips (a deleted record).
    """

    def __init__(self) -> None:
        self._previous: BillingRecord | None = None
        self._count = 0
        self._broken: ChainVerification | None = None

    def feed(self, record: BillingRecord) -> ChainVerification | None:
        """Check the next record; the failed verification if it is the first broken one."""
        if self._broken is not None:
            return self._broken
        self._count += 1
        previous = self._previous
        if previous is None or previous.booking_id != record.booking_id:
            expected_prev, expected_seq = GENESIS_HASH, 1
        else:
            expected_prev, expected_seq = previous.hash, previous.sequence + 1
        reason = None
        if record.sequence != expected_seq:
            reason = f"sequence {record.sequence}, expected {expected_seq} (a record is missing)"
        elif record.previous_hash != expected_prev:
            reason = "previous_hash does not match the previous record"
        elif record.hash != record.expected_hash():
            reason = "content does not match its hash (the record was altered)"
        self._previous = record
        if reason is not None:
            self._broken = ChainVerification(
                ok=False,
                records=self._count,
                broken_record_id=record.id,
                booking_id=record.booking_id,
                reason=reason,
            )
        return self._broken

    def result(self) -> ChainVerification:
        """The verdict on everything fed so far."""
        return self._broken or ChainVerification(ok=True, records=self._count)


def verify_chain(records: Iterable[BillingRecord]) -> ChainVerification:
    """Check records given in ``(booking_id, sequence)`` order; stop at the first broken link."""
    verifier = ChainVerifier()
    for record in records:
        if verifier.feed(record) is not None:
            break
    return verifier.result()

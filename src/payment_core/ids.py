"""Identifiers and public references.

Internal ids are UUIDs (typed per aggregate with ``NewType``). Public references are the
unguessable handles that may be shown to a guest: a prefix and 26 Crockford base32 characters
carrying 130 random bits, so knowing one reference tells nothing about another.
"""

from __future__ import annotations

import os
import secrets
import threading
import time
from typing import Final, NewType
from uuid import NAMESPACE_URL, UUID, SafeUUID, uuid5

__all__ = [
    "BillingRecordId",
    "BookingId",
    "GuestId",
    "InvoiceId",
    "PaymentId",
    "RefundId",
    "id_for_request",
    "is_reference",
    "new_reference",
    "uuid7",
    "uuid_from_int",
]

PaymentId = NewType("PaymentId", UUID)
RefundId = NewType("RefundId", UUID)
InvoiceId = NewType("InvoiceId", UUID)
BillingRecordId = NewType("BillingRecordId", UUID)
BookingId = NewType("BookingId", UUID)
GuestId = NewType("GuestId", UUID)


def uuid_from_int(value: int) -> UUID:
    """``UUID(int=value)``, without ``UUID.__init__``'s general argument handling.

    Ids are made for every aggregate, event and record, and ``UUID.__init__`` spends most of
    its time working out which of its five ways of being called was used.
    """
    if not 0 <= value < _UUID_LIMIT:
        raise ValueError("int is out of range (need a 128-bit value)")
    made = _object_new(UUID)
    _object_setattr(made, "int", value)
    _object_setattr(made, "is_safe", SafeUUID.unknown)
    return made


_UUID_LIMIT: Final = 1 << 128
_object_new = object.__new__
_object_setattr = object.__setattr__
if uuid_from_int(0x1234) != UUID(int=0x1234) or str(uuid_from_int(7)) != str(UUID(int=7)):
    # Another uuid implementation than CPython's: take the documented way.
    def uuid_from_int(value: int) -> UUID:  # pragma: no cover
        return UUID(int=value)


#: The namespace of :func:`id_for_request` (a UUIDv5 namespace of its own).
_REQUEST_NAMESPACE: Final = uuid5(NAMESPACE_URL, "urn:payment-service:idempotent-request")


def id_for_request(operation: str, idempotency_key: str) -> UUID:
    """The id that ``operation`` (``"refund.create"``, ...) gives what it does under a key.

    A name-based UUID (RFC 9562 version 5): the same operation under the same key always
    gets the same id, so a retry finds what the first attempt made (or moved) instead of
    making it again, and a provider sees the same idempotency key, derived from that id.
    Different operations under one key get unrelated ids. The key must already be scoped to
    whoever may see the result (the HTTP service scopes it per API key).
    """
    return uuid5(_REQUEST_NAMESPACE, f"{operation}\x00{idempotency_key}")


_CROCKFORD: Final = "0123456789abcdefghjkmnpqrstvwxyz"
_REFERENCE_CHARS: Final = 26  # 26 * 5 = 130 bits >= 128


# Byte -> the Crockford character of its low five bits: a uniform random byte gives a uniform
# character, so 26 random bytes make 26 characters carrying 130 random bits.
_BYTE_TO_CHAR: Final = bytes(ord(_CROCKFORD[i & 31]) for i in range(256))


def new_reference(prefix: str) -> str:
    """Return ``prefix`` + "_" + 26 random base32 characters (130 bits from ``secrets``)."""
    body = secrets.token_bytes(_REFERENCE_CHARS).translate(_BYTE_TO_CHAR).decode("ascii")
    return f"{prefix}_{body}"


def is_reference(text: str, prefix: str) -> bool:
    """Whether ``text`` has the shape of a reference with this prefix (cheap pre-check)."""
    head, sep, body = text.partition("_")
    return (
        sep == "_"
        and head == prefix
        and len(body) == _REFERENCE_CHARS
        and all(c in _CROCKFORD for c in body)
    )


_uuid7_lock: Final = threading.Lock()
_uuid7_last = 0


def uuid7() -> UUID:
    """A time-ordered UUID (RFC 9562 version 7), strictly increasing within this process.

    New rows land at the right edge of the primary-key index instead of at random places,
    which keeps inserts and keyset pages cheap on large tables. Within one millisecond (or if
    the wall clock steps back) the next id is the last one plus one in its random bits
    (RFC 9562 section 6.2, method 2), so ids made here sort in the order they were made: lists
    ordered by ``(created_at, id)`` keep creation order even when timestamps tie.
    """
    global _uuid7_last  # noqa: PLW0603 - the process-wide monotonic state, under a lock
    ms = time.time_ns() // 1_000_000
    rand = int.from_bytes(os.urandom(10), "big")
    value = (ms & 0xFFFF_FFFF_FFFF) << 80
    value |= 0x7 << 76  # version
    value |= ((rand >> 68) & 0xFFF) << 64  # 12 bits rand_a
    value |= 0b10 << 62  # variant
    value |= rand & 0x3FFF_FFFF_FFFF_FFFF  # 62 bits rand_b
    with _uuid7_lock:
        if value <= _uuid7_last:
            value = _next_after(_uuid7_last)
        _uuid7_last = value
    return uuid_from_int(value)


def _next_after(value: int) -> int:
    """The next version-7 value after ``value``: its 74 random bits plus one, with carry."""
    rand_a = (value >> 64) & 0xFFF
    rand_b = value & 0x3FFF_FFFF_FFFF_FFFF
    ms = value >> 80
    rand_b += 1
    if rand_b > 0x3FFF_FFFF_FFFF_FFFF:
        rand_b = 0
        rand_a += 1
        if rand_a > 0xFFF:  # 2**74 ids in one millisecond: borrow the next millisecond
            rand_a = 0
            ms += 1
    return (ms << 80) | (0x7 << 76) | (rand_a << 64) | (0b10 << 62) | rand_b

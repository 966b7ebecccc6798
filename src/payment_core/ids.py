"""Identifiers and public references.

Internal ids are UUIDs (typed per aggregate with ``NewType``). Public references are the
unguessable handles that may be shown to a guest: a prefix and 26 Crockford base32 characters
carrying 130 random bits, so knowing one reference tells nothing about another.
"""

from __future__ import annotations

import os
import secrets
import time
from typing import Final, NewType
from uuid import UUID

__all__ = [
    "BillingRecordId",
    "BookingId",
    "GuestId",
    "InvoiceId",
    "PaymentId",
    "RefundId",
    "is_reference",
    "new_reference",
    "uuid7",
]

PaymentId = NewType("PaymentId", UUID)
RefundId = NewType("RefundId", UUID)
InvoiceId = NewType("InvoiceId", UUID)
BillingRecordId = NewType("BillingRecordId", UUID)
BookingId = NewType("BookingId", UUID)
GuestId = NewType("GuestId", UUID)

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


def uuid7() -> UUID:
    """A time-ordered UUID (RFC 9562 version 7).

    New rows land at the right edge of the primary-key index instead of at random places,
    which keeps inserts and keyset pages cheap on large tables.
    """
    ms = time.time_ns() // 1_000_000
    rand = int.from_bytes(os.urandom(10), "big")
    value = (ms & 0xFFFF_FFFF_FFFF) << 80
    value |= 0x7 << 76  # version
    value |= ((rand >> 68) & 0xFFF) << 64  # 12 bits rand_a
    value |= 0b10 << 62  # variant
    value |= rand & 0x3FFF_FFFF_FFFF_FFFF  # 62 bits rand_b
    return UUID(int=value)

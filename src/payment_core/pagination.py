"""Keyset pagination: a stable oldest-first order on ``(created_at, id)`` and opaque cursors.

A cursor names the last item of a page; the next page is everything strictly after it, so
pages stay fast however deep they go and never repeat or skip an item inserted meanwhile.
"""

from __future__ import annotations

import base64
import binascii
import re
from collections.abc import Sequence
from datetime import UTC, datetime
from typing import Final, Generic, TypeVar
from uuid import UUID

import attrs

from payment_core.errors import ValidationError

__all__ = ["DEFAULT_LIMIT", "MAX_LIMIT", "Cursor", "Page", "PageRequest"]

DEFAULT_LIMIT: Final = 50
MAX_LIMIT: Final = 200
_MAX_CURSOR: Final = 200
_BASE64URL: Final = re.compile(r"[A-Za-z0-9_-]+")
_NOT_OURS: Final = "not a cursor this API returned"

T = TypeVar("T")


def _utc(value: datetime) -> datetime:
    """``value`` as the same instant in UTC; an instant outside ``datetime``'s range, or a
    naive time, is not a position (``ValidationError``, never an ``OverflowError``)."""
    if not isinstance(value, datetime) or value.utcoffset() is None:
        raise ValidationError(field="cursor", reason="needs a timezone-aware time")
    try:
        return value.astimezone(UTC)
    except OverflowError:
        # 0001-01-01T00:00+14:00 is in year 0 in UTC: no datetime, and no database, holds it.
        raise ValidationError(field="cursor", reason="time out of range") from None


@attrs.frozen(slots=True)
class Cursor:
    """The position after which the next page starts: always a UTC instant that every
    storage can compare (so no cursor, however it was made, can fail a query)."""

    created_at: datetime = attrs.field(converter=_utc)
    id: UUID = attrs.field(validator=attrs.validators.instance_of(UUID))

    def encode(self) -> str:
        raw = f"{self.created_at.isoformat()}|{self.id}".encode()
        return base64.urlsafe_b64encode(raw).decode("ascii").rstrip("=")

    @classmethod
    def decode(cls, text: str) -> Cursor:
        """The cursor that :meth:`encode` made; ``ValidationError`` for anything else."""
        cursor = _decode(text) if isinstance(text, str) and len(text) <= _MAX_CURSOR else None
        if cursor is None:
            raise ValidationError(field="cursor", reason=_NOT_OURS)
        return cursor


def _decode(text: str) -> Cursor | None:
    if not _BASE64URL.fullmatch(text):
        return None
    try:
        raw = base64.urlsafe_b64decode(text + "=" * (-len(text) % 4)).decode("ascii")
        ts, _, ident = raw.partition("|")
        created_at = datetime.fromisoformat(ts)
        cursor = Cursor(created_at=created_at, id=UUID(ident))
    except (ValueError, binascii.Error, UnicodeDecodeError):  # ValidationError included
        return None
    # Only the exact text encode() gives back is ours: that rules out other offsets, other
    # spellings of the same time or id, and padding or stray characters around them.
    return cursor if cursor.encode() == text else None


@attrs.frozen(slots=True)
class PageRequest:
    """``limit`` items after ``cursor`` (``None``: from the start)."""

    limit: int = DEFAULT_LIMIT
    after: Cursor | None = None

    def __attrs_post_init__(self) -> None:
        if type(self.limit) is not int or not 1 <= self.limit <= MAX_LIMIT:
            raise ValidationError(field="limit", reason=f"must be between 1 and {MAX_LIMIT}")

    @classmethod
    def parse(cls, limit: int | None = None, cursor: str | None = None) -> PageRequest:
        return cls(
            limit=DEFAULT_LIMIT if limit is None else limit,
            after=None if not cursor else Cursor.decode(cursor),
        )


@attrs.frozen(slots=True)
class Page(Generic[T]):
    """One page of items and the cursor of the next page (``None`` at the end)."""

    items: Sequence[T]
    next_cursor: str | None = None

"""Keyset pagination: a stable oldest-first order on ``(created_at, id)`` and opaque cursors.

A cursor names the last item of a page; the next page is everything strictly after it, so
pages stay fast however deep they go and never repeat or skip an item inserted meanwhile.
"""

from __future__ import annotations

import base64
import binascii
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

T = TypeVar("T")


@attrs.frozen(slots=True)
class Cursor:
    """The position after which the next page starts."""

    created_at: datetime
    id: UUID

    def encode(self) -> str:
        raw = f"{self.created_at.astimezone(UTC).isoformat()}|{self.id}".encode()
        return base64.urlsafe_b64encode(raw).decode("ascii").rstrip("=")

    @classmethod
    def decode(cls, text: str) -> Cursor:
        """The cursor that :meth:`encode` made; ``ValidationError`` for anything else."""
        cursor = _decode(text) if isinstance(text, str) and len(text) <= _MAX_CURSOR else None
        if cursor is None:
            raise ValidationError(field="cursor", reason="not a cursor this API returned")
        return cursor


def _decode(text: str) -> Cursor | None:
    try:
        raw = base64.urlsafe_b64decode(text + "=" * (-len(text) % 4)).decode("ascii")
        ts, _, ident = raw.partition("|")
        created_at = datetime.fromisoformat(ts)
        ident_uuid = UUID(ident)
    except (ValueError, binascii.Error, UnicodeDecodeError):
        return None
    if created_at.tzinfo is None:
        return None
    return Cursor(created_at=created_at, id=ident_uuid)


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

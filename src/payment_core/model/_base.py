"""What every aggregate shares: transitions checked against a table, snapshots for events,
the numbers of documents in yearly sequences."""

from __future__ import annotations

from collections.abc import Mapping
from enum import StrEnum
from typing import TypeVar
from uuid import UUID

from payment_core.errors import InvalidTransitionError
from payment_core.model._copy import copy_aggregate

S = TypeVar("S", bound=StrEnum)


def check_transition(
    table: Mapping[S, frozenset[S]], entity: str, entity_id: UUID, current: S, requested: S
) -> None:
    """Raise :class:`InvalidTransitionError` unless ``current -> requested`` is in ``table``."""
    if requested not in table[current]:
        raise InvalidTransitionError(
            entity=entity, entity_id=entity_id, current=current.value, requested=requested.value
        )


T = TypeVar("T")


def snapshot(aggregate: T) -> T:
    """The aggregate as it is now, for an event: an isolated copy without pending events."""
    return copy_aggregate(aggregate)


def format_document_number(prefix: str, year: int, sequence: int) -> str:
    """A document's number in its yearly sequence: ``INV-2026-000001``, ``CN-2026-000001``."""
    return f"{prefix}-{year:04d}-{sequence:06d}"


def parse_document_number(prefix: str, number: str) -> tuple[int, int] | None:
    """The (year, sequence) of a well-formed number with ``prefix``, else ``None``."""
    parts = number.split("-")
    if len(parts) != 3 or parts[0] != prefix:
        return None
    year, seq = parts[1], parts[2]
    if not (len(year) == 4 and year.isascii() and year.isdigit()):
        return None
    if not (len(seq) >= 6 and seq.isascii() and seq.isdigit()):
        return None
    return int(year), int(seq)

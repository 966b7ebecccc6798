"""What every aggregate shares: a version for optimistic locking and pending events."""

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

"""What every aggregate shares: a version for optimistic locking and pending events."""

from __future__ import annotations

import copy
from collections.abc import Mapping
from enum import StrEnum
from typing import Any, TypeVar
from uuid import UUID

from payment_core.errors import InvalidTransitionError

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
    """A shallow copy for an event: every field of an aggregate is immutable but the event list."""
    clone = copy.copy(aggregate)
    object.__setattr__(clone, "events", [])
    return clone


def pop_events(aggregate: Any) -> list[Any]:
    """Take the aggregate's pending events, leaving it with none."""
    events: list[Any] = aggregate.events
    aggregate.events = []
    return events

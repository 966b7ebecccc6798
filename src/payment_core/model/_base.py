"""What every aggregate shares: a version for optimistic locking and pending events."""

from __future__ import annotations

from collections.abc import Callable, Mapping
from enum import StrEnum
from typing import Any, TypeVar
from uuid import UUID

import attrs

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

_COPIERS: dict[type, Callable[[Any], Any]] = {}


def _make_copier(cls: type) -> Callable[[Any], Any]:
    """Compile a copy function for one attrs class (as attrs compiles its ``__init__``).

    Fields with a default factory are the mutable containers (``metadata``, ``events``): they
    are copied, ``events`` as an empty list; every other field holds an immutable value and is
    shared. Mutable slotted classes without a custom ``__setattr__`` get plain assignments.
    """
    direct = all("__setattr__" not in vars(k) for k in cls.__mro__ if k is not object)
    lines = ["def copy(src):", "    dst = new(cls)"]
    for field in attrs.fields(cls):
        name = field.name
        if name == "events":
            value = "[]"
        elif isinstance(field.default, attrs.Factory):  # type: ignore[arg-type]
            lines.append(f"    value = src.{name}")
            lines.append("    kind = type(value)")
            value = "dict(value) if kind is dict else list(value) if kind is list else value"
        else:
            value = f"src.{name}"
        lines.append(f"    dst.{name} = {value}" if direct else f"    set(dst, {name!r}, {value})")
    lines.append("    return dst")
    namespace: dict[str, Any] = {
        "new": object.__new__,
        "cls": cls,
        "set": object.__setattr__,
    }
    exec("\n".join(lines), namespace)  # noqa: S102 - generated from attrs field names only
    copier: Callable[[Any], Any] = namespace["copy"]
    return copier


def copy_aggregate(aggregate: T) -> T:
    """A copy that shares nothing mutable with ``aggregate`` and has no pending events.

    Every field of an aggregate is an immutable value except ``events`` (the copy starts with
    none) and the containers built by a default factory, such as ``metadata``, which are
    copied one level deep: a caller changing its copy can never change the original. This
    runs on every read and write of the in-memory harness, hence a copy function compiled per
    class rather than :func:`copy.copy` (which goes through pickling's ``__reduce_ex__`` and is
    several times slower on slotted classes).
    """
    cls = type(aggregate)
    copier = _COPIERS.get(cls)
    if copier is None:
        copier = _COPIERS[cls] = _make_copier(cls)
    result: T = copier(aggregate)
    return result


def snapshot(aggregate: T) -> T:
    """The aggregate as it is now, for an event: an isolated copy without pending events."""
    return copy_aggregate(aggregate)

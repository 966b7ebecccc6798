"""Copies of aggregates that share nothing mutable, by a copy function compiled per class."""

from __future__ import annotations

import linecache
from collections.abc import Callable
from typing import Any, TypeVar

import attrs

__all__ = ["copy_aggregate"]

T = TypeVar("T")

_COPIERS: dict[type, Callable[[Any], Any]] = {}


def _compile(script: str, filename: str, namespace: dict[str, Any]) -> None:
    """Run ``script`` in ``namespace`` with its source in :mod:`linecache` under ``filename``,
    so that tracebacks, ``inspect.getsource`` and debuggers show the generated code.

    As attrs does for its generated methods: a name already taken by another script gets a
    ``-1``, ``-2``, ... suffix rather than replacing that script's lines.
    """
    base, count = filename, 1
    lines = script.splitlines(keepends=True)
    while True:
        entry = (len(script), None, lines, filename)
        if linecache.cache.setdefault(filename, entry) == entry:
            break
        filename = f"{base[:-1]}-{count}>"
        count += 1
    exec(compile(script, filename, "exec"), namespace)  # noqa: S102 - from attrs field names only


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
    filename = f"<generated copy {cls.__module__}.{cls.__qualname__}>"
    _compile("\n".join(lines) + "\n", filename, namespace)
    copier: Callable[[Any], Any] = namespace["copy"]
    return copier


def copy_aggregate(aggregate: T) -> T:
    """A copy that shares nothing mutable with ``aggregate`` and has no pending events.

    Every field of an aggregate is an immutable value except ``events`` (the copy starts with
    none) and the containers built by a default factory, such as ``metadata``, which are
    copied one level deep: a caller changing its copy can never change the original. This
    runs on every read and write of the in-memory harness, hence a copy function compiled per
    class rather than :func:`copy.copy` (which goes through pickling's ``__reduce_ex__``).
    """
    cls = type(aggregate)
    copier = _COPIERS.get(cls)
    if copier is None:
        copier = _COPIERS[cls] = _make_copier(cls)
    result: T = copier(aggregate)
    return result

"""The copy function compiled per aggregate class shows its source, like hand-written code."""

from __future__ import annotations

import traceback
from typing import Any

import attrs
import pytest

from payment_core.model._copy import copy_aggregate


def thing_class(*fields: str) -> type:
    """An attrs class named ``Thing`` (the same qualified name on every call) with ``fields``."""
    these: dict[str, Any] = {name: attrs.field() for name in fields}
    these["metadata"] = attrs.field(factory=dict)
    these["events"] = attrs.field(factory=list)
    return attrs.make_class("Thing", these, slots=True)


def failing_copy_traceback(cls: type, missing: str) -> str:
    thing = cls(*range(len(attrs.fields(cls)) - 2))
    object.__delattr__(thing, missing)
    with pytest.raises(AttributeError) as caught:
        copy_aggregate(thing)
    return "".join(traceback.format_exception(caught.value))


def test_a_traceback_through_the_copier_shows_the_generated_line() -> None:
    text = failing_copy_traceback(thing_class("id", "amount"), "amount")
    assert "<generated copy" in text
    assert "dst.amount = src.amount" in text


def test_two_classes_of_one_name_keep_their_own_source() -> None:
    first = failing_copy_traceback(thing_class("id", "first_only"), "first_only")
    second = failing_copy_traceback(thing_class("id", "second_only"), "second_only")
    assert "dst.first_only = src.first_only" in first
    assert "dst.second_only = src.second_only" in second


def test_a_copy_shares_no_container_and_has_no_events() -> None:
    cls = thing_class("id")
    original = cls(1, metadata={"k": "v"}, events=["e"])
    copied = copy_aggregate(original)
    assert copied.id == 1
    assert copied.metadata == {"k": "v"}
    assert copied.metadata is not original.metadata
    assert copied.events == []

"""Keyset pagination: opaque cursors, limits, and a bad cursor is a ValidationError."""

from __future__ import annotations

import base64
from datetime import UTC, datetime, timedelta, timezone
from uuid import UUID

import pytest

from payment_core.errors import ValidationError
from payment_core.pagination import DEFAULT_LIMIT, MAX_LIMIT, Cursor, PageRequest

AT = datetime(2026, 3, 1, 10, 0, 0, 123456, tzinfo=UTC)


def test_a_cursor_round_trips() -> None:
    cursor = Cursor(AT, UUID(int=42))
    assert Cursor.decode(cursor.encode()) == cursor


def test_a_cursor_is_normalised_to_utc() -> None:
    local = AT.astimezone(timezone(timedelta(hours=5)))
    assert Cursor.decode(Cursor(local, UUID(int=1)).encode()).created_at == AT


def test_a_cursor_is_url_safe_without_padding() -> None:
    text = Cursor(AT, UUID(int=42)).encode()
    assert not set(text) & set("=+/")


def b64(raw: bytes) -> str:
    return base64.urlsafe_b64encode(raw).decode().rstrip("=")


@pytest.mark.parametrize(
    "text",
    [
        "not a cursor!",
        "x" * 201,
        b64(b"2026-03-01T10:00:00+00:00"),  # no id
        b64(b"2026-03-01T10:00:00|" + str(UUID(int=1)).encode()),  # naive time
        b64(b"yesterday|" + str(UUID(int=1)).encode()),
        b64(b"2026-03-01T10:00:00+00:00|not-a-uuid"),
        b64("2026-03-01T10:00:00+00:00|é".encode()),
        "\u00e9\u00e9\u00e9\u00e9",
        "a",
    ],
)
def test_a_bad_cursor_is_a_validation_error(text: str) -> None:
    with pytest.raises(ValidationError) as caught:
        Cursor.decode(text)
    assert caught.value.field == "cursor"


def test_a_cursor_that_is_not_a_string_is_a_validation_error() -> None:
    with pytest.raises(ValidationError):
        Cursor.decode(12345)  # type: ignore[arg-type]


def test_page_request_defaults() -> None:
    request = PageRequest.parse()
    assert (request.limit, request.after) == (DEFAULT_LIMIT, None)


def test_page_request_parses_a_cursor() -> None:
    cursor = Cursor(AT, UUID(int=9))
    assert PageRequest.parse(10, cursor.encode()).after == cursor


def test_an_empty_cursor_means_the_first_page() -> None:
    assert PageRequest.parse(10, "").after is None


@pytest.mark.parametrize("limit", [0, -1, MAX_LIMIT + 1, True, 10.0])
def test_a_limit_out_of_range_is_refused(limit: object) -> None:
    with pytest.raises(ValidationError) as caught:
        PageRequest(limit=limit)  # type: ignore[arg-type]
    assert caught.value.field == "limit"


@pytest.mark.parametrize("limit", [1, MAX_LIMIT])
def test_limits_at_the_bounds_are_accepted(limit: int) -> None:
    assert PageRequest(limit=limit).limit == limit


async def test_pages_never_repeat_or_skip_items_added_meanwhile(kit, services, clock) -> None:
    booking = UUID(int=777)
    made = []
    for _ in range(3):
        made.append(await kit.create(booking_id=booking))
        clock.advance(seconds=1)
    first = await services.payments.list_by_booking(booking, PageRequest(limit=2))
    made.append(await kit.create(booking_id=booking))
    rest = await services.payments.list_by_booking(booking, PageRequest.parse(2, first.next_cursor))
    assert [p.id for p in [*first.items, *rest.items]] == [p.id for p in made]
    assert rest.next_cursor is None

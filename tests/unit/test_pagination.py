"""Keyset pagination: opaque cursors, limits, and a bad cursor is a ValidationError."""

from __future__ import annotations

import base64
from datetime import UTC, datetime, timedelta, timezone
from uuid import UUID

import pytest
from hypothesis import given
from hypothesis import strategies as st

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


PLUS_14 = timezone(timedelta(hours=14))
MINUS_14 = timezone(timedelta(hours=-14))


@pytest.mark.parametrize(
    "raw",
    [
        # Well-formed, but the instant is before year 1 or after year 9999 in UTC.
        f"0001-01-01T00:00:00+14:00|{UUID(int=1)}",
        f"9999-12-31T23:59:59-14:00|{UUID(int=1)}",
        # A real instant, spelled otherwise than encode() spells it.
        f"2026-03-01T15:00:00+05:00|{UUID(int=1)}",
        f"2026-03-01T10:00:00Z|{UUID(int=1)}",
        f"2026-03-01 10:00:00+00:00|{UUID(int=1)}",
        f"2026-03-01T10:00:00.000000+00:00|{UUID(int=1)}",
        f"2026-03-01T10:00:00+00:00|{str(UUID(int=10)).upper()}",
        f"2026-03-01T10:00:00+00:00|{UUID(int=1).hex}",
        f"2026-03-01T10:00:00+00:00|{{{UUID(int=1)}}}",
        f"2026-03-01T10:00:00+00:00|{UUID(int=1)}|",
    ],
)
def test_a_well_formed_cursor_this_api_did_not_issue_is_refused(raw: str) -> None:
    with pytest.raises(ValidationError) as caught:
        Cursor.decode(b64(raw.encode()))
    assert caught.value.field == "cursor"


@pytest.mark.parametrize("suffix", ["=", "==", "!", " ", "\n", ".", "%3D"])
def test_our_cursor_with_anything_around_it_is_refused(suffix: str) -> None:
    with pytest.raises(ValidationError):
        Cursor.decode(Cursor(AT, UUID(int=42)).encode() + suffix)


@pytest.mark.parametrize(
    "moment",
    [datetime.min.replace(tzinfo=PLUS_14), datetime.max.replace(tzinfo=MINUS_14), datetime.min],
)
def test_a_cursor_is_only_ever_an_instant_every_storage_can_hold(moment: datetime) -> None:
    """So that no cursor, however it was made, can fail a query (the in-memory comparison
    and the database's bind both convert to UTC)."""
    with pytest.raises(ValidationError) as caught:
        Cursor(moment, UUID(int=1))
    assert caught.value.field == "cursor"


@given(st.text(max_size=250))
def test_decoding_any_text_gives_our_cursor_or_a_validation_error(text: str) -> None:
    try:
        cursor = Cursor.decode(text)
    except ValidationError as exc:
        refused: ValidationError | None = exc
    else:
        refused = None
        assert cursor.encode() == text
    assert refused is None or refused.field == "cursor"


offsets = st.integers(min_value=-(24 * 60 - 1), max_value=24 * 60 - 1).map(
    lambda minutes: timezone(timedelta(minutes=minutes))
)


@given(st.datetimes(timezones=offsets), st.uuids())
def test_any_instant_is_a_position_in_utc_or_refused(moment: datetime, ident: UUID) -> None:
    try:
        cursor = Cursor(moment, ident)
    except ValidationError:
        with pytest.raises(OverflowError):
            moment.astimezone(UTC)
        return
    assert cursor.created_at == moment
    assert cursor.created_at.utcoffset() == timedelta(0)
    assert Cursor.decode(cursor.encode()) == cursor


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

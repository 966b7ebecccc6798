"""Identifiers: unguessable references and time-ordered UUIDv7s."""

from __future__ import annotations

import time
from datetime import timedelta
from uuid import UUID

import pytest

from payment_core.ids import _next_after, is_reference, new_reference, uuid7, uuid_from_int
from payment_core.system import SystemClock, SystemIds

CROCKFORD = set("0123456789abcdefghjkmnpqrstvwxyz")


def test_a_reference_is_the_prefix_and_26_base32_characters() -> None:
    reference = new_reference("pay")
    prefix, _, body = reference.partition("_")
    assert prefix == "pay"
    assert len(body) == 26
    assert set(body) <= CROCKFORD
    assert len(body) * 5 >= 128  # at least 128 random bits


def test_references_do_not_repeat() -> None:
    assert len({new_reference("re") for _ in range(10_000)}) == 10_000


def test_every_character_of_the_alphabet_appears_evenly() -> None:
    counts = dict.fromkeys(CROCKFORD, 0)
    for _ in range(2_000):
        for ch in new_reference("x")[2:]:
            counts[ch] += 1
    expected = 2_000 * 26 / 32
    assert all(0.8 * expected < n < 1.2 * expected for n in counts.values())


@pytest.mark.parametrize(
    ("text", "ok"),
    [
        ("pay_" + "0" * 26, True),
        ("re_" + "z" * 26, False),  # other prefix
        ("pay_" + "0" * 25, False),
        ("pay_" + "u" * 26, False),  # not in Crockford's alphabet
        ("pay" + "0" * 27, False),
        ("pay_" + "O" * 26, False),
    ],
)
def test_is_reference_checks_the_shape(text: str, ok: bool) -> None:
    assert is_reference(text, "pay") is ok


def test_a_new_reference_has_the_shape_it_checks() -> None:
    assert is_reference(new_reference("pay"), "pay")


def test_uuid7_has_version_7_and_the_rfc_variant() -> None:
    value = uuid7()
    assert value.version == 7
    assert value.variant == "specified in RFC 4122"


def test_uuid7_carries_the_current_millisecond() -> None:
    before = time.time_ns() // 1_000_000
    value = uuid7()
    after = time.time_ns() // 1_000_000
    assert before <= value.int >> 80 <= after + 1


def test_uuid7s_made_in_sequence_sort_in_that_order() -> None:
    values = [uuid7() for _ in range(50_000)]  # many share a millisecond
    assert values == sorted(values)
    assert len(set(values)) == len(values)
    assert all(v.version == 7 for v in values[-100:])


def test_uuid7s_of_later_milliseconds_sort_later() -> None:
    first = uuid7()
    time.sleep(0.002)
    assert uuid7() > first


def test_system_ids_and_clock() -> None:
    ids = SystemIds()
    assert ids.new_id().version == 7
    assert is_reference(ids.new_reference("re"), "re")
    now = SystemClock().now()
    assert now.utcoffset() == timedelta(0)


def test_the_next_uuid7_after_a_full_random_field_carries_into_the_next_millisecond() -> None:
    ms = 0x0123_4567_89AB
    full = (ms << 80) | (0x7 << 76) | (0xFFF << 64) | (0b10 << 62) | 0x3FFF_FFFF_FFFF_FFFF
    nxt = UUID(int=_next_after(full))
    assert nxt.int >> 80 == ms + 1
    assert (nxt.version, nxt.int > full) == (7, True)
    half = (ms << 80) | (0x7 << 76) | (0x00A << 64) | (0b10 << 62) | 0x3FFF_FFFF_FFFF_FFFF
    assert (_next_after(half) >> 64) & 0xFFF == 0x00B


@pytest.mark.parametrize("value", [0, 1, 0x1234, (1 << 128) - 1])
def test_uuid_from_int_is_uuid_of_that_int(value: int) -> None:
    made = uuid_from_int(value)
    assert made == UUID(int=value)
    assert (str(made), hash(made), made.is_safe) == (
        str(UUID(int=value)),
        hash(UUID(int=value)),
        UUID(int=value).is_safe,
    )


@pytest.mark.parametrize("value", [-1, 1 << 128])
def test_uuid_from_int_refuses_what_is_not_128_bits(value: int) -> None:
    with pytest.raises(ValueError, match="128-bit"):
        uuid_from_int(value)

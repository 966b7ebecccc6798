"""Raw card data detection: every Luhn-valid 13-19 digit number, in any formatting, and never
one of our UUIDs."""

from __future__ import annotations

import uuid

import pytest
from hypothesis import assume, given
from hypothesis import strategies as st

from payment_core.card_data import find_raw_card_data, luhn_valid

# Full-width digits, written as escapes (they look like ASCII ones).
FULLWIDTH = str.maketrans("0123456789", "".join(chr(0xFF10 + d) for d in range(10)))
VISA = "4242424242424242"
AMEX = "378282246310005"
DINERS_14 = "30569309025904"
VISA_13 = "4222222222222"
MAESTRO_19 = "6759649826438453110"  # Luhn-valid 19 digits


def test_known_test_cards_pass_luhn() -> None:
    for number in (VISA, AMEX, DINERS_14, VISA_13, MAESTRO_19):
        assert luhn_valid(number), number


def test_a_changed_digit_fails_luhn() -> None:
    assert not luhn_valid("4242424242424241")


def test_luhn_reads_digits_of_other_scripts_by_value() -> None:
    arabic_indic = VISA.translate(str.maketrans("0123456789", "٠١٢٣٤٥٦٧٨٩"))
    assert luhn_valid(arabic_indic)


@pytest.mark.parametrize(
    "text",
    [
        VISA,
        "4242 4242 4242 4242",
        "4242-4242-4242-4242",
        "3782 822463 10005",
        f"card: {VISA}, exp 12/30",
        f"room 12 {VISA[:4]} {VISA[4:8]} {VISA[8:12]} {VISA[12:]}",
        f"{VISA}-12",
        VISA_13,
        MAESTRO_19,
        VISA.translate(FULLWIDTH),
    ],
)
def test_a_card_number_in_a_string_is_found(text: str) -> None:
    assert find_raw_card_data({"note": text}) == "note"


@pytest.mark.parametrize(
    "text",
    [
        "",
        "pm_card_visa",
        "4242424242424241",  # not Luhn-valid
        "424242424242",  # 12 digits
        "42424242424242424242",  # 20 digits: one long number, not a card
        "4242  4242  4242  4242",  # double spaces break the groups into short numbers
        str(uuid.UUID("42424242-4242-4242-4242-424242424242")),
        "Room 12, 2 nights, 2026-11-28",
        "+44 20 7946 0958",
    ],
)
def test_text_without_a_card_number_is_not_flagged(text: str) -> None:
    assert find_raw_card_data({"note": text}) is None


def test_a_card_number_as_an_integer_is_found() -> None:
    assert find_raw_card_data({"amount": 100, "pan_like": int(VISA)}) == "pan_like"


def test_a_card_number_as_a_whole_float_is_found() -> None:
    assert find_raw_card_data({"value": float(VISA_13)}) == "value"


def test_ordinary_numbers_and_booleans_are_not_flagged() -> None:
    assert find_raw_card_data({"a": 1, "b": 2.5, "c": True, "d": None, "e": b"4242"}) is None


@pytest.mark.parametrize(
    "name", ["card_number", "cardNumber", "card-number", "Card Number", "CVC", "cvv", "cvv2", "pan"]
)
def test_a_field_named_for_card_data_is_refused_whatever_its_value(name: str) -> None:
    assert find_raw_card_data({"metadata": {name: "x"}}) == f"metadata.{name}"


def test_a_field_named_number_is_refused_only_when_it_holds_a_card_number() -> None:
    assert find_raw_card_data({"number": "12"}) is None
    assert find_raw_card_data({"number": None}) is None
    assert find_raw_card_data({"number": VISA}) == "number"


def test_a_key_holding_a_card_number_is_refused_without_echoing_it() -> None:
    found = find_raw_card_data({"metadata": {VISA: "x"}})
    assert found == "metadata"


def test_nested_lists_report_the_index() -> None:
    payload = {"items": [{"note": "ok"}, {"note": "4242 4242 4242 4242"}]}
    assert find_raw_card_data(payload) == "items[1].note"


def test_a_top_level_string_is_reported_as_the_body() -> None:
    assert find_raw_card_data(VISA) == "body"
    assert find_raw_card_data([VISA]) == "[0]"


def luhn_complete(prefix: str) -> str:
    """``prefix`` with the check digit that makes it Luhn-valid."""
    for check in "0123456789":
        if luhn_valid(prefix + check):
            return prefix + check
    raise AssertionError("unreachable")


card_numbers = st.integers(min_value=12, max_value=18).flatmap(
    lambda n: st.text("0123456789", min_size=n, max_size=n).map(luhn_complete)
)


@st.composite
def formatted(draw: st.DrawFn, number: str) -> str:
    """``number`` split into groups joined by single spaces or dashes, or left whole."""
    pieces: list[str] = []
    rest = number
    while rest:
        size = draw(st.integers(min_value=1, max_value=len(rest)))
        pieces.append(rest[:size])
        rest = rest[size:]
    text = pieces[0]
    for piece in pieces[1:]:
        text += draw(st.sampled_from([" ", "-", ""])) + piece
    return text


# Surrounding text ends (or starts) with something other than a digit, so the number stays
# the number it is; it may hold digits elsewhere, separated from it.
surroundings = st.text(st.characters(blacklist_categories=("Cs",)), max_size=20).filter(
    lambda s: not s or not s[-1].isdigit()
)


@given(card_numbers.flatmap(formatted), surroundings, surroundings)
def test_every_luhn_valid_number_is_found_in_any_formatting(
    text: str, before: str, after: str
) -> None:
    after = after[::-1]  # its first character is not a digit
    assume(not after or not after[0].isdigit())
    # A separator before or after would join the number to neighbouring digits' groups, which
    # is still found; a letter or punctuation is the common case.
    assert find_raw_card_data({"note": f"{before} {text} {after}"}) == "note"


@given(st.uuids())
def test_a_uuid_is_never_flagged(value: uuid.UUID) -> None:
    assert find_raw_card_data({"id": str(value), "ids": [str(value), str(value).upper()]}) is None


@given(st.lists(st.uuids(), min_size=1, max_size=5))
def test_text_made_of_uuids_is_never_flagged(values: list[uuid.UUID]) -> None:
    assert find_raw_card_data(" ".join(str(v) for v in values)) is None


def test_keys_that_are_not_strings_are_looked_at_safely() -> None:
    assert find_raw_card_data({True: "x", 7: "y", None: "z"}) is None

"""Raw card data detection: every Luhn-valid 13-19 digit number, in any formatting, and never
one of our UUIDs."""

from __future__ import annotations

import re
import unicodedata
import uuid
from datetime import date, datetime, timedelta

import pytest
from hypothesis import assume, given
from hypothesis import strategies as st

from payment_core.card_data import (
    card_number_spans,
    find_raw_card_data,
    luhn_valid,
    redact_card_numbers,
)
from payment_core.ids import new_reference

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


SEPARATED = [
    "4242  4242  4242  4242",  # double spaces
    "4242.4242.4242.4242",
    "4242/4242/4242/4242",
    "4242_4242_4242_4242",
    "4242,4242,4242,4242",
    "4242+4242+4242+4242",  # form-encoded spaces
    "4242\u20134242\u20144242\u20124242",  # en, em and figure dashes
    "4242\u00a04242\u202f4242\u20094242",  # NBSP, narrow NBSP, thin space
    "4242\u30004242\u30004242\u30004242",  # ideographic space
    "4242\t4242\n4242\r\n4242",
    "4242 - 4242 . 4242 / 4242",
    "4242 -\n 4242.\u00a04242 _4242",
    "4\u200b2\u200b4\u200b2 4242 4242 4242",  # zero-width spaces
    "4242\u00ad4242\u00ad4242\u00ad4242",  # soft hyphens
    "4242\u202e4242\u202c4242 4242",  # bidi controls
    "4\ufe0f\u20e32\ufe0f\u20e34\ufe0f\u20e32\ufe0f\u20e3 4242 4242 4242",  # keycaps
    "4242\uff0e4242\uff0f4242\uff0c4242",  # full-width punctuation
    "\u2074\u00b2\u2074\u00b2 4242 4242 4242",  # superscripts (NFKC digits)
    "3782 822463 10005",
    "3782.822463.10005",
]


@pytest.mark.parametrize(
    "text",
    [
        VISA,
        "4242 4242 4242 4242",
        "4242-4242-4242-4242",
        f"card: {VISA}, exp 12/30",
        f"room 12 {VISA[:4]} {VISA[4:8]} {VISA[8:12]} {VISA[12:]}",
        f"{VISA}-12",
        VISA_13,
        MAESTRO_19,
        VISA.translate(FULLWIDTH),
        f"card{VISA}",  # glued to a word: still refused in a request
        *SEPARATED,
    ],
)
def test_a_card_number_in_a_string_is_found(text: str) -> None:
    assert find_raw_card_data({"note": text}) == "note"


@pytest.mark.parametrize("text", SEPARATED)
def test_redaction_masks_a_card_number_however_it_is_separated(text: str) -> None:
    assert redact_card_numbers(f"paid with {text} today") == "paid with [REDACTED] today"


def naive_luhn_window(text: str) -> str | None:
    """A Luhn-valid 13-19 digit reading of ``text``'s digit groups, exemptions aside."""
    groups = re.findall(r"\d+", text)
    for i in range(len(groups)):
        for j in range(i, len(groups)):
            digits = "".join(groups[i : j + 1])
            if 13 <= len(digits) <= 19 and luhn_valid(digits):
                return digits
    return None


# Ordinary text that reads as a Luhn-valid number if dates, phone numbers and IBANs were not
# told apart (a tenth of such texts do): each is checked to be one.
LUHN_VALID_LOOKALIKES = [
    "15.09.2026 - 23.09.2026",  # a stay
    "2026-10-08 \u2013 2026-10-16",
    "from 08/10/2026 to 16/10/2026",
    "+86 169 9718 9472",  # a mobile number with its country code (13 digits)
    "DE46 3982 5979 1907 4833 78",  # an IBAN (check digits hold)
    "0049 30 1234 5606",  # numbers that start with 0 are no card's
]


@pytest.mark.parametrize("text", LUHN_VALID_LOOKALIKES)
def test_dates_phone_numbers_and_ibans_that_pass_luhn_are_not_card_numbers(text: str) -> None:
    assert naive_luhn_window(text) is not None, "not a lookalike: pick another example"
    assert find_raw_card_data({"note": text}) is None
    assert redact_card_numbers(text) == text


@pytest.mark.parametrize(
    "text",
    [
        "",
        "pm_card_visa",
        "4242424242424241",  # not Luhn-valid
        "424242424242",  # 12 digits
        "42424242424242424242",  # 20 digits: one long number, not a card
        str(uuid.UUID("42424242-4242-4242-4242-424242424242")),
        "Room 12, 2 nights, 2026-11-28",
        "+44 20 7946 0958",
        "+1 (555) 123-4567",
        "+49 (0)30 1234 5678",
        "+86 138 0013 8000 / +86 139 0013 8001",
        "GB82 WEST 1234 5698 7654 32",
        "2026-11-28T14:30:00.123456+00:00",
        "2026-04-17 09:50:52.638524",  # str(datetime)
        "check-in 14:00-22:00, 2026-11-28",
        "EUR 1,234,567.89",
        "1.234.567,89 \u20ac",
        "120.00 + 35.50 + 12.00 = 167.50",
        "4242 4242 4242 4242".replace(" ", ": "),  # a colon ends a number (times)
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


# Card numbers start with 1-9 (no card has major industry identifier 0).
card_numbers = st.integers(min_value=12, max_value=18).flatmap(
    lambda n: st.builds(
        str.__add__,
        st.sampled_from("123456789"),
        st.text("0123456789", min_size=n - 1, max_size=n - 1),
    ).map(luhn_complete)
)


def _separator_characters() -> list[str]:
    """Every space, dash and invisible format character (by category, not by our pattern),
    line breaks and the punctuation people group numbers with."""
    chars = [
        chr(cp)
        for cp in range(0x30000)
        if unicodedata.category(chr(cp)) in ("Zs", "Zl", "Zp", "Pd", "Cf")
    ]
    return [*chars, *"\t\n\r\x0b\x0c.,/\\_'\u00b7\u2212\ufe0f\u20e3\uff0e\uff0f\uff0c"]


SEPARATOR_CHARACTERS = _separator_characters()
# Each digit in one of these scripts: ASCII, full-width, Arabic-Indic, Devanagari,
# mathematical bold, superscript (NFKC folds the last to ASCII digits).
DIGIT_SCRIPTS = [
    "0123456789",
    "".join(chr(0xFF10 + d) for d in range(10)),
    "".join(chr(0x0660 + d) for d in range(10)),
    "".join(chr(0x0966 + d) for d in range(10)),
    "".join(chr(0x1D7CE + d) for d in range(10)),
    "\u2070\u00b9\u00b2\u00b3\u2074\u2075\u2076\u2077\u2078\u2079",
]
_SPELLS_A_DATE = re.compile(
    r"(?<![0-9])(?:(?:19|20)[0-9]{2}([-/.])[0-9]{1,2}\1[0-9]{1,2}"
    r"|[0-9]{1,2}([-/.])[0-9]{1,2}\2(?:19|20)[0-9]{2})(?![0-9])"
)


@st.composite
def gaps(draw: st.DrawFn) -> str:
    """What may join two groups: nothing, or up to four separators (a ``+`` only first)."""
    plus = draw(st.sampled_from(["", "", "", "+"]))
    rest = draw(st.lists(st.sampled_from(SEPARATOR_CHARACTERS), max_size=4 - len(plus)))
    return plus + "".join(rest)


@st.composite
def formatted(draw: st.DrawFn, number: str) -> str:
    """``number`` split anywhere into groups joined by any mix of separators."""
    digits = "".join(draw(st.sampled_from(DIGIT_SCRIPTS))[int(d)] for d in number)
    pieces: list[str] = []
    rest = digits
    while rest:
        size = draw(st.integers(min_value=1, max_value=len(rest)))
        pieces.append(rest[:size])
        rest = rest[size:]
    text = pieces[0]
    for piece in pieces[1:]:
        text += draw(gaps()) + piece
    # Split as a calendar date, part of it is read as the date it spells.
    assume(_SPELLS_A_DATE.search(text) is None)
    return text


surroundings = st.text(st.characters(blacklist_categories=("Cs",)), max_size=20)


@given(card_numbers.flatmap(formatted), surroundings, surroundings)
def test_every_luhn_valid_number_is_found_and_redacted_however_it_is_separated(
    text: str, before: str, after: str
) -> None:
    note = f"{before}\ncard: {text} (exp 12/30) {after}"
    assert find_raw_card_data({"note": note}) == "note"
    redacted = redact_card_numbers(note)
    assert text not in redacted
    assert "card: [REDACTED] (exp 12/30)" in redacted


@given(card_numbers.flatmap(formatted))
def test_a_card_number_among_other_numbers_is_found(text: str) -> None:
    assert find_raw_card_data(f"Room 12, 2 nights, {text} 2026-11-28 +44 20 7946 0958") == "body"


def _iban(country: str, bban: str) -> str:
    check = 98 - int("".join(str(int(c, 36)) for c in f"{bban}{country}00")) % 97
    compact = f"{country}{check:02d}{bban}"
    return " ".join(compact[i : i + 4] for i in range(0, len(compact), 4))


@st.composite
def ordinary_texts(draw: st.DrawFn) -> str:
    """Dates, stays, timestamps, amounts, phone numbers, IBANs, UUIDs and references."""
    day = draw(st.dates(min_value=date(1990, 1, 1), max_value=date(2099, 12, 31)))
    later = day + timedelta(days=draw(st.integers(1, 60)))
    moment = draw(st.datetimes(min_value=datetime(1990, 1, 1), max_value=datetime(2099, 1, 1)))
    fmt = draw(st.sampled_from(["%Y-%m-%d", "%d.%m.%Y", "%d/%m/%Y", "%m/%d/%Y", "%Y/%m/%d"]))
    dash = draw(st.sampled_from([" - ", " \u2013 ", " to ", ", ", " / "]))
    amount = draw(st.integers(0, 99_999_999_999))
    country = draw(st.sampled_from(["1", "44", "49", "86", "33", "7", "971"]))
    subscriber = draw(st.text("0123456789", min_size=15 - len(country), max_size=15 - len(country)))
    phone = f"+{country} {subscriber[:3]} {subscriber[3:7]} {subscriber[7:]}"
    bban = draw(st.text("0123456789", min_size=18, max_size=18))
    texts = [
        f"stay {day:{fmt}}{dash}{later:{fmt}}",
        moment.isoformat(),
        str(moment),
        f"{moment:%d.%m.%Y %H:%M}",
        f"EUR {amount // 100:,}.{amount % 100:02d}",
        f"{amount // 100:,}.{amount % 100:02d}".replace(",", " "),
        phone,
        phone.replace(" ", "-"),
        f"{phone} / {phone}",
        _iban("DE", bban),
        " ".join(str(u) for u in draw(st.lists(st.uuids(), min_size=1, max_size=3))),
        new_reference("pay"),
    ]
    return draw(st.sampled_from(texts))


@given(ordinary_texts())
def test_ordinary_text_is_never_flagged(text: str) -> None:
    assert find_raw_card_data({"note": text}) is None
    assert redact_card_numbers(text) == text


@given(st.uuids())
def test_a_uuid_is_never_flagged(value: uuid.UUID) -> None:
    assert find_raw_card_data({"id": str(value), "ids": [str(value), str(value).upper()]}) is None


@given(st.lists(st.uuids(), min_size=1, max_size=5))
def test_text_made_of_uuids_is_never_flagged(values: list[uuid.UUID]) -> None:
    assert find_raw_card_data(" ".join(str(v) for v in values)) is None


def test_keys_that_are_not_strings_are_looked_at_safely() -> None:
    assert find_raw_card_data({True: "x", 7: "y", None: "z"}) is None


@pytest.mark.parametrize(
    "ident",
    [
        "9f2c4242424242424242ab07e1d3c5",  # a hex request id with a Luhn-valid run inside
        "pay_4242424242424242x9kqm3v8wz5t7",
        "pi_3Mtw4242424242424242",
        "evt_b4242424242424242",
    ],
)
def test_redaction_leaves_digits_in_ids_alone(ident: str) -> None:
    assert redact_card_numbers(f"request {ident} failed") == f"request {ident} failed"
    assert find_raw_card_data(ident) == "body"  # a request carrying one is still refused


def test_redaction_masks_a_card_number_written_right_after_other_scripts_letters() -> None:
    assert redact_card_numbers("\u5361\u53f74242424242424242") == "\u5361\u53f7[REDACTED]"
    assert redact_card_numbers("Zo\u00eb4242 4242 4242 4242") == "Zo\u00eb[REDACTED]"


def test_spans_cover_the_number_from_first_digit_to_last() -> None:
    text = "paid 4242 4242 4242 4242, thanks"
    assert list(card_number_spans(text)) == [(5, 24)]

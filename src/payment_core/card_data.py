"""Detection of raw card data in input, so that it is refused before it is stored or logged.

A payment service that accepts tokens must never see a card number (PAN) or a security code.
Anything that looks like one, anywhere in a request, is refused; free text that goes to a log
or comes from a provider has it masked.

What counts as a card number in text: a Luhn-valid number of 13 to 19 digits, written
whole or in groups. Groups are joined by up to four separator characters each: any space
(NBSP, ideographic, ...), line break or tab, any dash, ``. , / \\ _ ' ·``, a ``+`` right after
a digit, invisible format characters (zero-width space, soft hyphen, bidi controls) and
combining marks. Digits are those of any script, and what NFKC folds to a digit
(full-width, superscript, circled). Written text does not hide a number behind more than
that; ``:`` (times), ``=``, brackets, quotes and letters end a number.

A card number is whole groups of such a run ("4242 4242 4242 4242" is found in
"room 12 4242 4242 4242 4242"), and these are not card numbers, though digits in them may
pass the Luhn check:

- a group of more than 19 digits (one long number: an id, a reference);
- a number starting with 0 (ISO/IEC 7812 gives cards no major industry identifier 0):
  counters, padded order numbers, times and dates;
- a UUID, a calendar date (2026-11-28, 28.11.2026, 11/28/2026: the same ``-``, ``/`` or
  ``.`` twice, a year 19xx or 20xx) and an IBAN whose check digits hold;
- a phone number: at most 15 digits (E.164) after a ``+`` sign (a ``+`` that does not
  follow a digit starts a new number).

Redaction of free text (:func:`redact_card_numbers`) also leaves alone digits that are part
of an ASCII word, such as hex ids and references: a request is refused for those too
(:func:`find_raw_card_data`), since a client has no business sending a card number glued to
letters either.
"""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Iterator, Mapping, Sequence
from typing import Final

__all__ = [
    "ASCII_DIGIT_RUN",
    "DIGIT_RUN",
    "FORBIDDEN_FIELDS",
    "card_number_spans",
    "find_raw_card_data",
    "luhn_valid",
    "redact_card_numbers",
]

#: Field names that only ever hold raw card data.
FORBIDDEN_FIELDS: Final = frozenset(
    {
        "card_number", "cardnumber", "number", "pan", "cvc", "cvv", "cvv2", "cvc2", "cid",
        "security_code", "card_cvc", "card_cvv",
    }
)  # fmt: skip

# Names compared without case and separators: cardNumber, card-number and "Card Number" too.
_NAME_NOISE: Final = re.compile(r"[\s_\-.]+")
_FORBIDDEN_NAMES: Final = frozenset(_NAME_NOISE.sub("", name) for name in FORBIDDEN_FIELDS)

_MIN_DIGITS: Final = 13
_MAX_DIGITS: Final = 19
_MAX_PHONE_DIGITS: Final = 15  # E.164
_MAX_SEPARATORS: Final = 4

# Separators, as a character class (the module docstring says which and why).
_ASCII_SEPARATORS: Final = "\\t\\n\\x0b\\x0c\\r\\x1c-\\x1f '+,\\-./\\\\_"
_SEPARATORS: Final = (
    _ASCII_SEPARATORS
    + "\\x85\\xa0\\xad\\xb7\\u0387"  # next line, NBSP, soft hyphen, middle dots
    + "\\u0300-\\u036f\\u034f\\u20d0-\\u20ff\\ufe00-\\ufe0f"  # combining marks, keycaps
    + "\\u1680\\u2000-\\u200a\\u2028\\u2029\\u202f\\u205f\\u3000"  # spaces
    + "\\u058a\\u05be\\u1400\\u1806\\u2010-\\u2015\\u2212\\u2e17\\u2e1a\\u2e3a\\u2e3b"
    + "\\u2e40\\u2e5d\\u301c\\u3030\\u30a0\\ufe31\\ufe32\\ufe58\\ufe63\\uff0d"  # dashes
    + "\\u2024\\u207a\\u208a\\ufb29\\ufe10\\ufe33\\ufe34\\ufe4d-\\ufe50\\ufe52\\ufe62"
    + "\\ufe68\\uff07\\uff0b\\uff0c\\uff0e\\uff0f\\uff3c\\uff3f"  # NFKC: . , / \\ _ + '
    # Format characters (invisible): zero-width and bidi controls, number signs, tags.
    + "\\u0600-\\u0605\\u061c\\u06dd\\u070f\\u0890\\u0891\\u08e2\\u180e\\u200b-\\u200f"
    + "\\u202a-\\u202e\\u2060-\\u2064\\u2066-\\u206f\\ufeff\\ufff9-\\ufffb\\U00010ead"
    + "\\U000110bd\\U000110cd\\U00013430-\\U00013438\\U0001bca0-\\U0001bca3"
    + "\\U0001d173-\\U0001d17a\\U000e0001\\U000e0020-\\U000e007f"
)
# Decimal digits of every script (\d), and what NFKC folds to one digit.
_DIGITS: Final = "\\d\\xb2\\xb3\\xb9\\u2070\\u2074-\\u2079\\u2080-\\u2089\\u2460-\\u2468\\u24ea"

#: Thirteen digits with at most four separators between each two: text without such a run
#: holds no card number. A pattern, for callers that search text cheaply first.
DIGIT_RUN: Final = rf"[{_DIGITS}](?:[{_SEPARATORS}]{{0,{_MAX_SEPARATORS}}}[{_DIGITS}]){{12}}"
#: :data:`DIGIT_RUN` for bytes (ASCII digits and separators). Text in another encoding, or
#: with escapes (JSON's ``\\u0034``, ``\\t``), needs decoding first.
ASCII_DIGIT_RUN: Final = (
    rf"[0-9](?:[{_ASCII_SEPARATORS}]{{0,{_MAX_SEPARATORS}}}[0-9]){{12}}".encode()
)

_ENOUGH_DIGITS: Final = re.compile(DIGIT_RUN)
_GROUP: Final = re.compile(f"[{_DIGITS}]+")
_GAP: Final = re.compile(f"[{_SEPARATORS}]{{1,{_MAX_SEPARATORS}}}")

# Numbers that are something else, blanked before the search (the docstring says why).
_UUID: Final = re.compile(
    r"[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}"
)
_DAY = r"(?:0?[1-9]|[12][0-9]|3[01])"
_MONTH = r"(?:0?[1-9]|1[0-2])"
_YEAR = r"(?:19|20)[0-9]{2}"
_DATE: Final = re.compile(
    rf"(?<![0-9])(?:{_YEAR}([-/.]){_MONTH}\1{_DAY}|{_DAY}([-/.]){_MONTH}\2{_YEAR}"
    rf"|{_MONTH}([-/.]){_DAY}\3{_YEAR})(?![0-9])"
)
_IBAN: Final = re.compile(
    r"(?<![A-Za-z0-9])[A-Z]{2}[0-9]{2}(?: ?[A-Z0-9]{4}){2,7}(?: ?[A-Z0-9]{1,3})?(?![A-Za-z0-9])"
)
_BLANK: Final = "\x00"  # neither a digit nor a separator: it ends a number


def luhn_valid(digits: str) -> bool:
    """Whether a string of decimal digits (any script's) passes the Luhn check."""
    total = 0
    for i, ch in enumerate(reversed(_ascii_digits(digits))):
        d = ord(ch) - 48
        if i % 2 == 1:
            d *= 2
            if d > 9:
                d -= 9
        total += d
    return total % 10 == 0


def _ascii_digits(digits: str) -> str:
    # A card number written in another script's digits (Arabic-Indic, full-width, ...) or in
    # what NFKC folds to digits (superscripts) is still a card number: read each by its value.
    if digits.isascii():
        return digits
    return "".join(
        str(value) if (value := unicodedata.decimal(ch, None)) is not None
        else unicodedata.normalize("NFKC", ch)
        for ch in digits
    )  # fmt: skip


def _iban_valid(text: str) -> bool:
    compact = text.replace(" ", "")
    rearranged = compact[4:] + compact[:4]
    return int("".join(str(int(ch, 36)) for ch in rearranged)) % 97 == 1


def _blank(match: re.Match[str]) -> str:
    return _BLANK * (match.end() - match.start())


def _blank_iban(match: re.Match[str]) -> str:
    return _blank(match) if _iban_valid(match.group()) else match.group()


def _without_other_numbers(text: str) -> str:
    """``text`` with UUIDs, dates and IBANs blanked out, same length (positions hold)."""
    if "-" in text:
        text = _UUID.sub(_blank, text)
    if "-" in text or "/" in text or "." in text:
        text = _DATE.sub(_blank, text)
    if not text.islower():
        text = _IBAN.sub(_blank_iban, text)
    return text


def card_number_spans(text: str, *, in_words: bool = True) -> Iterator[tuple[int, int]]:
    """Where ``text`` holds card numbers: ``(start, end)`` of each, first digit to last.

    Spans may overlap (two readings of one run of groups). With ``in_words=False`` digits
    that touch an ASCII letter (``a1b2...``, ``pay_7K9...``) are part of a word (an id), not
    a number.
    """
    if len(text) < _MIN_DIGITS or _ENOUGH_DIGITS.search(text) is None:
        return  # the usual case, decided in one pass of C
    work = _without_other_numbers(text)
    run: list[tuple[int, int]] = []
    for match in _GROUP.finditer(work):
        start, end = match.span()
        if not in_words and _touches_a_letter(work, start, end):
            yield from _in_run(work, run)
            run = []
            continue
        if run and not _joined(work, run[-1][1], start):
            yield from _in_run(work, run)
            run = []
        run.append((start, end))
    yield from _in_run(work, run)


def _touches_a_letter(text: str, start: int, end: int) -> bool:
    # Ids are ASCII (hex, base32, base62); scripts written without spaces put digits right
    # after other letters ("卡号4242..."), and those are text.
    before = text[start - 1] if start > 0 else ""
    after = text[end] if end < len(text) else ""
    return (before.isascii() and before.isalpha()) or (after.isascii() and after.isalpha())


def _joined(text: str, previous_end: int, start: int) -> bool:
    """Whether the gap between two groups is a separator (a ``+`` only right after a digit)."""
    gap = _GAP.fullmatch(text, previous_end, start)
    return gap is not None and "+" not in gap.group()[1:]


def _in_run(text: str, run: list[tuple[int, int]]) -> Iterator[tuple[int, int]]:
    digits = [_ascii_digits(text[start:end]) for start, end in run]
    total = sum(map(len, digits))
    if total < _MIN_DIGITS:
        return
    first = run[0][0]
    if total <= _MAX_PHONE_DIGITS and first > 0 and text[first - 1] == "+":
        return  # a phone number
    for i in range(len(run)):
        if digits[i][0] == "0":
            continue
        count = 0
        for j in range(i, len(run)):
            count += len(digits[j])
            if count > _MAX_DIGITS:
                break
            if count >= _MIN_DIGITS and luhn_valid("".join(digits[i : j + 1])):
                yield run[i][0], run[j][1]


def _looks_like_pan(text: str) -> bool:
    """Whether ``text`` holds a card number (digits in words count)."""
    return next(card_number_spans(text), None) is not None


def redact_card_numbers(text: str, mask: str = "[REDACTED]") -> str:
    """``text`` with each card number replaced by ``mask``; ids and words left as they are."""
    if len(text) < _MIN_DIGITS or _ENOUGH_DIGITS.search(text) is None:
        return text  # every log line's every string comes here: the usual case first
    spans = sorted(card_number_spans(text, in_words=False))
    if not spans:
        return text
    out: list[str] = []
    position = 0
    for start, end in spans:
        if end <= position:
            continue
        if start >= position:
            out.append(text[position:start])
            out.append(mask)
        position = end
    out.append(text[position:])
    return "".join(out)


def find_raw_card_data(value: object, path: str = "") -> str | None:
    """The path of the first field that holds raw card data, or ``None``.

    Looks through nested mappings and sequences: a field named like a card number or security
    code (``card_number``, ``cvc``, ``cvv``, ...) whatever its value, a key or value (string or
    integer) holding a card number as the module docstring describes, and a ``number`` field
    holding one.
    """
    if isinstance(value, str):
        return (path or "body") if _looks_like_pan(value) else None
    if type(value) is dict or isinstance(value, Mapping):
        for key, item in value.items():
            name = str(key)
            where = f"{path}.{name}" if path else name
            normalized = name.lower()
            if not normalized.isalnum():
                normalized = _NAME_NOISE.sub("", normalized)
            if normalized in _FORBIDDEN_NAMES and normalized != "number":
                return where
            if _is_pan_like(key):
                return path or "body"  # the key itself is the card number: never echo it
            found = find_raw_card_data(item, where)
            if found is not None:
                return found
        return None
    if isinstance(value, bool):
        return None
    if isinstance(value, int | float):
        return (path or "body") if _is_pan_like(value) else None
    if isinstance(value, Sequence) and not isinstance(value, bytes | bytearray):
        for i, item in enumerate(value):
            found = find_raw_card_data(item, f"{path}[{i}]")
            if found is not None:
                return found
    return None


def _is_pan_like(value: object) -> bool:
    if isinstance(value, bool):
        return False
    if isinstance(value, float):
        # A number written as a float (4242424242424242.0): its integral digits.
        if not value.is_integer():
            return False
        value = int(value)
    return isinstance(value, str | int) and _looks_like_pan(str(value))

"""Detection of raw card data in input, so that it is refused before it is stored or logged.

A payment service that accepts tokens must never see a card number (PAN) or a security code.
Anything that looks like one, anywhere in a request, is refused.
"""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Mapping, Sequence
from typing import Final

__all__ = ["DIGIT_RUN", "FORBIDDEN_FIELDS", "find_raw_card_data", "luhn_valid"]

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

# A run of digit groups joined by single spaces or dashes ("4242 4242-4242 4242", "4242").
_RUN: Final = re.compile(r"\d+(?:[ -]\d+)*")
_SEPARATOR: Final = re.compile(r"[ -]")
#: Thirteen digits in one run (single spaces or dashes allowed between them): text without
#: such a run holds no card number. A pattern, for callers that search bytes.
DIGIT_RUN: Final = r"\d(?:[ -]?\d){12}"
_ENOUGH_DIGITS: Final = re.compile(DIGIT_RUN)
_MIN_DIGITS: Final = 13
_MAX_DIGITS: Final = 19


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
    # ``\d`` matches every script's decimal digits (Arabic-Indic, full-width, ...), and a card
    # number written in them is still a card number: read each by its value.
    if digits.isascii():
        return digits
    return "".join(str(unicodedata.decimal(ch)) for ch in digits)


# UUIDs are ours and carry runs of digits; they are never card numbers.
_UUID: Final = re.compile(
    r"[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}"
)


def _looks_like_pan(text: str) -> bool:
    """Whether ``text`` holds a Luhn-valid 13-19 digit number, plain or grouped.

    A number is whole groups of a run: "4242 4242 4242 4242" is found inside "room 12 4242
    4242 4242 4242" although the run has 18 digits. A group of more than 19 digits is one long
    number (an id, a reference) and never a card number.
    """
    if len(text) < _MIN_DIGITS or _ENOUGH_DIGITS.search(text) is None:
        return False  # the usual case, decided in one pass of C
    if "-" in text:
        text = _UUID.sub(" ", text)
    for match in _RUN.finditer(text):
        run = match.group()
        if len(run) < _MIN_DIGITS:
            continue
        groups = _SEPARATOR.split(run)
        for start in range(len(groups)):
            count = 0
            for end in range(start, len(groups)):
                count += len(groups[end])
                if count > _MAX_DIGITS:
                    break
                if count >= _MIN_DIGITS and luhn_valid("".join(groups[start : end + 1])):
                    return True
    return False


def find_raw_card_data(value: object, path: str = "") -> str | None:
    """The path of the first field that holds raw card data, or ``None``.

    Looks through nested mappings and sequences: a field named like a card number or security
    code (``card_number``, ``cvc``, ``cvv``, ...) whatever its value, a key or value (string or
    integer) holding a Luhn-valid 13-19 digit number, and a ``number`` field holding one.
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

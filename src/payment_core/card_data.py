"""Detection of raw card data in input, so that it is refused before it is stored or logged.

A payment service that accepts tokens must never see a card number (PAN) or a security code.
Anything that looks like one, anywhere in a request, is refused.
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from typing import Final

__all__ = ["FORBIDDEN_FIELDS", "find_raw_card_data", "luhn_valid"]

#: Field names that only ever hold raw card data.
FORBIDDEN_FIELDS: Final = frozenset(
    {
        "card_number",
        "cardnumber",
        "number",
        "pan",
        "cvc",
        "cvv",
        "cvv2",
        "cvc2",
        "cid",
        "security_code",
        "card_cvc",
        "card_cvv",
    }
)

# 13 to 19 digits, optionally grouped by single spaces or dashes.
_CANDIDATE: Final = re.compile(r"(?<!\d)(?:\d[ -]?){12,18}\d(?!\d)")


def luhn_valid(digits: str) -> bool:
    """Whether a string of digits passes the Luhn check."""
    total = 0
    for i, ch in enumerate(reversed(digits)):
        d = ord(ch) - 48
        if i % 2 == 1:
            d *= 2
            if d > 9:
                d -= 9
        total += d
    return total % 10 == 0


# UUIDs are ours and carry runs of digits; they are never card numbers.
_UUID: Final = re.compile(
    r"[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}"
)


def _looks_like_pan(text: str) -> bool:
    if len(text) < 13:
        return False
    if "-" in text:
        text = _UUID.sub(" ", text)
    for match in _CANDIDATE.finditer(text):
        digits = match.group().replace(" ", "").replace("-", "")
        if 13 <= len(digits) <= 19 and luhn_valid(digits):
            return True
    return False


def find_raw_card_data(value: object, path: str = "") -> str | None:
    """The path of the first field that holds raw card data, or ``None``.

    Looks through nested mappings and sequences: a field named like a card number or security
    code (``card_number``, ``cvc``, ``cvv``, ...) whatever its value, and any string or integer
    holding a Luhn-valid 13-19 digit number.
    """
    if isinstance(value, Mapping):
        for key, item in value.items():
            name = str(key)
            where = f"{path}.{name}" if path else name
            if name.lower() in FORBIDDEN_FIELDS and name.lower() != "number":
                return where
            if name.lower() == "number" and item is not None and _is_pan_like(item):
                return where
            found = find_raw_card_data(item, where)
            if found is not None:
                return found
        return None
    if isinstance(value, str):
        return path or "body" if _looks_like_pan(value) else None
    if isinstance(value, int) and not isinstance(value, bool):
        return path or "body" if _looks_like_pan(str(value)) else None
    if isinstance(value, Sequence) and not isinstance(value, bytes | bytearray):
        for i, item in enumerate(value):
            found = find_raw_card_data(item, f"{path}[{i}]")
            if found is not None:
                return found
    return None


def _is_pan_like(value: object) -> bool:
    return (
        isinstance(value, str | int) and not isinstance(value, bool) and _looks_like_pan(str(value))
    )

"""How amounts, rates, dates and free text are written on a document."""

from __future__ import annotations

import unicodedata
from datetime import UTC, date, datetime
from typing import Final

from fpdf.bidi import BidiParagraph

from payment_core.money import Money

#: The total-pages placeholder: user text never contains it (:func:`clean` drops noncharacters),
#: and its three characters reserve the width of three digits.
PAGES_ALIAS: Final = "\ufdd0#\ufdd0"
# Control, format, surrogate, private-use and unassigned code points print as nothing useful
# (or as a box), and format characters such as U+202E could reorder a printed line.
_DROPPED_CATEGORIES: Final = frozenset({"Cc", "Cf", "Cs", "Co", "Cn"})
_RTL_CLASSES: Final = frozenset({"R", "AL"})


def money(amount: int, currency: str) -> str:
    """``EUR 203.58``, ``JPY 5000``, ``KWD 1.234``: digits from the integer, never a float."""
    return f"{currency} {Money.of(amount, currency).format()}"


def rate(bps: int) -> str:
    """A tax rate in basis points as a percentage: 1000 -> ``10%``, 550 -> ``5.5%``."""
    whole, rest = divmod(bps, 100)
    if rest == 0:
        return f"{whole}%"
    return f"{whole}.{rest:02d}".rstrip("0") + "%"


def day(value: date) -> str:
    """ISO 8601 (``2026-11-28``): read the same way in every country."""
    return value.isoformat()


def moment(value: datetime) -> str:
    """``2026-11-28 10:00 UTC``."""
    return value.astimezone(UTC).strftime("%Y-%m-%d %H:%M UTC")


def clean(text: str | None) -> str:
    """One line of user text, safe to print: no control or format characters, no newlines."""
    if not text:
        return ""
    kept = "".join(
        " " if char in "\t\r\n" else char
        for char in text
        if char in "\t\r\n" or unicodedata.category(char) not in _DROPPED_CATEGORIES
    )
    return " ".join(kept.split())


def paragraph(text: str | None) -> list[str]:
    """Multi-line user text as cleaned lines (blank lines kept, trailing ones dropped)."""
    lines = [clean(line) for line in (text or "").splitlines()]
    while lines and not lines[-1]:
        lines.pop()
    return lines


def visual(text: str) -> str:
    """``text`` in display order: right-to-left runs (Hebrew, Arabic) reversed, the rest as is.

    A PDF shows glyphs in the order they are written, so a right-to-left name must be written
    in visual order; text extraction (and copy and paste) reads it back in logical order.
    """
    if not any(unicodedata.bidirectional(char) in _RTL_CLASSES for char in text):
        return text
    return BidiParagraph(text).get_reordered_string()

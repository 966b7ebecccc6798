"""Text that a provider or a webhook sends, made safe before the core keeps or shows it.

A decline message, a failure code or a refund's failure reason comes from outside: it may quote
a card number, hold control characters or lone surrogates (which no database stores), or be
longer than its column. Every such text passes :func:`screen_text` (free text) or
:func:`screen_code` (a machine code) where it enters the core: the fields of the provider port's
replies, webhook events and provider errors convert through them, so no adapter can forget.

Card numbers are found by :func:`payment_core.card_data.find_raw_card_data`, the same detection
that refuses card data in requests: what it flags is masked, never stored or shown.
"""

from __future__ import annotations

import re
from typing import Final

from payment_core.card_data import find_raw_card_data

__all__ = ["MAX_CODE", "MAX_TEXT", "REDACTED", "screen_code", "screen_text"]

#: Longest free text kept (a provider's message says what it says in far less).
MAX_TEXT: Final = 300
#: Longest code kept: the width of the ``failure_code`` columns.
MAX_CODE: Final = 64
REDACTED: Final = "[redacted]"

# More than this is never read: the longest kept text is far shorter, and a bound keeps the
# screening cheap whatever a webhook sends.
_MAX_READ: Final = 4096
# A span of digits joined by anything but letters ("4242 4242.4242/4242", "4242\u20134242"): the
# detector decides whether a span holds a card number, and a span that does is masked whole.
_DIGIT_SPAN: Final = re.compile(r"\d(?:[^\w]|_|\d)*\d|\d")
_CODE: Final = re.compile(r"[A-Za-z0-9_.:-]+")


def screen_text(value: object, *, limit: int = MAX_TEXT) -> str | None:
    """``value`` as text safe to store and show, or ``None`` when nothing usable is left.

    Whitespace runs become one space; control and format characters and lone surrogates go;
    every run of digits the card-data detector flags becomes ``[redacted]``; the result is cut
    to ``limit`` characters. Anything but a string is ``None``.
    """
    if not isinstance(value, str):
        return None
    text = " ".join(value[:_MAX_READ].split())
    if not text.isprintable():
        text = " ".join("".join(ch for ch in text if ch.isprintable()).split())
    if find_raw_card_data(text) is not None:
        text = _DIGIT_SPAN.sub(_mask, text)
        if find_raw_card_data(text) is not None:
            return REDACTED  # flagged by something no digit span explains: keep none of it
    text = text[:limit].rstrip()
    return text or None


def screen_code(value: object, *, limit: int = MAX_CODE) -> str | None:
    """A machine code (``card_declined``, ``INSTRUMENT_DECLINED``) as sent, or ``None``.

    A code is 1 to ``limit`` characters of ``A-Z a-z 0-9 _ . : -`` and holds no card number;
    anything else is not a code.
    """
    if not isinstance(value, str) or not 0 < len(value) <= limit:
        return None
    if _CODE.fullmatch(value) is None or find_raw_card_data(value) is not None:
        return None
    return value


def _mask(match: re.Match[str]) -> str:
    span = match.group()
    return REDACTED if find_raw_card_data(span) is not None else span

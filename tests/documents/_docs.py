"""Documents for the tests: the samples, and builders for invoices of any shape."""

from __future__ import annotations

from typing import Any

from payment_adapters.documents import InvoiceDocument, InvoiceStatus, Party
from payment_adapters.documents.samples import GUEST, SAMPLE_INVOICE, invoice_of, line

#: The names every document must print and give back as text.
NAMES = ("Zoë", "Ñúñez", "Åberg", "山田 太郎", "Ελένη", "Дмитрий", "עברית")


def long_invoice(count: int = 200, **changes: Any) -> InvoiceDocument:
    """An invoice of ``count`` lines; every seventh description wraps onto more lines."""
    lines = [
        line(
            f"Line {n:03d}: night in a double room with breakfast and a description long "
            "enough to wrap onto a second line of the table"
            if n % 7 == 0
            else f"Line {n:03d}: room night",
            1 + n % 3,
            9_000 + n,
            (1000, 2000, 0)[n % 3],
        )
        for n in range(1, count + 1)
    ]
    return invoice_of(lines, **changes)


def unicode_customer() -> Party:
    return Party(
        name="Zoë Ñúñez Åberg 山田 太郎",
        address=[
            "山田ビル 3F",  # a line that starts with a glyph of the fallback font
            "Ελένη Παπαδοπούλου c/o",
            "Дмитрий Иванов, ул. Ленина 1",
            "שרה עברית",
            "Japan",
        ],
        email="zoe@example.org",
    )


__all__ = [
    "GUEST",
    "NAMES",
    "SAMPLE_INVOICE",
    "InvoiceStatus",
    "invoice_of",
    "line",
    "long_invoice",
    "unicode_customer",
]

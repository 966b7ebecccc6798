"""Every document drawn to PNG with poppler's pdftoppm, kept in tests/artifacts/documents/.

The pictures are for a person to look at after a run; the assertions check what pixels can
say robustly on any machine: the page is A4, it has ink, the ink stays off the edges, and the
status mark shows in its colour.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import attrs
import pytest
from PIL import Image
from tests.documents._docs import invoice_of, line, long_invoice, unicode_customer
from tests.documents._pdf import pages_text, render_pngs

from payment_adapters.documents import (
    InvoiceStatus,
    ReceiptStatus,
    render_credit_note,
    render_invoice,
    render_receipt,
)
from payment_adapters.documents.samples import SAMPLE_CREDIT_NOTE, SAMPLE_RECEIPT

DPI = 72
A4 = (round(210 / 25.4 * DPI), round(297 / 25.4 * DPI))

MARK_COLOURS = {
    "DRAFT": (108, 117, 125),
    "PAID": (25, 135, 84),
    "VOID": (200, 35, 51),
    "UNCOLLECTIBLE": (204, 120, 0),
}


def _invoice(status: InvoiceStatus) -> Callable[[], bytes]:
    number = None if status is InvoiceStatus.DRAFT else "INV-2026-000123"
    return lambda: render_invoice(
        invoice_of(
            [line("Room, two nights", 2, 12_000, 1000), line("山田様 breakfast", 2, 1_800, 1000)],
            customer=unicode_customer(),
            status=status,
            number=number,
        )
    )


DOCUMENTS: dict[str, Callable[[], bytes]] = {
    **{f"invoice-{s.value.lower()}": _invoice(s) for s in InvoiceStatus},
    "invoice-200-lines": lambda: render_invoice(long_invoice(200, currency="KWD")),
    "credit-note": lambda: render_credit_note(SAMPLE_CREDIT_NOTE),
    "receipt": lambda: render_receipt(SAMPLE_RECEIPT),
}


def _near(pixel: tuple[int, ...], colour: tuple[int, int, int], tolerance: int = 24) -> bool:
    return all(abs(a - b) <= tolerance for a, b in zip(pixel[:3], colour, strict=True))


def _count(png: Path, colour: tuple[int, int, int]) -> int:
    with Image.open(png) as image:
        rgb = image.convert("RGB")
        colours = rgb.getcolors(maxcolors=rgb.width * rgb.height) or []
        return sum(count for count, pixel in colours if _near(pixel, colour))


@pytest.mark.parametrize("name", sorted(DOCUMENTS))
def test_every_page_is_drawn_as_an_a4_png_with_ink_inside_the_margins(name: str) -> None:
    pdf = DOCUMENTS[name]()

    pngs = render_pngs(pdf, name, dpi=DPI)

    assert len(pngs) == len(pages_text(pdf))
    for png in pngs:
        with Image.open(png) as image:
            # pdftoppm rounds the page's 595.28 x 841.89 points up or down.
            assert abs(image.width - A4[0]) <= 1
            assert abs(image.height - A4[1]) <= 1
            grey = image.convert("L")
            ink = grey.point(lambda v: 255 if v < 200 else 0).getbbox()
        assert ink is not None, f"{png.name} is blank"
        left, top, right, bottom = ink
        edge = round(10 / 25.4 * DPI)  # nothing within 1 cm of the paper's edge
        assert (left, top) >= (edge, edge)
        assert (right, bottom) <= (A4[0] - edge, A4[1] - edge)


@pytest.mark.parametrize("status", [s for s in InvoiceStatus if s is not InvoiceStatus.OPEN])
def test_the_mark_shows_in_its_colour(status: InvoiceStatus) -> None:
    (png,) = render_pngs(_invoice(status)(), f"mark-{status.value.lower()}", dpi=DPI)

    # The stamp's border and letters are drawn in the mark's colour at full strength.
    assert _count(png, MARK_COLOURS[status.value]) > 40


def test_an_open_invoice_carries_no_mark_colour() -> None:
    (png,) = render_pngs(_invoice(InvoiceStatus.OPEN)(), "mark-open", dpi=DPI)

    for colour in MARK_COLOURS.values():
        if colour != MARK_COLOURS["DRAFT"]:  # the grey of a draft is also the labels' grey
            assert _count(png, colour) == 0


@pytest.mark.parametrize("status", list(ReceiptStatus))
def test_a_receipt_is_marked_with_what_became_of_the_payment(status: ReceiptStatus) -> None:
    receipt = attrs.evolve(SAMPLE_RECEIPT, status=status)
    pdf = render_receipt(receipt)

    render_pngs(pdf, f"receipt-{status.value.lower()}", dpi=DPI)

    assert status.value.replace("_", " ") in pages_text(pdf)[0]

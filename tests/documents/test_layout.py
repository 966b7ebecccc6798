"""Long invoices break into pages the way a printed one does; nothing overlaps or strays."""

from __future__ import annotations

import re

import pytest
from tests.documents._docs import invoice_of, line, long_invoice, unicode_customer
from tests.documents._pdf import Word, pages_text, words

from payment_adapters.documents import (
    InvoiceStatus,
    Party,
    render_credit_note,
    render_invoice,
    render_receipt,
)
from payment_adapters.documents.samples import SAMPLE_CREDIT_NOTE, SAMPLE_INVOICE, SAMPLE_RECEIPT

MM = 72 / 25.4
HEADINGS = "Description Qty Unit price Tax Amount"
TOTALS = ("Subtotal", "Total", "Amount paid", "Amount due")


@pytest.fixture(scope="module")
def two_hundred_lines() -> bytes:
    return render_invoice(long_invoice(200, status=InvoiceStatus.DRAFT, number=None))


def test_a_200_line_invoice_repeats_the_table_header_and_numbers_its_pages(
    two_hundred_lines: bytes,
) -> None:
    pages = pages_text(two_hundred_lines)

    assert len(pages) >= 5
    for number, text in enumerate(pages, start=1):
        assert f"Page {number} of {len(pages)}" in text
        if number < len(pages):  # the last page may hold the totals alone
            assert HEADINGS in text
        if number > 1:
            assert "Invoice draft (continued)" in text


def test_a_200_line_invoice_has_every_line_once_and_in_order(two_hundred_lines: bytes) -> None:
    text = "\n".join(pages_text(two_hundred_lines))

    numbers = [int(n) for n in re.findall(r"^Line (\d{3}):", text, flags=re.MULTILINE)]

    assert numbers == list(range(1, 201))


def test_the_totals_are_printed_once_whole_on_the_last_page(two_hundred_lines: bytes) -> None:
    pages = pages_text(two_hundred_lines)

    for label in ("Subtotal", "Amount paid"):
        assert [label in text for text in pages] == [False] * (len(pages) - 1) + [True]
    assert all(not re.search(r"^Total ", text, re.MULTILINE) for text in pages[:-1])
    assert re.search(r"^Total JPY|^Total EUR", pages[-1], re.MULTILINE)


@pytest.mark.parametrize("count", range(14, 32))
def test_a_totals_block_that_does_not_fit_moves_whole_to_a_new_page(count: int) -> None:
    # Between these line counts the table ends ever lower on page one, then on page two.
    found = words(render_invoice(long_invoice(count, notes="Pay by bank transfer.")))

    last_page = max(w.page for w in found)
    labels = [w for w in found if w.text in {"Subtotal", "Total", "paid", "due", "NOTES"}]
    assert {w.page for w in labels} == {last_page}
    assert len(labels) == 5


def _outside(found: list[Word]) -> list[Word]:
    left, right = 18 * MM - 0.5, (210 - 18) * MM + 0.5
    return [w for w in found if w.height < 40 and (w.x0 < left or w.x1 > right)]


def _overlapping(found: list[Word]) -> list[tuple[Word, Word]]:
    text = [w for w in found if w.height < 40]  # the watermark lies over the page on purpose
    return [
        (a, b)
        for i, a in enumerate(text)
        for b in text[i + 1 :]
        if a.page == b.page and a.overlaps(b)
    ]


@pytest.mark.parametrize(
    "pdf",
    [
        pytest.param(lambda: render_invoice(SAMPLE_INVOICE), id="invoice"),
        pytest.param(
            lambda: render_invoice(long_invoice(60, customer=unicode_customer())), id="long"
        ),
        pytest.param(lambda: render_credit_note(SAMPLE_CREDIT_NOTE), id="credit-note"),
        pytest.param(lambda: render_receipt(SAMPLE_RECEIPT), id="receipt"),
    ],
)
def test_no_text_overlaps_other_text_or_leaves_the_margins(pdf: object) -> None:
    found = words(pdf())  # type: ignore[operator]

    assert _outside(found) == []
    assert _overlapping(found) == []


def test_amounts_are_aligned_on_the_right() -> None:
    found = words(render_invoice(SAMPLE_INVOICE))

    # Every amount in the lines table and the totals ends on one vertical line.
    amounts = [w for w in found if re.fullmatch(r"\d+\.\d{2}", w.text) and w.x0 > 400]
    assert (
        len(amounts) == 5 + 8
    )  # five line totals; subtotal, three taxes, total, paid, credit, due
    assert max(w.x1 for w in amounts) - min(w.x1 for w in amounts) < 0.5


def test_a_description_too_long_for_its_cell_wraps_inside_it() -> None:
    word = "Überlangebeschreibungohneleerzeichen" * 3
    found = words(render_invoice(invoice_of([line(word, 1, 100, 0)])))

    pieces = [w for w in found if len(w.text) > 4 and w.text in word]
    assert "".join(w.text for w in pieces) == word
    assert len(pieces) > 1
    assert all(w.x1 <= (18 + 78) * MM for w in pieces)  # the description column
    assert _overlapping(found) == []


def test_long_names_are_cut_in_the_running_head_and_foot_not_overlapped() -> None:
    seller = Party(
        name="Grand Hotel & Residences of the Old Town Lakeside Promenade International " * 2,
        tax_id="ATU12345678",
        email="accounts-receivable.department@grand-hotel-old-town.example",
    )
    doc = long_invoice(40, seller=seller, number="INV-2026-000042-REISSUED-2")

    found = words(render_invoice(doc))

    assert max(w.page for w in found) > 1
    assert _outside(found) == []
    assert _overlapping(found) == []
    assert any(w.text.endswith("…") for w in found)  # the seller name in the foot
    assert "INV-2026-000042-REISSUED-2" in {w.text for w in found}

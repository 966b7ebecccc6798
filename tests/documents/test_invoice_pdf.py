"""The invoice PDF says what the invoice says, as real text, in any script."""

from __future__ import annotations

import io
import logging
from datetime import date

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from pypdf import PdfReader
from tests.documents._docs import NAMES, SAMPLE_INVOICE, invoice_of, line, unicode_customer
from tests.documents._pdf import all_text, pages_text, words

from payment_adapters.documents import (
    CreditNoteLine,
    InvoiceDocument,
    InvoiceLine,
    InvoiceStatus,
    Party,
    render_invoice,
)
from payment_adapters.documents._text import money

MARK_WORDS = {"DRAFT", "PAID", "VOID", "UNCOLLECTIBLE"}


def test_the_invoice_prints_every_fact_of_the_document() -> None:
    doc = SAMPLE_INVOICE
    text = all_text(render_invoice(doc))

    for party in (doc.seller, doc.customer):
        assert party.name in text
        for address_line in party.address:
            assert address_line in text
        assert f"Tax ID: {party.tax_id}" in text
        assert str(party.email) in text
    assert "INV-2026-000042" in text
    assert "Issue date 2026-11-28" in text
    assert "Due date 2026-12-28" in text
    assert "Deluxe double room, lake view (25-28 Nov 2026) 3 EUR 189.00 10% EUR 567.00" in text
    assert "Local tourist tax, per person per night 6 EUR 2.35 0% EUR 14.10" in text
    assert "Airport transfer (Flughafen Zürich → hotel) 1 EUR 95.00 10% EUR 95.00" in text
    assert "Subtotal EUR 893.10" in text
    # Tax by rate: the rate, its taxable base, the tax on it.
    assert "Tax 20% on EUR 70.00 EUR 14.00" in text
    assert "Tax 10% on EUR 809.00 EUR 80.90" in text
    assert "Tax 0% on EUR 14.10 EUR 0.00" in text
    assert "Total EUR 988.00" in text
    assert "Amount paid EUR 988.00" in text
    assert "Credit note CN-2026-000007 (2026-11-30) EUR 25.00" in text
    assert "Amount due EUR 0.00" in text
    assert "Thank you for staying with us." in text


def test_a_wrapped_description_reads_back_whole() -> None:
    text = all_text(render_invoice(SAMPLE_INVOICE))

    assert "Spa access: thermal baths and sauna, including" in text
    assert "towels and robe" in text


@pytest.mark.parametrize(
    ("currency", "unit", "printed"),
    [("EUR", 20358, "EUR 203.58"), ("JPY", 5000, "JPY 5000"), ("KWD", 1234, "KWD 1.234")],
)
def test_amounts_are_printed_with_the_currency_minor_units(
    currency: str, unit: int, printed: str
) -> None:
    doc = invoice_of([line("Room", 1, unit, 0)], currency=currency)

    text = all_text(render_invoice(doc))

    assert f"Room 1 {printed} 0% {printed}" in text
    assert f"Subtotal {printed}" in text
    assert f"Total {printed}" in text


def test_every_name_prints_in_its_own_script_and_reads_back(
    caplog: pytest.LogCaptureFixture,
) -> None:
    doc = invoice_of(
        [line("Zimmer für Ελένη / 山田様のお部屋", 1, 100, 0)], customer=unicode_customer()
    )

    with caplog.at_level(logging.WARNING):
        pdf = render_invoice(doc)
    text = all_text(pdf)

    for name in NAMES:
        assert name in text
    assert "Дмитрий Иванов, ул. Ленина 1" in text
    assert "Zimmer für Ελένη / 山田様のお部屋" in text
    # The line after one that starts in the CJK font prints in its own (it came out as other
    # glyphs, fpdf2's issue 1772).
    assert "山田ビル 3F\nΕλένη Παπαδοπούλου c/o" in text  # noqa: RUF001 - Greek on purpose
    # fpdf2 warns when a glyph is in none of the fonts: every one was found.
    assert not [r for r in caplog.records if "missing" in r.getMessage()]


def test_the_fonts_are_embedded_and_subset() -> None:
    pdf = render_invoice(invoice_of([line("Room", 1, 100, 0)], customer=unicode_customer()))

    fonts = set()
    for page in PdfReader(io.BytesIO(pdf)).pages:
        for reference in page["/Resources"]["/Font"].values():
            font = reference.get_object()
            descriptor = font["/DescendantFonts"][0].get_object()["/FontDescriptor"]
            assert "/FontFile2" in descriptor  # the TrueType program is in the file
            fonts.add(str(font["/BaseFont"]))
    assert {"/MPDFAA+DejaVuSansBook", "/MPDFAA+DejaVuSansBold"} <= fonts
    assert any("DroidSansFallback" in f for f in fonts)
    # Subsetting keeps the file small though three font files went into it.
    assert len(pdf) < 120_000


def test_a_latin_only_invoice_does_not_carry_the_cjk_font() -> None:
    pdf = render_invoice(SAMPLE_INVOICE)

    assert b"DroidSansFallback" not in pdf


@pytest.mark.parametrize("status", list(InvoiceStatus))
def test_the_status_mark_is_printed_as_a_stamp_and_a_watermark(status: InvoiceStatus) -> None:
    doc = invoice_of(
        [line("Room", 1, 100, 0)], status=status, number=None if status == "DRAFT" else "INV-1"
    )

    found = words(render_invoice(doc))

    stamps = [w for w in found if w.text in MARK_WORDS]
    # poppler gives the rotated watermark letter by letter, each as tall as the type is.
    watermark = "".join(w.text for w in sorted(found, key=lambda w: w.x0) if w.height > 40)
    if status is InvoiceStatus.OPEN:
        assert (stamps, watermark) == ([], "")
    else:
        assert [w.text for w in stamps] == [status.value]
        assert watermark == status.value


def test_a_draft_says_it_has_no_number_yet() -> None:
    doc = invoice_of([line("Room", 1, 100, 0)], status=InvoiceStatus.DRAFT, number=None)

    text = all_text(render_invoice(doc))

    assert "Invoice number not issued" in text
    assert "DRAFT" in text


def test_no_customer_details_is_said_plainly() -> None:
    doc = invoice_of([line("Room", 1, 100, 0)], customer=Party(), due_date=None)

    text = all_text(render_invoice(doc))

    assert "BILL TO\nNo details given" in text
    assert "Due date on receipt" in text


def test_control_and_direction_characters_in_user_text_are_not_printed() -> None:
    doc = invoice_of(
        [line("Room\u202e 99.0 EUR\x00\tnight", 1, 100, 0)],
        customer=Party(name="Zoë\u200b\x07 Åberg"),
        notes="First line\r\nSecond\x1bline",
    )

    text = all_text(render_invoice(doc))

    assert "Room 99.0 EUR night 1 EUR 1.00" in text
    assert "Zoë Åberg" in text
    assert "First line\nSecondline" in text
    assert "\u202e" not in text
    assert "\x00" not in text


def test_several_credit_notes_are_each_listed() -> None:
    notes = [
        CreditNoteLine("CN-2026-000001", date(2026, 12, 1), 1000),
        CreditNoteLine("CN-2026-000002", date(2026, 12, 2), 550),
    ]
    doc = invoice_of([line("Room", 1, 10_000, 1000)], amount_paid=11_000, credit_notes=notes)

    text = all_text(render_invoice(doc))

    assert "Credit note CN-2026-000001 (2026-12-01) EUR 10.00" in text
    assert "Credit note CN-2026-000002 (2026-12-02) EUR 5.50" in text


_lines = st.lists(
    st.builds(
        line,
        st.text(
            st.characters(categories=("L", "N", "P", "Zs"), max_codepoint=0x052F),
            min_size=1,
            max_size=40,
        ).filter(str.strip),
        st.integers(1, 99),
        st.integers(0, 10_000_000),
        st.sampled_from([0, 250, 550, 1000, 2000, 2100]),
    ),
    min_size=1,
    max_size=12,
)


@settings(max_examples=12, deadline=None)  # each example renders a PDF
@given(lines=_lines, currency=st.sampled_from(["EUR", "JPY", "KWD", "CLF"]))
def test_any_invoice_prints_each_line_total_and_the_totals(
    lines: list[InvoiceLine], currency: str
) -> None:
    doc: InvoiceDocument = invoice_of(lines, currency=currency)

    pages = pages_text(render_invoice(doc))
    text = "\n".join(pages)

    for item in doc.lines:
        assert money(item.line_total, currency) in text
    assert f"Total {money(doc.total, currency)}" in pages[-1]
    assert f"Amount due {money(doc.amount_due, currency)}" in pages[-1]

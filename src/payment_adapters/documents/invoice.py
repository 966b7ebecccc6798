"""The invoice PDF: seller and customer, the lines, tax by rate, totals, paid, credited, due."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime, time
from typing import Final

from fpdf.enums import Align, MethodReturnValue

from payment_adapters.documents import _text
from payment_adapters.documents._page import (
    FONT,
    LINE_HEIGHT,
    DocumentPdf,
    Head,
    Mark,
)
from payment_adapters.documents.model import InvoiceDocument, InvoiceStatus

__all__ = ["render_invoice"]

MARKS: Final = {
    InvoiceStatus.DRAFT: Mark("DRAFT", (108, 117, 125)),
    InvoiceStatus.PAID: Mark("PAID", (25, 135, 84)),
    InvoiceStatus.VOID: Mark("VOID", (200, 35, 51)),
    InvoiceStatus.UNCOLLECTIBLE: Mark("UNCOLLECTIBLE", (204, 120, 0)),
}
HEADINGS: Final = ("Description", "Qty", "Unit price", "Tax", "Amount")
_COLUMNS: Final = (78, 14, 31, 14, 37)  # mm, adding up to the A4 text width (174)
_ALIGNS: Final = (Align.L, Align.R, Align.R, Align.R, Align.R)
_TOTALS_WIDTH: Final = 96.0


def render_invoice(doc: InvoiceDocument) -> bytes:
    """The invoice as PDF bytes: the same document gives the same bytes."""
    reference = doc.number or "draft"
    pdf = DocumentPdf(
        Head(
            kind="Invoice",
            reference=reference,
            issuer=doc.seller,
            created=datetime.combine(doc.issue_date, time(), tzinfo=UTC),
            mark=MARKS.get(doc.status),
        ),
        _texts(doc),
    )
    pdf.add_page()
    top = pdf.get_y()
    half = pdf.epw * 0.55
    title_w = 72.0
    seller_end = pdf.party(doc.seller, pdf.l_margin, half, name_size=14)
    facts = [
        ("Invoice number", doc.number or "not issued"),
        ("Issue date", _text.day(doc.issue_date)),
        ("Due date", _text.day(doc.due_date) if doc.due_date else "on receipt"),
    ]
    pdf.set_y(top)
    title_end = pdf.title_block("Invoice", facts, pdf.l_margin + pdf.epw - title_w, title_w)
    pdf.set_y(max(seller_end, title_end) + 8)
    bill_to_end = pdf.labelled_party("Bill to", doc.customer, half)
    when = f"Due {_text.day(doc.due_date)}" if doc.due_date else "Due on receipt"
    box_end = pdf.summary_box(
        "Amount due", _text.money(doc.amount_due, doc.currency), when, title_w
    )
    pdf.set_y(max(box_end, bill_to_end) + 8)
    _lines_table(pdf, doc)
    _totals(pdf, doc)
    return pdf.finish()


def _texts(doc: InvoiceDocument) -> Iterator[str]:
    for party in (doc.seller, doc.customer):
        yield from (party.name, *party.address, party.tax_id or "", party.email or "")
    yield from (line.description for line in doc.lines)
    yield doc.notes or ""
    yield from (note.number for note in doc.credit_notes)
    yield doc.number or ""


def _lines_table(pdf: DocumentPdf, doc: InvoiceDocument) -> None:
    with pdf.data_table(HEADINGS, _COLUMNS, _ALIGNS) as table:
        for line in doc.lines:
            row = table.row()
            row.cell(_text.visual(_text.clean(line.description)) or " ")
            row.cell(str(line.quantity))
            row.cell(_text.money(line.unit_amount, doc.currency))
            row.cell(_text.rate(line.tax_rate_bps))
            row.cell(_text.money(line.line_total, doc.currency))


def _totals(pdf: DocumentPdf, doc: InvoiceDocument) -> None:
    money = doc.currency
    rows: list[tuple[str, str, bool]] = [("Subtotal", _text.money(doc.subtotal, money), False)]
    for group in doc.tax_by_rate:
        label = f"Tax {_text.rate(group.rate_bps)} on {_text.money(group.taxable, money)}"
        rows.append((label, _text.money(group.tax, money), True))
    total_at = len(rows)
    rows.append(("Total", _text.money(doc.total, money), False))
    rows.append(("Amount paid", _text.money(doc.amount_paid, money), False))
    for note in doc.credit_notes:
        label = f"Credit note {_text.clean(note.number)} ({_text.day(note.date)})"
        rows.append((label, _text.money(note.amount, money), False))
    due_at = len(rows)
    rows.append(("Amount due", _text.money(doc.amount_due, money), False))

    height = 6 + 5.6 * len(rows) + 2 * (7 - 5.6) + 2 * 1.2
    notes_height = _notes_height(pdf, doc.notes)
    # Totals (and short notes with them) stay on one page: never split, always on the last.
    if notes_height and not pdf.will_page_break(height + notes_height):
        height += notes_height
    pdf.keep_together(height)
    pdf.set_y(pdf.get_y() + 6)
    pdf.amount_rows(
        rows,
        pdf.l_margin + pdf.epw - _TOTALS_WIDTH,
        _TOTALS_WIDTH,
        strong=frozenset({total_at, due_at}),
        ruled=frozenset({total_at, due_at}),
        shaded=frozenset({due_at}),
    )
    pdf.notes("Notes", doc.notes)


def _notes_height(pdf: DocumentPdf, notes: str | None) -> float:
    lines = _text.paragraph(notes)
    if not lines:
        return 0.0
    pdf.set_font(FONT, "", 8.5)
    count = 0
    for line in lines:
        wrapped = pdf.multi_cell(
            pdf.epw, LINE_HEIGHT, line or " ", dry_run=True, output=MethodReturnValue.LINES
        )
        count += len(wrapped) if isinstance(wrapped, list) else 1
    return 9.0 + count * LINE_HEIGHT

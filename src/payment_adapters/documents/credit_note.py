"""The credit note PDF: laid out as the invoice it credits, with one credited line."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime, time

from fpdf.enums import Align

from payment_adapters.documents import _text
from payment_adapters.documents._page import DocumentPdf, Head
from payment_adapters.documents.model import CreditNoteDocument

__all__ = ["render_credit_note"]

HEADINGS = ("Description", "Net", "Tax", "Total")
_COLUMNS = (87, 29, 29, 29)
_ALIGNS = (Align.L, Align.R, Align.R, Align.R)
_TOTALS_WIDTH = 96.0


def render_credit_note(doc: CreditNoteDocument) -> bytes:
    """The credit note as PDF bytes: the same document gives the same bytes."""
    pdf = DocumentPdf(
        Head(
            kind="Credit note",
            reference=doc.number,
            issuer=doc.seller,
            created=datetime.combine(doc.date, time(), tzinfo=UTC),
        ),
        _texts(doc),
    )
    pdf.add_page()
    top = pdf.get_y()
    half = pdf.epw * 0.55
    title_w = 72.0
    seller_end = pdf.party(doc.seller, pdf.l_margin, half, name_size=14)
    facts = [
        ("Credit note", doc.number),
        ("Date", _text.day(doc.date)),
        ("Credits invoice", doc.invoice_number),
    ]
    pdf.set_y(top)
    title_end = pdf.title_block("Credit note", facts, pdf.l_margin + pdf.epw - title_w, title_w)
    pdf.set_y(max(seller_end, title_end) + 8)

    customer_end = pdf.labelled_party("Credit to", doc.customer, half)
    amount = _text.money(doc.amount, doc.currency)
    box_end = pdf.summary_box("Amount credited", amount, f"Against {doc.invoice_number}", title_w)
    pdf.set_y(max(box_end, customer_end) + 8)

    net = doc.amount - doc.tax
    with pdf.data_table(HEADINGS, _COLUMNS, _ALIGNS) as table:
        row = table.row()
        description = f"Credit against invoice {doc.invoice_number}"
        if doc.reason:
            description += f"\nReason: {reason_text(doc.reason)}"
        row.cell(_text.visual(description))
        row.cell(_text.money(net, doc.currency))
        row.cell(_text.money(doc.tax, doc.currency))
        row.cell(_text.money(doc.amount, doc.currency))

    rows = [
        ("Net amount", _text.money(net, doc.currency), False),
        ("Tax", _text.money(doc.tax, doc.currency), False),
        ("Total credited", _text.money(doc.amount, doc.currency), False),
    ]
    pdf.keep_together(6 + 5.6 * 2 + 7 + 1.2)
    pdf.set_y(pdf.get_y() + 6)
    x = pdf.l_margin + pdf.epw - _TOTALS_WIDTH
    pdf.amount_rows(
        rows, x, _TOTALS_WIDTH, strong=frozenset({2}), ruled=frozenset({2}), shaded=frozenset({2})
    )
    pdf.notes("Memo", doc.memo)
    return pdf.finish()


def reason_text(reason: str) -> str:
    """``order_change`` -> ``Order change``."""
    words = _text.clean(reason.replace("_", " "))
    return words[:1].upper() + words[1:]


def _texts(doc: CreditNoteDocument) -> Iterator[str]:
    for party in (doc.seller, doc.customer):
        yield from (party.name, *party.address, party.tax_id or "", party.email or "")
    yield from (doc.number, doc.invoice_number, doc.reason or "", doc.memo or "")

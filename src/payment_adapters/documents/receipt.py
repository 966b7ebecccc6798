"""The payment receipt PDF: the merchant, the payment, the card, the refunds; no guest details."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Final

from fpdf.enums import Align

from payment_adapters.documents import _text
from payment_adapters.documents._page import FONT, DocumentPdf, Head, Mark
from payment_adapters.documents.model import ReceiptDocument, ReceiptStatus

__all__ = ["render_receipt"]

MARKS: Final = {
    ReceiptStatus.PAID: Mark("PAID", (25, 135, 84)),
    ReceiptStatus.PARTIALLY_REFUNDED: Mark("PARTIALLY REFUNDED", (204, 120, 0)),
    ReceiptStatus.REFUNDED: Mark("REFUNDED", (200, 35, 51)),
}
_BRANDS: Final = {
    "visa": "Visa",
    "mastercard": "Mastercard",
    "amex": "American Express",
    "american_express": "American Express",
    "discover": "Discover",
    "diners": "Diners Club",
    "jcb": "JCB",
    "unionpay": "UnionPay",
}
_TOTALS_WIDTH: Final = 96.0


def render_receipt(doc: ReceiptDocument) -> bytes:
    """The receipt as PDF bytes: the same document gives the same bytes."""
    mark = MARKS[doc.status]
    pdf = DocumentPdf(
        Head(
            kind="Receipt",
            reference=doc.reference,
            issuer=doc.merchant,
            created=doc.date,
            mark=mark,
        ),
        _texts(doc),
    )
    pdf.add_page()
    top = pdf.get_y()
    half = pdf.epw * 0.55
    title_w = 72.0
    merchant_end = pdf.party(doc.merchant, pdf.l_margin, half, name_size=14)
    facts = [
        ("Reference", _text.clean(doc.reference)),
        ("Date", _text.moment(doc.date)),
    ]
    pdf.set_y(top)
    title_end = pdf.title_block("Receipt", facts, pdf.l_margin + pdf.epw - title_w, title_w)
    pdf.set_y(max(merchant_end, title_end) + 8)

    start = pdf.get_y()
    pdf.label("Paid with", pdf.l_margin, half)
    pdf.set_font(FONT, "B", 10.5)
    pdf.cell(half, 5.5, card_text(doc.card_brand, doc.card_last4))
    pdf.set_y(start)
    pdf.summary_box(
        "Amount paid", _text.money(doc.amount, doc.currency), _text.moment(doc.date), title_w
    )
    pdf.set_y(pdf.get_y() + 8)

    if doc.refunds:
        _refunds_table(pdf, doc)
    rows = [("Amount paid", _text.money(doc.amount, doc.currency), False)]
    if doc.refunds:
        rows.append(("Refunded", _text.money(doc.amount_refunded, doc.currency), False))
    rows.append(("Net paid", _text.money(doc.amount - doc.amount_refunded, doc.currency), False))
    last = len(rows) - 1
    pdf.keep_together(6 + 5.6 * last + 7 + 1.2)
    pdf.set_y(pdf.get_y() + 6)
    x = pdf.l_margin + pdf.epw - _TOTALS_WIDTH
    pdf.amount_rows(
        rows,
        x,
        _TOTALS_WIDTH,
        strong=frozenset({last}),
        ruled=frozenset({last}),
        shaded=frozenset({last}),
    )
    return pdf.finish()


def card_text(brand: str | None, last4: str | None) -> str:
    """``Visa ending in 4242``; what is known of it when less is."""
    key = (brand or "").lower()
    name = _BRANDS.get(key) or _text.clean(key.replace("_", " ")).title() or "Card"
    return f"{name} ending in {last4}" if last4 else name


def _texts(doc: ReceiptDocument) -> Iterator[str]:
    yield from (doc.merchant.name, *doc.merchant.address, doc.merchant.tax_id or "")
    yield from (doc.merchant.email or "", doc.reference, doc.card_brand or "")


def _refunds_table(pdf: DocumentPdf, doc: ReceiptDocument) -> None:
    pdf.label("Refunds", pdf.l_margin, pdf.epw)
    pdf.set_y(pdf.get_y() + 1)
    with pdf.data_table(("Refunded on", "Amount"), (124, 50), (Align.L, Align.R)) as table:
        for refund in doc.refunds:
            row = table.row()
            row.cell(_text.moment(refund.date))
            row.cell(_text.money(refund.amount, doc.currency))

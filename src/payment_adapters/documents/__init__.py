"""Printed documents: invoice, credit note and receipt PDFs (fpdf2, fonts shipped here).

Build an :class:`InvoiceDocument`, :class:`CreditNoteDocument` or :class:`ReceiptDocument` and
pass it to its ``render_*`` function; the same document always gives the same bytes.
See docs/documents.md.
"""

from __future__ import annotations

from payment_adapters.documents.credit_note import render_credit_note
from payment_adapters.documents.invoice import render_invoice
from payment_adapters.documents.model import (
    CreditNoteDocument,
    CreditNoteLine,
    InvoiceDocument,
    InvoiceLine,
    InvoiceStatus,
    Party,
    ReceiptDocument,
    ReceiptRefund,
    ReceiptStatus,
    TaxGroup,
    seller_from_settings,
)
from payment_adapters.documents.receipt import render_receipt

__all__ = [
    "CreditNoteDocument",
    "CreditNoteLine",
    "InvoiceDocument",
    "InvoiceLine",
    "InvoiceStatus",
    "Party",
    "ReceiptDocument",
    "ReceiptRefund",
    "ReceiptStatus",
    "TaxGroup",
    "render_credit_note",
    "render_invoice",
    "render_receipt",
    "seller_from_settings",
]

"""The layout is pinned: every run of text, where it starts and its size, as a golden file.

Positions come from the PDF's own text operators, which fpdf2 computes from the metrics of the
fonts shipped in the package: the same on every machine, unlike a rasterised page, whose pixels
depend on poppler's and FreeType's versions. The pages are still drawn to PNG (see
test_pages_png.py) for a person to look at.

After an intended change of layout, rewrite the golden files and review their diff:

    UPDATE_GOLDEN=1 .venv/bin/pytest tests/documents/test_golden.py
"""

from __future__ import annotations

import os
from collections.abc import Callable
from pathlib import Path

import pytest
from tests.documents._docs import long_invoice, unicode_customer
from tests.documents._pdf import positioned_text

from payment_adapters.documents import (
    InvoiceStatus,
    render_credit_note,
    render_invoice,
    render_receipt,
)
from payment_adapters.documents.samples import SAMPLE_CREDIT_NOTE, SAMPLE_INVOICE, SAMPLE_RECEIPT

GOLDEN = Path(__file__).parent / "golden"
DOCS_SAMPLES = Path(__file__).resolve().parents[2] / "docs" / "samples"

DOCUMENTS: dict[str, Callable[[], bytes]] = {
    "invoice": lambda: render_invoice(SAMPLE_INVOICE),
    "credit-note": lambda: render_credit_note(SAMPLE_CREDIT_NOTE),
    "receipt": lambda: render_receipt(SAMPLE_RECEIPT),
    "invoice-60-lines": lambda: render_invoice(
        long_invoice(60, customer=unicode_customer(), status=InvoiceStatus.VOID)
    ),
}


@pytest.mark.parametrize("name", sorted(DOCUMENTS))
def test_the_layout_matches_the_golden_file(name: str) -> None:
    golden = GOLDEN / f"{name}.txt"
    layout = "\n".join(positioned_text(DOCUMENTS[name]())) + "\n"

    if os.environ.get("UPDATE_GOLDEN"):
        golden.write_text(layout, encoding="utf-8")
    assert golden.exists(), f"no golden file: run with UPDATE_GOLDEN=1 to make {golden.name}"
    assert layout == golden.read_text(encoding="utf-8")


@pytest.mark.parametrize("name", ["invoice", "credit-note", "receipt"])
def test_the_sample_pdfs_in_the_docs_are_what_the_samples_command_makes(name: str) -> None:
    # Compared as positioned text: the bytes also depend on the zlib and fontTools versions.
    sample = DOCS_SAMPLES / f"{name}.pdf"

    assert positioned_text(sample.read_bytes()) == positioned_text(DOCUMENTS[name]()), (
        "run: .venv/bin/python -m payment_adapters.documents.samples docs/samples"
    )

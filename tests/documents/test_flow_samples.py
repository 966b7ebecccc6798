"""The samples made from a real flow (payment, invoice, refund) are in the docs, up to date."""

from __future__ import annotations

import asyncio
from pathlib import Path

import pytest
from tests.documents._pdf import all_text, positioned_text

from payment_adapters.documents.samples import documents_from_flow

DOCS_SAMPLES = Path(__file__).resolve().parents[2] / "docs" / "samples"


@pytest.fixture(scope="module")
def made() -> dict[str, bytes]:
    return asyncio.run(documents_from_flow())


@pytest.mark.parametrize(
    "name", ["invoice-from-flow.pdf", "credit-note-from-flow.pdf", "receipt-from-flow.pdf"]
)
def test_the_flow_samples_in_the_docs_are_what_the_command_makes(made, name: str) -> None:
    sample = DOCS_SAMPLES / name
    assert positioned_text(sample.read_bytes()) == positioned_text(made[name]), (
        "run: .venv/bin/python -m payment_adapters.documents.samples docs/samples"
    )


def test_the_refund_issued_the_credit_note_the_invoice_lists(made) -> None:
    note = all_text(made["credit-note-from-flow.pdf"])
    invoice = all_text(made["invoice-from-flow.pdf"])
    receipt = all_text(made["receipt-from-flow.pdf"])
    for fact in ("CN-2026-000001", "INV-2026-000001", "2026-11-30", "EUR 25.00", "EUR 2.40"):
        assert fact in note, fact
    assert "Reason: Requested by customer" in note
    assert "Credit note CN-2026-000001 (2026-11-30) EUR 25.00" in invoice
    assert "PAID" in invoice
    assert "EUR 25.00" in receipt
    assert "PARTIALLY REFUNDED" in receipt
    assert "Zoë" not in receipt

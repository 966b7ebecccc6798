"""The same document gives the same bytes: no clock, no random id, no machine-dependent input."""

from __future__ import annotations

import hashlib
import io
import os
import subprocess
import sys
from datetime import UTC, date, datetime

import attrs
import pytest
from pypdf import PdfReader
from tests.documents._docs import invoice_of, line, unicode_customer

from payment_adapters.documents import (
    InvoiceDocument,
    render_credit_note,
    render_invoice,
    render_receipt,
)
from payment_adapters.documents.samples import SAMPLE_CREDIT_NOTE, SAMPLE_INVOICE, SAMPLE_RECEIPT

RENDERERS = [
    pytest.param(lambda: render_invoice(SAMPLE_INVOICE), id="invoice"),
    pytest.param(
        lambda: render_invoice(
            invoice_of([line("Room", 2, 5000, 1000)], customer=unicode_customer())
        ),
        id="invoice-cjk",
    ),
    pytest.param(lambda: render_credit_note(SAMPLE_CREDIT_NOTE), id="credit-note"),
    pytest.param(lambda: render_receipt(SAMPLE_RECEIPT), id="receipt"),
]

_IN_ANOTHER_PROCESS = """
import hashlib, sys
from payment_adapters.documents import render_credit_note, render_invoice, render_receipt
from payment_adapters.documents.samples import SAMPLE_CREDIT_NOTE, SAMPLE_INVOICE, SAMPLE_RECEIPT
for pdf in (render_invoice(SAMPLE_INVOICE), render_credit_note(SAMPLE_CREDIT_NOTE),
            render_receipt(SAMPLE_RECEIPT)):
    print(hashlib.sha256(pdf).hexdigest())
"""


@pytest.mark.parametrize("render", RENDERERS)
def test_the_same_document_gives_the_same_bytes(render: object) -> None:
    assert render() == render()  # type: ignore[operator]


def test_another_process_hash_seed_and_time_zone_give_the_same_bytes() -> None:
    here = [
        hashlib.sha256(pdf).hexdigest()
        for pdf in (
            render_invoice(SAMPLE_INVOICE),
            render_credit_note(SAMPLE_CREDIT_NOTE),
            render_receipt(SAMPLE_RECEIPT),
        )
    ]
    env = {**os.environ, "PYTHONHASHSEED": "12345", "TZ": "Pacific/Kiritimati"}

    done = subprocess.run(
        [sys.executable, "-c", _IN_ANOTHER_PROCESS],
        env=env,
        capture_output=True,
        text=True,
        check=True,
    )

    assert done.stdout.split() == here


def test_one_minor_unit_more_gives_other_bytes_and_another_file_id() -> None:
    first = invoice_of([line("Room", 1, 10_000, 1000)])
    second = invoice_of([line("Room", 1, 10_001, 1000)])

    a, b = render_invoice(first), render_invoice(second)

    assert a != b
    assert _file_id(a) != _file_id(b)


def test_the_file_id_is_a_hash_of_the_content_and_the_same_for_the_same_document() -> None:
    pdf = render_invoice(SAMPLE_INVOICE)

    first, second = _file_id(pdf)

    assert first == second  # one version of the file: both entries are the same
    assert len(first) == 16
    assert _file_id(render_invoice(attrs.evolve(SAMPLE_INVOICE))) == (first, second)


def test_the_creation_date_is_the_document_date_never_the_clock() -> None:
    doc: InvoiceDocument = attrs.evolve(SAMPLE_INVOICE, issue_date=date(2001, 2, 3))

    pdf = render_invoice(doc)
    info = PdfReader(io.BytesIO(pdf)).metadata

    assert info is not None
    assert info.creation_date == datetime(2001, 2, 3, tzinfo=UTC)
    assert info.modification_date is None
    today = datetime.now(UTC)
    for stamp in {today.strftime("%Y%m%d"), today.strftime("%Y-%m-%d")}:
        assert stamp.encode() not in pdf


def test_a_receipt_is_dated_when_the_payment_was_made() -> None:
    info = PdfReader(io.BytesIO(render_receipt(SAMPLE_RECEIPT))).metadata

    assert info is not None
    assert info.creation_date == SAMPLE_RECEIPT.date


def _file_id(pdf: bytes) -> tuple[bytes, bytes]:
    first, second = PdfReader(io.BytesIO(pdf)).trailer["/ID"]
    return bytes(first.original_bytes), bytes(second.original_bytes)

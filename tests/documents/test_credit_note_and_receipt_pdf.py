"""The credit note and the receipt PDFs say what their documents say, and the receipt no more."""

from __future__ import annotations

import re
from datetime import UTC, datetime

import attrs
from tests.documents._docs import NAMES, unicode_customer
from tests.documents._pdf import all_text, words

from payment_adapters.documents import (
    Party,
    ReceiptRefund,
    ReceiptStatus,
    render_credit_note,
    render_receipt,
)
from payment_adapters.documents.samples import SAMPLE_CREDIT_NOTE, SAMPLE_RECEIPT


def test_the_credit_note_prints_every_fact_of_the_document() -> None:
    doc = SAMPLE_CREDIT_NOTE
    text = all_text(render_credit_note(doc))

    assert "CREDIT NOTE" in text
    for party in (doc.seller, doc.customer):
        assert party.name in text
        for address_line in party.address:
            assert address_line in text
    assert "Credit note CN-2026-000007" in text
    assert "Date 2026-11-30" in text
    assert "Credits invoice INV-2026-000042" in text
    # amount includes tax: net + tax = total credited
    assert (
        "Credit against invoice INV-2026-000042\nReason: Order change\nEUR 22.60 EUR 2.40 EUR 25.00"
    ) in text
    assert "Net amount EUR 22.60" in text
    assert "Tax EUR 2.40" in text
    assert "Total credited EUR 25.00" in text
    assert "MEMO\nSpa access not used on the second day." in text


def test_a_credit_note_prints_any_name() -> None:
    doc = attrs.evolve(SAMPLE_CREDIT_NOTE, customer=unicode_customer(), currency="JPY")

    text = all_text(render_credit_note(doc))

    for name in NAMES:
        assert name in text
    assert "Total credited JPY 2500" in text


def test_a_credit_note_without_reason_or_memo_leaves_them_out() -> None:
    doc = attrs.evolve(SAMPLE_CREDIT_NOTE, reason=None, memo=None)

    text = all_text(render_credit_note(doc))

    assert "Reason" not in text
    assert "MEMO" not in text


def test_the_receipt_prints_the_payment_the_card_and_the_refunds() -> None:
    text = all_text(render_receipt(SAMPLE_RECEIPT))

    assert "RECEIPT" in text
    assert "Hotel Aurora GmbH\nSeestraße 12\n6900 Bregenz\nAustria" in text
    assert "Reference PAY-7F3K9Q2M" in text
    assert "Date 2026-11-28 10:42 UTC" in text
    assert "Visa ending in 4242" in text
    assert "2026-11-30 09:05 UTC EUR 25.00" in text
    assert "Amount paid EUR 988.00" in text
    assert "Refunded EUR 25.00" in text
    assert "Net paid EUR 963.00" in text
    assert "PARTIALLY REFUNDED" in text


def test_the_receipt_shows_nothing_about_the_guest_beyond_the_card() -> None:
    """Every word printed comes from the merchant, the payment or the page furniture."""
    doc = attrs.evolve(
        SAMPLE_RECEIPT,
        merchant=Party(name="Shop", address="Main St 1"),
        refunds=[ReceiptRefund(datetime(2026, 11, 30, 9, 5, tzinfo=UTC), 500)],
        status=ReceiptStatus.PARTIALLY_REFUNDED,
    )

    printed = {w.text for w in words(render_receipt(doc)) if w.height < 40}

    merchant = {"Shop", "Main", "St", "1"}
    payment = {"PAY-7F3K9Q2M", "2026-11-28", "10:42", "UTC", "PARTIALLY", "REFUNDED"}
    card = {"Visa", "ending", "in", "4242"}
    money = {"EUR", "988.00", "2026-11-30", "09:05", "5.00", "983.00"}
    labels = {"RECEIPT", "Reference", "Date", "PAID", "WITH", "AMOUNT", "REFUNDS", "Refunded"}
    labels |= {"on", "Amount", "paid", "Net", "Page", "of"}
    allowed = merchant | payment | card | money | labels
    assert printed - allowed == set()
    assert not any(re.search(r"@|\d{12,}", word) for word in printed)


def test_a_receipt_without_refunds_has_no_refunds_table() -> None:
    doc = attrs.evolve(SAMPLE_RECEIPT, refunds=(), status=ReceiptStatus.PAID)

    text = all_text(render_receipt(doc))

    assert "REFUNDS" not in text
    assert "Refunded" not in text
    assert "Net paid EUR 988.00" in text
    assert "PAID" in text

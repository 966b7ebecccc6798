"""The documents' input types refuse what does not add up; amounts and rates are written exactly."""

from __future__ import annotations

from datetime import UTC, date, datetime
from decimal import Decimal

import attrs
import pytest
from hypothesis import given
from hypothesis import strategies as st
from tests.documents._docs import invoice_of, line

from payment_adapters.documents import (
    CreditNoteDocument,
    InvoiceLine,
    Party,
    ReceiptDocument,
    ReceiptRefund,
    ReceiptStatus,
    seller_from_settings,
)
from payment_adapters.documents._text import clean, money, rate, visual
from payment_adapters.documents.receipt import card_text
from payment_adapters.documents.samples import SAMPLE_CREDIT_NOTE, SAMPLE_INVOICE, SAMPLE_RECEIPT
from payment_adapters.settings import Settings, SettingsError
from payment_core.money import Money


@pytest.mark.parametrize(
    ("amount", "currency", "text"),
    [
        (20358, "EUR", "EUR 203.58"),
        (5, "EUR", "EUR 0.05"),
        (0, "EUR", "EUR 0.00"),
        (5000, "JPY", "JPY 5000"),
        (1234, "KWD", "KWD 1.234"),
        (99_999_999_999, "EUR", "EUR 999999999.99"),
        (12345, "CLF", "CLF 1.2345"),
    ],
)
def test_an_amount_is_written_with_its_currency_minor_units(
    amount: int, currency: str, text: str
) -> None:
    assert money(amount, currency) == text


@given(st.integers(0, 99_999_999_999), st.sampled_from(["EUR", "JPY", "KWD", "CLF", "BHD"]))
def test_a_written_amount_reads_back_as_the_same_minor_units(amount: int, currency: str) -> None:
    code, digits = money(amount, currency).split(" ")

    assert Money.parse(digits, code) == Money.of(amount, currency)


@pytest.mark.parametrize(
    ("bps", "text"),
    [(0, "0%"), (1000, "10%"), (550, "5.5%"), (2100, "21%"), (1, "0.01%"), (10000, "100%")],
)
def test_a_tax_rate_is_written_as_a_percentage(bps: int, text: str) -> None:
    assert rate(bps) == text


def test_user_text_loses_control_format_and_private_characters() -> None:
    assert clean("a\tb\nc\x00d\u202ee\u200bf\ue000g\ufdd0h  i ") == "a b cdefgh i"
    assert clean(None) == ""


def test_right_to_left_text_is_put_in_display_order() -> None:
    assert visual("Zoë") == "Zoë"
    assert visual("עברית") == "תירבע"
    assert visual("Guest 12: שרה") == "Guest 12: הרש"


@pytest.mark.parametrize(
    ("brand", "last4", "text"),
    [
        ("visa", "4242", "Visa ending in 4242"),
        ("MASTERCARD", "4444", "Mastercard ending in 4444"),
        ("amex", None, "American Express"),
        ("cartes_bancaires", "1234", "Cartes Bancaires ending in 1234"),
        (None, "1234", "Card ending in 1234"),
        (None, None, "Card"),
    ],
)
def test_the_card_is_named_by_brand_and_last_four(
    brand: str | None, last4: str | None, text: str
) -> None:
    assert card_text(brand, last4) == text


def test_a_line_total_must_be_quantity_times_unit_amount() -> None:
    with pytest.raises(ValueError, match="line_total"):
        InvoiceLine("Room", 2, 500, 1000, 999)


@pytest.mark.parametrize("amount", [Decimal("1.00"), 1.0, True, -1, "100"])
def test_an_amount_must_be_an_int_of_minor_units(amount: object) -> None:
    with pytest.raises(ValueError, match="minor units"):
        InvoiceLine("Room", 1, amount, 0, 100)  # type: ignore[arg-type]


@pytest.mark.parametrize(
    ("field", "value"),
    [("subtotal", 1), ("tax", 1), ("total", 1)],
)
def test_an_invoice_whose_totals_do_not_add_up_is_refused(field: str, value: int) -> None:
    with pytest.raises(ValueError, match=field):
        attrs.evolve(SAMPLE_INVOICE, **{field: getattr(SAMPLE_INVOICE, field) + value})


def test_tax_is_grouped_by_rate_with_tax_rounded_per_line() -> None:
    # 0.5 minor units of tax on each line: half-even per line, then summed by rate.
    doc = invoice_of([line("A", 1, 125, 1000), line("B", 1, 135, 1000), line("C", 1, 50, 0)])

    groups = [(g.rate_bps, g.taxable, g.tax) for g in doc.tax_by_rate]

    assert groups == [(1000, 260, 12 + 14), (0, 50, 0)]
    assert doc.tax == 26


def test_an_unknown_currency_is_refused() -> None:
    with pytest.raises(ValueError, match="currency"):
        attrs.evolve(SAMPLE_CREDIT_NOTE, currency="eur")


def test_a_credit_note_tax_cannot_exceed_its_amount() -> None:
    with pytest.raises(ValueError, match="tax"):
        attrs.evolve(SAMPLE_CREDIT_NOTE, tax=SAMPLE_CREDIT_NOTE.amount + 1)


def test_a_receipt_cannot_show_more_refunded_than_paid() -> None:
    refund = ReceiptRefund(datetime(2026, 12, 1, tzinfo=UTC), SAMPLE_RECEIPT.amount + 1)

    with pytest.raises(ValueError, match="refunds"):
        attrs.evolve(SAMPLE_RECEIPT, refunds=[refund])


@pytest.mark.parametrize("last4", ["424", "42a2", "\uff14\uff12\uff14\uff12"])
def test_a_receipt_card_shows_four_digits_at_most(last4: str) -> None:
    with pytest.raises(ValueError, match="last4"):
        attrs.evolve(SAMPLE_RECEIPT, card_last4=last4)


def test_a_receipt_date_must_know_its_time_zone() -> None:
    with pytest.raises(ValueError, match="timezone"):
        ReceiptDocument(
            merchant=Party(name="Shop"),
            reference="PAY-1",
            amount=100,
            currency="EUR",
            date=datetime(2026, 1, 1),
            status=ReceiptStatus.PAID,
        )


def test_a_document_date_is_a_date_not_a_datetime() -> None:
    with pytest.raises(ValueError, match="date"):
        CreditNoteDocument(
            seller=Party(),
            customer=Party(),
            number="CN-2026-000001",
            invoice_number="INV-2026-000001",
            date=datetime(2026, 1, 1, tzinfo=UTC),
            amount=100,
            tax=0,
            currency="EUR",
        )


def test_a_party_address_is_split_into_lines() -> None:
    party = Party(name="Shop", address=" Main St 1 \n\n 1000 Town \n")

    assert party.address == ("Main St 1", "1000 Town")


def test_the_seller_comes_from_the_seller_settings() -> None:
    settings = Settings.from_env(
        {
            "SELLER_NAME": "Hotel Aurora GmbH",
            "SELLER_ADDRESS": "Seestraße 12\\n6900 Bregenz\nAustria",
            "SELLER_TAX_ID": "ATU12345678",
            "SELLER_EMAIL": "billing@hotel-aurora.example",
        },
        env_file=None,
    )

    assert seller_from_settings(settings) == Party(
        name="Hotel Aurora GmbH",
        address=("Seestraße 12", "6900 Bregenz", "Austria"),
        tax_id="ATU12345678",
        email="billing@hotel-aurora.example",
    )


def test_unset_seller_settings_give_an_empty_seller() -> None:
    assert seller_from_settings(Settings.from_env({}, env_file=None)) == Party()


@pytest.mark.parametrize(
    ("variable", "value"),
    [
        ("SELLER_EMAIL", "billing at example"),
        ("SELLER_EMAIL", "billing@localhost"),
        ("SELLER_ADDRESS", "Main St\x00 1"),
        ("SELLER_NAME", "Shop\x07"),
    ],
)
def test_a_bad_seller_setting_is_refused_by_name(variable: str, value: str) -> None:
    with pytest.raises(SettingsError) as caught:
        Settings.from_env({variable: value}, env_file=None)

    assert caught.value.variable == variable


def test_the_samples_are_consistent_documents() -> None:
    assert SAMPLE_INVOICE.total == SAMPLE_INVOICE.amount_paid
    assert SAMPLE_CREDIT_NOTE.invoice_number == SAMPLE_INVOICE.number
    assert SAMPLE_RECEIPT.amount == SAMPLE_INVOICE.total
    assert SAMPLE_INVOICE.issue_date == date(2026, 11, 28)

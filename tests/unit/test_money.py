"""Tests of payment_core.money: currencies, exact minor-unit amounts, parsing, allocation, tax."""

from __future__ import annotations

import ast
import enum
import inspect
import operator
import string
import sys
from decimal import ROUND_HALF_EVEN, Decimal, localcontext
from fractions import Fraction
from typing import Any

import pytest
from hypothesis import assume, given
from hypothesis import strategies as st

import payment_core.money as money_module
from payment_core.errors import (
    CurrencyMismatchError,
    InvalidAmountError,
    UnknownCurrencyError,
    ValidationError,
)
from payment_core.money import (
    MAX_AMOUNT,
    MAX_TAX_RATE_BPS,
    Currency,
    Money,
    check_amount_in_range,
    is_known_currency,
    round_half_even,
    tax_for,
)
from payment_core.money_table import ISO_4217

EUR = Currency.of("EUR")
USD = Currency.of("USD")
JPY = Currency.of("JPY")
KWD = Currency.of("KWD")
CLF = Currency.of("CLF")


def eur(amount: int) -> Money:
    return Money(amount, EUR)


class _IntEnum(enum.IntEnum):
    ONE = 1


class _MyInt(int):
    pass


# Everything that is a number of sorts but not an exact ``int``, plus text and None.
NOT_AN_INT: list[Any] = [
    True,
    False,
    1.0,
    12.34,
    float("nan"),
    float("inf"),
    Decimal("1"),
    Decimal("12.34"),
    Fraction(1, 2),
    1 + 0j,
    "1234",
    b"1234",
    None,
    _IntEnum.ONE,
    _MyInt(5),
]

non_ints = st.one_of(
    st.floats(allow_nan=True, allow_infinity=True),
    st.booleans(),
    st.decimals(allow_nan=True, allow_infinity=True),
    st.fractions(),
    st.text(),
    st.binary(),
    st.none(),
    st.complex_numbers(),
)
amounts = st.integers(min_value=-MAX_AMOUNT, max_value=MAX_AMOUNT)
currencies = st.sampled_from(Currency.all())


# ---------------------------------------------------------------------- the ISO 4217 table
def test_iso_table_has_more_than_150_currencies() -> None:
    assert len(ISO_4217) > 150


@pytest.mark.parametrize(
    ("code", "exponent"),
    [
        ("EUR", 2),
        ("USD", 2),
        ("GBP", 2),
        ("JPY", 0),
        ("KRW", 0),
        ("VND", 0),
        ("CLP", 0),
        ("ISK", 0),
        ("XOF", 0),
        ("XAF", 0),
        ("XPF", 0),
        ("UGX", 0),
        ("PYG", 0),
        ("RWF", 0),
        ("KMF", 0),
        ("GNF", 0),
        ("DJF", 0),
        ("VUV", 0),
        ("BIF", 0),
        ("UYI", 0),
        ("BHD", 3),
        ("IQD", 3),
        ("JOD", 3),
        ("KWD", 3),
        ("LYD", 3),
        ("OMR", 3),
        ("TND", 3),
        ("CLF", 4),
        ("UYW", 4),
    ],
)
def test_iso_table_has_the_official_minor_unit_exponent(code: str, exponent: int) -> None:
    assert ISO_4217[code][1] == exponent
    assert Currency.of(code).exponent == exponent


@pytest.mark.parametrize(
    "code",
    ["VES", "VED", "ZWG", "SLE", "STN", "MRU", "XCG", "XAD", "BOV", "CHE", "CHW", "COU", "MXV"],
)
def test_iso_table_includes_recent_and_fund_codes_with_a_minor_unit(code: str) -> None:
    assert code in ISO_4217


@pytest.mark.parametrize(
    "code",
    ["XAU", "XAG", "XPT", "XPD", "XDR", "XXX", "XTS", "XBA", "XBB", "XBC", "XBD", "XSU", "XUA"],
)
def test_iso_table_excludes_codes_whose_minor_unit_is_not_applicable(code: str) -> None:
    assert code not in ISO_4217
    assert not is_known_currency(code)


@pytest.mark.parametrize("code", ["ANG", "BGN", "CUC", "HRK", "SLL", "ZWL", "VEF", "STD", "MRO"])
def test_iso_table_excludes_withdrawn_codes(code: str) -> None:
    assert code not in ISO_4217


def test_iso_table_entries_are_well_formed_and_numeric_codes_are_unique() -> None:
    numerics = [numeric for numeric, _, _ in ISO_4217.values()]
    assert len(set(numerics)) == len(numerics)
    for code, (numeric, exponent, name) in ISO_4217.items():
        assert len(code) == 3
        assert set(code) <= set(string.ascii_uppercase)
        assert 1 <= numeric <= 999
        assert exponent in {0, 2, 3, 4}
        assert name
        assert name == name.strip()


def test_iso_table_records_numeric_codes_and_names() -> None:
    assert ISO_4217["EUR"] == (978, 2, "Euro")
    assert ISO_4217["USD"] == (840, 2, "US Dollar")
    assert ISO_4217["ALL"] == (8, 2, "Lek")


def test_iso_table_is_read_only() -> None:
    table: Any = ISO_4217
    with pytest.raises(TypeError):
        table["EUR"] = (978, 3, "Euro")


# ---------------------------------------------------------------------- Currency
def test_currency_of_returns_the_shared_instance_with_the_table_facts() -> None:
    assert Currency.of("EUR") is EUR
    assert (EUR.code, EUR.numeric, EUR.exponent, EUR.name) == ("EUR", 978, 2, "Euro")


@pytest.mark.parametrize("code", ["eur", "Eur", " EUR", "EUR ", "E UR", "EURO", "", "XAU", "ABC"])
def test_currency_of_rejects_anything_but_an_exact_upper_case_code(code: str) -> None:
    with pytest.raises(UnknownCurrencyError) as caught:
        Currency.of(code)
    assert caught.value.currency == code


@pytest.mark.parametrize("code", [None, 978, b"EUR", ["EUR"]])
def test_currency_of_rejects_a_non_string_code(code: Any) -> None:
    with pytest.raises(ValidationError) as caught:
        Currency.of(code)
    assert caught.value.field == "currency"


def test_currency_all_lists_every_table_entry_sorted_by_code() -> None:
    everything = Currency.all()
    assert [c.code for c in everything] == sorted(ISO_4217)
    assert all(Currency.of(c.code) is c for c in everything)


@pytest.mark.parametrize(
    ("currency", "expected"), [(EUR, 100), (JPY, 1), (KWD, 1000), (CLF, 10_000)]
)
def test_minor_per_major_is_ten_to_the_exponent(currency: Currency, expected: int) -> None:
    assert currency.minor_per_major == expected


def test_currency_str_is_its_code() -> None:
    assert str(EUR) == "EUR"
    assert f"{JPY}" == "JPY"


def test_currency_constructed_directly_must_match_the_table() -> None:
    assert Currency(code="EUR", exponent=2, numeric=978, name="Euro") == EUR
    with pytest.raises(ValidationError):
        Currency(code="EUR", exponent=3, numeric=978, name="Euro")
    with pytest.raises(UnknownCurrencyError):
        Currency(code="XAU", exponent=0, numeric=959, name="Gold")


def test_is_known_currency_matches_exact_codes_only() -> None:
    assert is_known_currency("EUR")
    assert is_known_currency("CLF")
    assert not is_known_currency("eur")
    assert not is_known_currency("EUR ")
    assert not is_known_currency("XXX")
    unknown: Any = 978
    assert not is_known_currency(unknown)


# ---------------------------------------------------------------------- construction
def test_money_holds_an_int_amount_and_a_currency() -> None:
    m = Money(1234, EUR)
    assert m.amount == 1234
    assert m.currency is EUR


def test_money_may_be_zero_or_negative() -> None:
    assert Money(0, EUR).is_zero
    assert Money(-5, EUR).is_negative


@pytest.mark.parametrize("amount", NOT_AN_INT, ids=repr)
def test_money_rejects_every_amount_that_is_not_exactly_an_int(amount: Any) -> None:
    with pytest.raises(InvalidAmountError) as caught:
        Money(amount, EUR)
    assert caught.value.value is amount
    assert isinstance(caught.value, TypeError)


@given(non_ints)
def test_money_never_accepts_a_non_int_amount(amount: Any) -> None:
    with pytest.raises(InvalidAmountError):
        Money(amount, EUR)
    with pytest.raises(InvalidAmountError):
        check_amount_in_range(amount)


def test_money_rejects_a_currency_code_in_place_of_a_currency() -> None:
    code: Any = "EUR"
    with pytest.raises(ValidationError) as caught:
        Money(100, code)
    assert caught.value.field == "currency"


def test_money_of_accepts_a_code_or_a_currency() -> None:
    assert Money.of(1234, "EUR") == Money(1234, EUR)
    assert Money.of(1234, EUR) == Money(1234, EUR)


def test_money_of_rejects_an_unknown_or_lower_case_code() -> None:
    with pytest.raises(UnknownCurrencyError):
        Money.of(1, "eur")
    with pytest.raises(UnknownCurrencyError):
        Money.of(1, "XAU")


def test_money_zero_is_zero_in_the_currency() -> None:
    assert Money.zero("JPY") == Money(0, JPY)
    assert Money.zero(EUR).is_zero


def test_money_is_immutable_and_hashable() -> None:
    m = eur(1)
    target: Any = m
    with pytest.raises(AttributeError):
        target.amount = 2
    assert len({eur(1), eur(1), Money(1, USD)}) == 2


# ---------------------------------------------------------------------- predicates
@pytest.mark.parametrize(
    ("amount", "positive", "zero", "negative"),
    [(1, True, False, False), (0, False, True, False), (-1, False, False, True)],
)
def test_sign_predicates_tell_the_sign(
    amount: int, positive: bool, zero: bool, negative: bool
) -> None:
    m = eur(amount)
    assert (m.is_positive, m.is_zero, m.is_negative) == (positive, zero, negative)


# ---------------------------------------------------------------------- arithmetic
def test_add_and_subtract_within_one_currency() -> None:
    assert eur(150) + eur(250) == eur(400)
    assert eur(150) - eur(250) == eur(-100)


def test_negation_and_absolute_value() -> None:
    assert -eur(5) == eur(-5)
    assert abs(eur(-5)) == eur(5)
    assert abs(eur(5)) == eur(5)


@pytest.mark.parametrize(
    "operation",
    [
        lambda a, b: a + b,
        lambda a, b: a - b,
        lambda a, b: a < b,
        lambda a, b: a <= b,
        lambda a, b: a > b,
        lambda a, b: a >= b,
    ],
    ids=["add", "sub", "lt", "le", "gt", "ge"],
)
def test_combining_two_currencies_raises_currency_mismatch(operation: Any) -> None:
    with pytest.raises(CurrencyMismatchError) as caught:
        operation(eur(1), Money(1, USD))
    assert (caught.value.left, caught.value.right) == ("EUR", "USD")


def test_adding_a_non_money_returns_not_implemented_so_python_raises_type_error() -> None:
    five: Any = 5
    assert eur(1).__add__(five) is NotImplemented
    assert eur(1).__sub__(five) is NotImplemented
    with pytest.raises(TypeError):
        eur(1) + five
    with pytest.raises(TypeError):
        five + eur(1)
    with pytest.raises(TypeError):
        eur(1) - five


def test_multiplying_by_an_int_scales_the_amount_from_either_side() -> None:
    assert eur(125) * 3 == eur(375)
    assert 3 * eur(125) == eur(375)
    assert eur(125) * -2 == eur(-250)
    assert eur(125) * 0 == eur(0)


@pytest.mark.parametrize(
    "factor", [1.5, 2.0, True, Decimal("2"), Fraction(3, 2), _IntEnum.ONE], ids=repr
)
def test_multiplying_by_anything_but_an_int_raises(factor: Any) -> None:
    with pytest.raises(InvalidAmountError):
        eur(100) * factor
    with pytest.raises(TypeError):
        factor * eur(100)


def test_multiplying_money_by_money_or_text_is_a_type_error() -> None:
    other: Any = eur(2)
    text: Any = "3"
    with pytest.raises(TypeError):
        eur(1) * other
    with pytest.raises(TypeError):
        eur(1) * text


@given(st.floats(allow_nan=True, allow_infinity=True))
def test_a_float_factor_is_never_accepted(factor: Any) -> None:
    with pytest.raises(TypeError):
        eur(100) * factor
    with pytest.raises(TypeError):
        factor * eur(100)


@given(amounts, amounts, amounts, currencies)
def test_addition_is_associative_and_commutative(a: int, b: int, c: int, cur: Currency) -> None:
    x, y, z = Money(a, cur), Money(b, cur), Money(c, cur)
    assert (x + y) + z == x + (y + z)
    assert x + y == y + x


@given(amounts, amounts, currencies)
def test_subtraction_undoes_addition_and_negation_is_the_additive_inverse(
    a: int, b: int, cur: Currency
) -> None:
    x, y = Money(a, cur), Money(b, cur)
    assert (x + y) - y == x
    assert x + (-x) == Money.zero(cur)
    assert x - y == x + (-y)
    negated = -x
    assert -negated == x


# ---------------------------------------------------------------------- comparison
def test_ordering_within_one_currency() -> None:
    assert eur(1) < eur(2)
    assert eur(2) <= eur(2)
    assert eur(3) > eur(2)
    assert eur(2) >= eur(2)
    assert not eur(2) < eur(2)
    assert max(eur(3), eur(7), eur(5)) == eur(7)


def test_equality_needs_the_same_amount_and_currency() -> None:
    assert eur(100) == Money.of(100, "EUR")
    assert eur(100) != eur(101)
    assert eur(100) != Money(100, USD)


def test_comparing_with_another_type_returns_not_implemented() -> None:
    five: Any = 5
    assert eur(5) != five
    assert not eur(5) == five  # noqa: SIM201 - exercising __eq__, not __ne__
    assert eur(5).__lt__(five) is NotImplemented
    assert eur(5).__ge__(five) is NotImplemented
    with pytest.raises(TypeError):
        operator.lt(eur(5), five)
    with pytest.raises(TypeError):
        operator.ge(eur(5), five)
    with pytest.raises(TypeError):
        operator.gt(five, eur(5))


# ---------------------------------------------------------------------- formatting
@pytest.mark.parametrize(
    ("amount", "currency", "text"),
    [
        (1234, EUR, "12.34"),
        (1234, JPY, "1234"),
        (1234, KWD, "1.234"),
        (12345, CLF, "1.2345"),
        (-5, EUR, "-0.05"),
        (0, EUR, "0.00"),
        (0, JPY, "0"),
        (5, KWD, "0.005"),
        (-1234, JPY, "-1234"),
        (100, EUR, "1.00"),
        (MAX_AMOUNT, EUR, "999999999.99"),
    ],
)
def test_format_gives_major_units_with_exactly_exponent_decimals(
    amount: int, currency: Currency, text: str
) -> None:
    assert Money(amount, currency).format() == text
    assert Money(amount, currency).to_major_str() == text


def test_str_is_the_formatted_amount_and_the_code() -> None:
    assert str(eur(1234)) == "12.34 EUR"
    assert str(Money(-1234, JPY)) == "-1234 JPY"


# ---------------------------------------------------------------------- parsing
@pytest.mark.parametrize(
    ("text", "currency", "amount"),
    [
        ("12.34", EUR, 1234),
        ("12.3", EUR, 1230),
        ("12", EUR, 1200),
        ("-0.05", EUR, -5),
        ("0.5", EUR, 50),
        ("0", EUR, 0),
        ("0.00", EUR, 0),
        ("1234", JPY, 1234),
        ("1.234", KWD, 1234),
        ("1.2", KWD, 1200),
        ("1.2345", CLF, 12345),
        ("999999999.99", EUR, MAX_AMOUNT),
    ],
)
def test_parse_reads_major_unit_decimal_text(text: str, currency: Currency, amount: int) -> None:
    assert Money.parse(text, currency) == Money(amount, currency)
    assert Money.from_major_str(text, currency.code) == Money(amount, currency)


@pytest.mark.parametrize(
    "text",
    [
        "",
        "-",
        ".",
        "1.",
        ".5",
        "-.5",
        "+1",
        "+1.00",
        " 1",
        "1 ",
        "1\n",
        "\t1",
        "1 000",
        "1,000",
        "1,000.00",
        "1_000",
        "1e3",
        "1E3",
        "1.5e2",
        "NaN",
        "nan",
        "inf",
        "-Infinity",
        "0x10",
        "01",
        "00.50",
        "--1",
        "1.2.3",
        "1,5",
        "\u0661\u0662",  # Arabic-Indic digits
        "\uff11",  # fullwidth digit one
        "12.34 EUR",
        "EUR 12.34",
        "1" * 65,
    ],
)
def test_parse_rejects_anything_but_plain_decimal_text(text: str) -> None:
    with pytest.raises(ValidationError) as caught:
        Money.parse(text, EUR)
    assert caught.value.field == "amount"


@pytest.mark.parametrize(
    ("text", "currency"),
    [("12.345", EUR), ("1.0", JPY), ("1.2345", KWD), ("1.23456", CLF), ("0.001", USD)],
)
def test_parse_rejects_more_decimals_than_the_currency_has(text: str, currency: Currency) -> None:
    with pytest.raises(ValidationError) as caught:
        Money.parse(text, currency)
    assert currency.code in caught.value.reason
    assert f"at most {currency.exponent} decimal places" in caught.value.reason


@pytest.mark.parametrize("text", [12.34, 1234, Decimal("12.34"), None, b"12.34"], ids=repr)
def test_parse_rejects_non_text(text: Any) -> None:
    with pytest.raises(InvalidAmountError):
        Money.parse(text, EUR)


def test_parse_names_the_field_in_its_error() -> None:
    with pytest.raises(ValidationError) as caught:
        Money.parse("abc", EUR, field="deposit")
    assert caught.value.field == "deposit"


def test_parse_rejects_an_unknown_currency() -> None:
    with pytest.raises(UnknownCurrencyError):
        Money.parse("1.00", "eur")


EDGE_AMOUNTS = [0, 1, -1, 9, 10, 99, 100, 101, 999, 1000, 12345, -12345, MAX_AMOUNT, -MAX_AMOUNT]


@pytest.mark.parametrize("code", sorted(ISO_4217))
def test_parse_inverts_format_for_edge_amounts_in_every_currency(code: str) -> None:
    currency = Currency.of(code)
    for amount in EDGE_AMOUNTS:
        m = Money(amount, currency)
        assert Money.parse(m.format(), currency) == m


@given(amounts, currencies)
def test_parse_inverts_format_in_every_currency(amount: int, currency: Currency) -> None:
    m = Money(amount, currency)
    assert Money.parse(m.format(), currency) == m


@given(amounts, currencies)
def test_format_has_exactly_exponent_decimals(amount: int, currency: Currency) -> None:
    text = Money(amount, currency).format()
    if currency.exponent == 0:
        assert "." not in text
    else:
        assert len(text.split(".")[1]) == currency.exponent


# ---------------------------------------------------------------------- allocation
@pytest.mark.parametrize(
    ("amount", "ratios", "parts"),
    [
        (100, [1, 1, 1], [34, 33, 33]),
        (-100, [1, 1, 1], [-34, -33, -33]),
        (5, [1, 1], [3, 2]),
        (100, [0, 1], [0, 100]),
        (100, [1, 0, 1], [50, 0, 50]),
        (0, [1, 2, 3], [0, 0, 0]),
        (1, [1, 1, 1], [1, 0, 0]),
        (2, [1, 1, 1], [1, 1, 0]),
        (10, [70, 30], [7, 3]),
        (101, [70, 30], [71, 30]),
        (7, [3], [7]),
        (1000, [1, 2, 3, 4], [100, 200, 300, 400]),
    ],
)
def test_allocate_splits_by_ratio_with_largest_remainder(
    amount: int, ratios: list[int], parts: list[int]
) -> None:
    assert eur(amount).allocate(ratios) == tuple(eur(p) for p in parts)


def test_allocate_accepts_any_sequence_of_ints() -> None:
    assert eur(10).allocate((1, 1)) == (eur(5), eur(5))
    assert eur(10).allocate(range(1, 3)) == (eur(3), eur(7))


@pytest.mark.parametrize(
    "ratios",
    [[], [0], [0, 0], [1, -1], [-1], [1.5, 1], [True, 1], [Decimal(1)], ["1"]],
    ids=repr,
)
def test_allocate_rejects_ratios_that_are_not_non_negative_ints_with_a_positive_one(
    ratios: Any,
) -> None:
    with pytest.raises(ValidationError) as caught:
        eur(100).allocate(ratios)
    assert caught.value.field == "ratios"


ratio_lists = st.lists(st.integers(min_value=0, max_value=10_000), min_size=1, max_size=20)


@given(amounts, ratio_lists)
def test_allocated_parts_sum_to_the_whole_each_within_one_of_its_exact_share(
    amount: int, ratios: list[int]
) -> None:
    total = sum(ratios)
    assume(total > 0)
    parts = eur(amount).allocate(ratios)
    assert len(parts) == len(ratios)
    assert sum(p.amount for p in parts) == amount
    assert all(p.currency is EUR for p in parts)
    for part, ratio in zip(parts, ratios, strict=True):
        # |part - amount * ratio / total| < 1, in integers.
        assert abs(part.amount * total - amount * ratio) < total
        if ratio == 0:
            assert part.amount == 0


@given(amounts, ratio_lists)
def test_allocating_a_negative_amount_mirrors_the_positive_one(
    amount: int, ratios: list[int]
) -> None:
    assume(sum(ratios) > 0)
    assert eur(-amount).allocate(ratios) == tuple(-p for p in eur(amount).allocate(ratios))


# ---------------------------------------------------------------------- rounding and tax
@pytest.mark.parametrize(
    ("numerator", "denominator", "expected"),
    [
        (125, 10, 12),
        (135, 10, 14),
        (-125, 10, -12),
        (-135, 10, -14),
        (5, 10, 0),
        (15, 10, 2),
        (-5, 10, 0),
        (-15, 10, -2),
        (14, 10, 1),
        (16, 10, 2),
        (-14, 10, -1),
        (-16, 10, -2),
        (7, 1, 7),
        (0, 3, 0),
        (2, 3, 1),
        (-2, 3, -1),
    ],
)
def test_round_half_even_examples(numerator: int, denominator: int, expected: int) -> None:
    assert round_half_even(numerator, denominator) == expected


def _decimal_half_even(numerator: int, denominator: int) -> int:
    # Enough digits that an inexact quotient can never look like an exact half.
    with localcontext() as ctx:
        ctx.prec = 200
        quotient = Decimal(numerator) / Decimal(denominator)
        return int(quotient.quantize(Decimal(1), rounding=ROUND_HALF_EVEN))


@given(
    st.integers(min_value=-(10**30), max_value=10**30),
    st.integers(min_value=1, max_value=10**12),
)
def test_round_half_even_matches_decimal_round_half_even(numerator: int, denominator: int) -> None:
    assert round_half_even(numerator, denominator) == _decimal_half_even(numerator, denominator)


@given(st.integers(min_value=-(10**6), max_value=10**6), st.sampled_from([2, 10, 100, 10_000]))
def test_round_half_even_matches_decimal_on_exact_halves(whole: int, denominator: int) -> None:
    numerator = whole * denominator + denominator // 2
    assert round_half_even(numerator, denominator) == _decimal_half_even(numerator, denominator)


@pytest.mark.parametrize("denominator", [0, -1, -10])
def test_round_half_even_rejects_a_non_positive_denominator(denominator: int) -> None:
    with pytest.raises(ValidationError):
        round_half_even(10, denominator)


@pytest.mark.parametrize(
    ("numerator", "denominator"), [(1.5, 1), (1, 2.0), (True, 1), (Decimal(1), 1)]
)
def test_round_half_even_rejects_non_int_operands(numerator: Any, denominator: Any) -> None:
    with pytest.raises(InvalidAmountError):
        round_half_even(numerator, denominator)


@pytest.mark.parametrize(
    ("amount", "rate_bps", "tax"),
    [
        (2 * 10_000, 1000, 2000),
        (125, 1000, 12),  # 12.5 -> 12
        (135, 1000, 14),  # 13.5 -> 14
        (10_000, 0, 0),
        (10_000, 10_000, 10_000),
        (1999, 2000, 400),  # 399.8
        (1, 4999, 0),  # 0.4999
        (1, 5000, 0),  # 0.5 -> 0
        (3, 5000, 2),  # 1.5 -> 2
        (-125, 1000, -12),
        (0, 2500, 0),
    ],
)
def test_tax_for_rounds_half_to_even(amount: int, rate_bps: int, tax: int) -> None:
    assert tax_for(amount, rate_bps) == tax


@pytest.mark.parametrize(
    "rate_bps", [-1, MAX_TAX_RATE_BPS + 1, 100_000, 10.0, True, Decimal(10), "10"]
)
def test_tax_for_rejects_a_rate_outside_0_to_10000_bps(rate_bps: Any) -> None:
    with pytest.raises(ValidationError) as caught:
        tax_for(100, rate_bps)
    assert caught.value.field == "tax_rate_bps"


@pytest.mark.parametrize("amount", [100.0, True, Decimal(100), "100"], ids=repr)
def test_tax_for_rejects_a_non_int_amount(amount: Any) -> None:
    with pytest.raises(InvalidAmountError):
        tax_for(amount, 1000)


@given(
    st.integers(min_value=0, max_value=MAX_AMOUNT),
    st.integers(min_value=0, max_value=MAX_TAX_RATE_BPS),
)
def test_tax_is_between_zero_and_the_amount_and_symmetric_in_sign(amount: int, rate: int) -> None:
    tax = tax_for(amount, rate)
    assert 0 <= tax <= amount
    assert tax_for(-amount, rate) == -tax
    assert tax == _decimal_half_even(amount * rate, 10_000)


# ---------------------------------------------------------------------- range check
@pytest.mark.parametrize("amount", [1, 2, 12345, MAX_AMOUNT])
def test_check_amount_in_range_returns_a_valid_amount(amount: int) -> None:
    assert check_amount_in_range(amount) == amount


@pytest.mark.parametrize("amount", [0, -1, -MAX_AMOUNT, MAX_AMOUNT + 1, 10**30])
def test_check_amount_in_range_rejects_out_of_range_amounts_naming_the_field(amount: int) -> None:
    with pytest.raises(ValidationError) as caught:
        check_amount_in_range(amount, field="lines[0].unit_amount")
    assert caught.value.field == "lines[0].unit_amount"
    assert str(MAX_AMOUNT) in caught.value.reason


@pytest.mark.parametrize("amount", NOT_AN_INT, ids=repr)
def test_check_amount_in_range_rejects_a_non_int_with_invalid_amount(amount: Any) -> None:
    with pytest.raises(InvalidAmountError) as caught:
        check_amount_in_range(amount, field="deposit")
    assert "deposit" in caught.value.reason


# ---------------------------------------------------------------------- the module itself
def test_money_module_never_mentions_float() -> None:
    assert "float" not in inspect.getsource(money_module)


def test_money_module_imports_only_the_standard_library_attrs_and_the_core() -> None:
    tree = ast.parse(inspect.getsource(money_module))
    imported: set[str] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            imported.update(alias.name.split(".")[0] for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module:
            imported.add(node.module.split(".")[0])
    allowed = set(sys.stdlib_module_names) | {"attrs", "cattrs", "payment_core"}
    assert imported <= allowed
    assert "decimal" not in imported

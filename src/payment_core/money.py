"""Money as an exact integer of minor units in one ISO 4217 currency.

An amount is always a plain ``int`` of the currency's minor unit (cents for EUR, yen for JPY,
fils for KWD). Anything else offered as an amount (a binary fraction, a ``Decimal``, a bool, a
str) is rejected, and the conversions to and from the decimal text a person reads work on digits
and integers alone. Rounding (tax) is half to even, on integers.
"""

from __future__ import annotations

import numbers
import re
from collections.abc import Mapping, Sequence
from types import MappingProxyType
from typing import Final

import attrs

from payment_core.errors import (
    CurrencyMismatchError,
    InvalidAmountError,
    UnknownCurrencyError,
    ValidationError,
)
from payment_core.money_table import ISO_4217

__all__ = [
    "MAX_AMOUNT",
    "MAX_TAX_RATE_BPS",
    "Currency",
    "Money",
    "check_amount_in_range",
    "is_known_currency",
    "round_half_even",
    "tax_for",
]

#: The largest amount, in minor units, that the wire contract carries.
MAX_AMOUNT: Final = 99_999_999_999
#: 100 % in basis points: the largest tax rate :func:`tax_for` accepts.
MAX_TAX_RATE_BPS: Final = 10_000
_BPS_PER_UNIT: Final = 10_000
#: Longer decimal text than this is refused before any parsing (no amount needs it).
_MAX_TEXT_LENGTH: Final = 64
# ASCII digits only: ``\d`` would also accept other scripts' digits.
_DECIMAL_TEXT: Final = re.compile(r"(-?)(0|[1-9][0-9]*)(?:\.([0-9]+))?")


@attrs.frozen(slots=True)
class Currency:
    """An ISO 4217 currency that has a minor unit: EUR, JPY, KWD, CLF, ...

    Get one with :meth:`Currency.of`; constructing one directly is allowed only with the exact
    facts of the ISO table, so no two ``Currency`` objects for one code can disagree.
    """

    code: str
    exponent: int
    numeric: int = attrs.field(repr=False)
    name: str = attrs.field(repr=False)

    def __attrs_post_init__(self) -> None:
        if type(self.code) is not str or self.code not in ISO_4217:
            raise UnknownCurrencyError(currency=str(self.code))
        if ISO_4217[self.code] != (self.numeric, self.exponent, self.name):
            raise ValidationError(
                field="currency", reason=f"{self.code} does not match the ISO 4217 table"
            )

    @classmethod
    def of(cls, code: str) -> Currency:
        """The currency for an upper-case ISO 4217 alphabetic code, e.g. ``"EUR"``.

        The match is exact: ``"eur"`` or ``" EUR"`` raise :class:`UnknownCurrencyError`, as do
        codes without a minor unit (XAU, XDR, XXX, ...). Instances are shared, not rebuilt.
        """
        if type(code) is not str:
            raise ValidationError(field="currency", reason="must be an ISO 4217 code string")
        try:
            return _BY_CODE[code]
        except KeyError:
            raise UnknownCurrencyError(currency=code) from None

    @classmethod
    def all(cls) -> tuple[Currency, ...]:
        """Every known currency, sorted by code."""
        return _ALL

    @property
    def minor_per_major(self) -> int:
        """Minor units in one major unit: 100 for EUR, 1 for JPY, 1000 for KWD."""
        # ``int ** int`` is typed loosely (a negative power would be a fraction); this one is not.
        factor: int = 10**self.exponent
        return factor

    def __str__(self) -> str:
        return self.code


_BY_CODE: Final[Mapping[str, Currency]] = MappingProxyType(
    {
        code: Currency(code=code, exponent=exponent, numeric=numeric, name=name)
        for code, (numeric, exponent, name) in ISO_4217.items()
    }
)
_ALL: Final[tuple[Currency, ...]] = tuple(_BY_CODE[code] for code in sorted(_BY_CODE))


def is_known_currency(code: str) -> bool:
    """Whether ``code`` is exactly an ISO 4217 code with a minor unit (case-sensitive)."""
    return type(code) is str and code in _BY_CODE


def _as_currency(currency: str | Currency) -> Currency:
    if isinstance(currency, Currency):
        return currency
    return Currency.of(currency)


def _type_name(value: object) -> str:
    return type(value).__name__


@attrs.frozen(slots=True, order=False)
class Money:
    """An amount of minor units in one currency: ``Money(1234, EUR)`` is 12.34 EUR.

    The amount may be zero or negative (differences, refunds, reversals); whether an amount is
    acceptable as user input is :func:`check_amount_in_range`'s question, not this type's.
    Arithmetic and ordering work only within one currency; ``==`` compares amount and currency.
    """

    amount: int
    currency: Currency

    def __attrs_post_init__(self) -> None:
        # ``type(...) is int`` rather than isinstance: bool and other int subclasses are out too.
        if type(self.amount) is not int:
            raise InvalidAmountError(
                value=self.amount,
                reason=f"must be an int of minor units, not {_type_name(self.amount)}",
            )
        if not isinstance(self.currency, Currency):
            raise ValidationError(
                field="currency",
                reason="must be a Currency; use Money.of(amount, code) to pass a code",
            )

    # ------------------------------------------------------------------ construction
    @classmethod
    def of(cls, amount: int, currency: str | Currency) -> Money:
        """``Money.of(1234, "EUR")``: like the constructor, but the currency may be a code."""
        return cls(amount, _as_currency(currency))

    @classmethod
    def zero(cls, currency: str | Currency) -> Money:
        """No money in ``currency``."""
        return cls(0, _as_currency(currency))

    @classmethod
    def parse(cls, text: str, currency: str | Currency, *, field: str = "amount") -> Money:
        """Read major-unit decimal text: ``Money.parse("12.34", "EUR") == Money.of(1234, "EUR")``.

        The grammar is strict: an optional ``-``, the integer part without leading zeros, and
        optionally ``.`` with one to ``exponent`` digits (``"12.3"`` is 12.30). Refused: more
        decimals than the currency has, an exponent, ``+``, whitespace, thousands separators,
        ``"1."``, ``".5"``, non-ASCII digits, NaN and infinities. It is the inverse of
        :meth:`format`. Raises :class:`ValidationError` naming ``field``, or
        :class:`InvalidAmountError` when ``text`` is not a ``str``.
        """
        cur = _as_currency(currency)
        if type(text) is not str:
            raise InvalidAmountError(
                value=text, reason=f"{field} must be decimal text, not {_type_name(text)}"
            )
        if len(text) > _MAX_TEXT_LENGTH:
            raise ValidationError(field=field, reason="is too long to be an amount")
        match = _DECIMAL_TEXT.fullmatch(text)
        if match is None:
            raise ValidationError(
                field=field,
                reason=f"{text!r} is not a plain decimal amount such as '12.34' or '-5'",
            )
        sign, whole, fraction = match.groups()
        fraction = fraction or ""
        if len(fraction) > cur.exponent:
            raise ValidationError(
                field=field,
                reason=f"{cur.code} allows at most {cur.exponent} decimal places, "
                f"got {len(fraction)}",
            )
        # Pad the fraction to the exponent and read the digits as one integer: no division.
        magnitude = int(whole + fraction.ljust(cur.exponent, "0"))
        return cls(-magnitude if sign else magnitude, cur)

    from_major_str = parse

    # ------------------------------------------------------------------ display
    def format(self) -> str:
        """The amount in major units with exactly ``exponent`` decimals, without the code.

        EUR 1234 is ``"12.34"``, JPY 1234 ``"1234"``, KWD 1234 ``"1.234"``, EUR -5 ``"-0.05"``.
        """
        exponent = self.currency.exponent
        sign = "-" if self.amount < 0 else ""
        major, minor = divmod(abs(self.amount), self.currency.minor_per_major)
        if exponent == 0:
            return f"{sign}{major}"
        return f"{sign}{major}.{minor:0{exponent}d}"

    to_major_str = format

    def __str__(self) -> str:
        return f"{self.format()} {self.currency.code}"

    # ------------------------------------------------------------------ predicates
    @property
    def is_positive(self) -> bool:
        """More than zero."""
        return self.amount > 0

    @property
    def is_zero(self) -> bool:
        """Exactly zero."""
        return self.amount == 0

    @property
    def is_negative(self) -> bool:
        """Less than zero."""
        return self.amount < 0

    # ------------------------------------------------------------------ arithmetic
    def require_same_currency(self, other: Money) -> None:
        """Raise :class:`CurrencyMismatchError` unless ``other`` is in this currency."""
        if self.currency != other.currency:
            raise CurrencyMismatchError(left=self.currency.code, right=other.currency.code)

    def __add__(self, other: Money) -> Money:
        if not isinstance(other, Money):
            return NotImplemented
        self.require_same_currency(other)
        return Money(self.amount + other.amount, self.currency)

    def __sub__(self, other: Money) -> Money:
        if not isinstance(other, Money):
            return NotImplemented
        self.require_same_currency(other)
        return Money(self.amount - other.amount, self.currency)

    def __neg__(self) -> Money:
        return Money(-self.amount, self.currency)

    def __abs__(self) -> Money:
        return Money(abs(self.amount), self.currency)

    def __mul__(self, factor: int) -> Money:
        """Scale by an exact ``int``; any other number (bool, Decimal, a binary fraction) raises."""
        if type(factor) is not int:
            if isinstance(factor, numbers.Number):
                raise InvalidAmountError(
                    value=factor,
                    reason=f"a factor must be an int, not {_type_name(factor)}",
                )
            return NotImplemented
        return Money(self.amount * factor, self.currency)

    __rmul__ = __mul__

    # ------------------------------------------------------------------ ordering
    def __lt__(self, other: Money) -> bool:
        if not isinstance(other, Money):
            return NotImplemented
        self.require_same_currency(other)
        return self.amount < other.amount

    def __le__(self, other: Money) -> bool:
        if not isinstance(other, Money):
            return NotImplemented
        self.require_same_currency(other)
        return self.amount <= other.amount

    def __gt__(self, other: Money) -> bool:
        if not isinstance(other, Money):
            return NotImplemented
        self.require_same_currency(other)
        return self.amount > other.amount

    def __ge__(self, other: Money) -> bool:
        if not isinstance(other, Money):
            return NotImplemented
        self.require_same_currency(other)
        return self.amount >= other.amount

    # ------------------------------------------------------------------ allocation
    def allocate(self, ratios: Sequence[int]) -> tuple[Money, ...]:
        """Split into parts proportional to ``ratios`` that add up to exactly this amount.

        Ratios are non-negative ints, at least one positive. Each part is its exact share
        rounded down, and the minor units left over go one each to the parts with the largest
        remainders, the earlier ratio winning a tie: every part is within one minor unit of its
        exact share, and a zero ratio always gets zero. A negative amount is split as its
        magnitude and negated, so ``(-m).allocate(r) == tuple(-p for p in m.allocate(r))``.
        """
        weights = list(ratios)
        for weight in weights:
            if type(weight) is not int:
                raise ValidationError(
                    field="ratios", reason=f"must be ints, not {_type_name(weight)}"
                )
            if weight < 0:
                raise ValidationError(field="ratios", reason="must not be negative")
        total = sum(weights)
        if total == 0:
            raise ValidationError(field="ratios", reason="need at least one positive ratio")

        magnitude = abs(self.amount)
        shares = [divmod(magnitude * weight, total) for weight in weights]
        parts = [quotient for quotient, _ in shares]
        leftover = magnitude - sum(parts)
        # Largest remainder first; ``sorted`` is stable, so ties keep the earlier index.
        by_remainder = sorted(range(len(shares)), key=lambda i: -shares[i][1])
        for index in by_remainder[:leftover]:
            parts[index] += 1

        sign = -1 if self.amount < 0 else 1
        return tuple(Money(sign * part, self.currency) for part in parts)


def round_half_even(numerator: int, denominator: int) -> int:
    """``numerator / denominator`` rounded to the nearest int, a half going to the even one.

    Exact for every sign of ``numerator``; ``denominator`` must be positive.
    ``round_half_even(125, 10) == 12``, ``round_half_even(135, 10) == 14``,
    ``round_half_even(-25, 10) == -2``.
    """
    for name, value in (("numerator", numerator), ("denominator", denominator)):
        if type(value) is not int:
            raise InvalidAmountError(
                value=value, reason=f"{name} must be an int, not {_type_name(value)}"
            )
    if denominator <= 0:
        raise ValidationError(field="denominator", reason="must be positive")
    # Floor division leaves 0 <= remainder < denominator whatever the sign of the numerator.
    quotient, remainder = divmod(numerator, denominator)
    twice = 2 * remainder
    if twice > denominator or (twice == denominator and quotient % 2 == 1):
        quotient += 1
    return quotient


def tax_for(amount_minor: int, rate_bps: int) -> int:
    """Tax on ``amount_minor`` at ``rate_bps`` basis points (1000 bps = 10 %), half to even.

    ``tax_for(125, 1000) == 12`` (12.5 rounds to 12), ``tax_for(135, 1000) == 14``.
    ``rate_bps`` must be an int from 0 to :data:`MAX_TAX_RATE_BPS`.
    """
    if type(amount_minor) is not int:
        raise InvalidAmountError(
            value=amount_minor,
            reason=f"must be an int of minor units, not {_type_name(amount_minor)}",
        )
    if type(rate_bps) is not int or not 0 <= rate_bps <= MAX_TAX_RATE_BPS:
        raise ValidationError(
            field="tax_rate_bps",
            reason=f"must be an int from 0 to {MAX_TAX_RATE_BPS} basis points",
        )
    return round_half_even(amount_minor * rate_bps, _BPS_PER_UNIT)


def check_amount_in_range(amount: object, *, field: str = "amount") -> int:
    """Validate a user-supplied amount of minor units and return it.

    It must be an exact ``int`` (not a bool, a binary fraction, a Decimal or a str), else
    :class:`InvalidAmountError`; and from 1 to :data:`MAX_AMOUNT`, else
    :class:`ValidationError` naming ``field``.
    """
    if type(amount) is not int:
        raise InvalidAmountError(
            value=amount,
            reason=f"{field} must be an int of minor units, not {_type_name(amount)}",
        )
    if not 1 <= amount <= MAX_AMOUNT:
        raise ValidationError(field=field, reason=f"must be from 1 to {MAX_AMOUNT} minor units")
    return amount

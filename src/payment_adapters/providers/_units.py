"""How each provider writes an amount: its own minor unit per currency, not always ISO 4217's.

Our amounts are ISO 4217 minor units everywhere (ISK 500 is 500 krónur, MGA 12345 is 123.45
ariary). A provider may count some currencies in another unit, or take only some amounts:

- Stripe counts in its own "smallest unit": zero-decimal for BIF, CLP, DJF, GNF, JPY, KMF, KRW,
  MGA, PYG, RWF, VND, VUV, XAF, XOF and XPF; three-decimal for BHD, JOD, KWD, OMR and TND, whose
  last digit must be 0; ISK and UGX are written with two decimals that are always ``00`` (an
  ISK ``amount`` of 100 is one króna); every other currency has two decimals.
- PayPal takes decimal text; HUF, JPY and TWD without decimals.
- Square takes the smallest denomination of the currency, which is ISO 4217's.

Each provider's table is in its ``_transformers`` (``STRIPE_UNITS``, ``PAYPAL_UNITS``,
``SQUARE_UNITS``). An adapter converts on the way out (:meth:`ProviderUnits.to_provider`, which
refuses an amount the provider cannot take rather than rounding it) and back on the way in
(:meth:`ProviderUnits.from_provider`): replies, webhooks and refunds alike. docs/providers.md
gives the sources.
"""

from __future__ import annotations

from collections.abc import Mapping
from math import gcd
from types import MappingProxyType

import attrs

from payment_core.errors import ProviderRejectedError
from payment_core.money import Currency, Money

__all__ = ["ProviderUnits"]


def _frozen(mapping: Mapping[str, int]) -> Mapping[str, int]:
    return MappingProxyType(dict(mapping))


def _pow10(n: int) -> int:
    factor: int = 10**n  # ``int ** int`` is typed loosely; a non-negative power is an int
    return factor


@attrs.frozen(kw_only=True)
class ProviderUnits:
    """One provider's unit for each currency.

    ``exponents`` names the currencies whose provider exponent is not ``default_exponent``
    (``None``: ISO 4217's own); ``steps`` names those whose provider amount must be a multiple
    of a step (in the provider's unit).
    """

    provider: str
    default_exponent: int | None = None
    exponents: Mapping[str, int] = attrs.field(factory=dict, converter=_frozen)
    steps: Mapping[str, int] = attrs.field(factory=dict, converter=_frozen)

    def exponent(self, currency: Currency) -> int:
        """Decimals of ``currency`` in this provider's unit."""
        if currency.code in self.exponents:
            return self.exponents[currency.code]
        return currency.exponent if self.default_exponent is None else self.default_exponent

    def quantum(self, currency: Currency) -> int:
        """The smallest amount of ``currency`` (ISO minor units) the provider can take."""
        shift = self.exponent(currency) - currency.exponent
        step = self.steps.get(currency.code, 1)
        if shift >= 0:
            return step // gcd(step, _pow10(shift))
        return step * _pow10(-shift)

    def to_provider(self, money: Money) -> int:
        """``money`` in the provider's unit; refused when the provider cannot take it exactly."""
        currency = money.currency
        if money.amount % self.quantum(currency):
            quantum = Money(self.quantum(currency), currency)
            raise ProviderRejectedError(
                reason_code="amount_not_representable",
                message=(
                    f"{self.provider} takes {currency.code} only in multiples of "
                    f"{quantum.format()} {currency.code}; {money.format()} {currency.code} "
                    "cannot be sent"
                ),
            )
        shift = self.exponent(currency) - currency.exponent
        return money.amount * _pow10(shift) if shift >= 0 else money.amount // _pow10(-shift)

    def from_provider(self, amount: int, currency: Currency) -> Money | None:
        """An amount in the provider's unit as ours; ``None`` if it is no whole ISO amount."""
        shift = self.exponent(currency) - currency.exponent
        if shift <= 0:
            return Money(amount * _pow10(-shift), currency)
        whole, rest = divmod(amount, _pow10(shift))
        return None if rest else Money(whole, currency)

    def to_decimal_text(self, money: Money) -> str:
        """``money`` as the decimal text of a provider that takes text (PayPal's ``value``)."""
        amount = self.to_provider(money)
        exponent = self.exponent(money.currency)
        sign = "-" if amount < 0 else ""
        major, minor = divmod(abs(amount), _pow10(exponent))
        return f"{sign}{major}" if exponent == 0 else f"{sign}{major}.{minor:0{exponent}d}"

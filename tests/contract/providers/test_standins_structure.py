"""The stand-ins are assembled from one mixin per resource: no mixin may hide another's method
(Python would silently call the first one found), and every module stays readable."""

from __future__ import annotations

from pathlib import Path

import pytest
from provider_standins._server import StandIn
from provider_standins.paypal import PayPalStandIn
from provider_standins.square import SquareStandIn
from provider_standins.stripe import StripeStandIn


@pytest.mark.parametrize("standin", [StripeStandIn, PayPalStandIn, SquareStandIn])
def test_no_mixin_hides_a_method_of_another_or_of_the_base(standin: type[StandIn]) -> None:
    owners: dict[str, str] = dict.fromkeys(vars(StandIn), "StandIn")
    clashes = []
    for mixin in standin.__mro__[1:]:
        if mixin in (StandIn, object):
            continue
        for name, value in vars(mixin).items():
            if callable(value) and not name.startswith("__"):
                if name in owners:
                    clashes.append(f"{mixin.__name__}.{name} hides {owners[name]}.{name}")
                owners[name] = mixin.__name__
    assert clashes == []


def test_every_stand_in_module_stays_under_500_lines() -> None:
    root = Path(__file__).parent / "provider_standins"
    long = {
        str(path.relative_to(root)): lines
        for path in root.rglob("*.py")
        if (lines := len(path.read_text().splitlines())) > 500
    }
    assert long == {}

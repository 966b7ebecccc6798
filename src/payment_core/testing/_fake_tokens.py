"""The fake provider's payment-method tokens and what confirming with each does.

They mirror Stripe's test tokens; their outcomes are fixed by the wire contract.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Final

import attrs

from payment_core.model.payment import Card

__all__ = ["DECLINE_MESSAGES", "FAKE_TOKENS", "FakeToken"]


@attrs.frozen(slots=True)
class FakeToken:
    """What confirming with a token does."""

    outcome: str  # succeeded | declined | requires_action | timeout | mismatch
    card: Card
    decline_code: str | None = None
    refunds_fail: bool = False


_EXP: Final = {"exp_month": 12, "exp_year": 2034}

FAKE_TOKENS: Final[Mapping[str, FakeToken]] = {
    "pm_card_visa": FakeToken("succeeded", Card("visa", "4242", **_EXP)),
    "pm_card_mastercard": FakeToken("succeeded", Card("mastercard", "4444", **_EXP)),
    "pm_card_chargeDeclined": FakeToken(
        "declined", Card("visa", "0002", **_EXP), decline_code="card_declined"
    ),
    "pm_card_chargeDeclinedInsufficientFunds": FakeToken(
        "declined", Card("visa", "9995", **_EXP), decline_code="insufficient_funds"
    ),
    "pm_card_authenticationRequired": FakeToken("requires_action", Card("visa", "3184", **_EXP)),
    "pm_card_timeout": FakeToken("timeout", Card("visa", "0077", **_EXP)),
    "pm_card_refundFail": FakeToken("succeeded", Card("visa", "0005", **_EXP), refunds_fail=True),
    # Not in Stripe's set: a provider that reports another amount than we asked for.
    "pm_card_amountMismatch": FakeToken("mismatch", Card("visa", "0101", **_EXP)),
}

DECLINE_MESSAGES: Final = {
    "card_declined": "Your card was declined.",
    "insufficient_funds": "Your card has insufficient funds.",
}

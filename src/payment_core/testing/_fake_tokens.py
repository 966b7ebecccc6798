"""The fake provider's payment-method tokens and what confirming with each does.

They mirror Stripe's test tokens; their outcomes are fixed by the wire contract. A card the
fake provider saves (``setup_future_usage``) gets a token of its own that names the test
token it was saved from, so that charging it again does what that token does, in any process.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Final
from uuid import UUID

import attrs

from payment_core.model.card import Card

__all__ = [
    "DECLINE_MESSAGES",
    "FAKE_TOKENS",
    "SAVED_PREFIX",
    "FakeToken",
    "saved_token",
    "token_of_saved",
]


@attrs.frozen(slots=True)
class FakeToken:
    """What confirming with a token does."""

    outcome: str  # succeeded | declined | requires_action | timeout | mismatch
    card: Card
    decline_code: str | None = None
    refunds_fail: bool = False
    #: What a charge of the saved card without the guest does: ok | authentication_required
    #: | declined.
    off_session: str = "ok"
    #: Whether the issuer declines every increase of a hold on it.
    increments_declined: bool = False
    #: Whether the cardholder disputes the payment once it completes.
    disputes: bool = False

    def off_session_outcome(self) -> str:
        # Nobody is there to pass 3-D Secure: the issuer wants the guest.
        return "authentication_required" if self.outcome == "requires_action" else self.off_session


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
    # Charged on-session they succeed; saved and charged without the guest, the issuer wants
    # the guest to authenticate, or declines (Stripe's 4000002500003155 and 4000000000000341).
    "pm_card_offSessionAuthRequired": FakeToken(
        "succeeded", Card("visa", "3155", **_EXP), off_session="authentication_required"
    ),
    "pm_card_offSessionDeclined": FakeToken(
        "succeeded", Card("visa", "0341", **_EXP), off_session="declined"
    ),
    # Completes, then the cardholder disputes it (Stripe's 4000000000000259).
    "pm_card_createDispute": FakeToken("succeeded", Card("visa", "0259", **_EXP), disputes=True),
    # Not in Stripe's set: a provider that reports another amount than we asked for.
    "pm_card_amountMismatch": FakeToken("mismatch", Card("visa", "0101", **_EXP)),
    # Not in Stripe's set: a hold whose every increase the issuer declines.
    "pm_card_incrementDeclined": FakeToken(
        "succeeded", Card("visa", "1629", **_EXP), increments_declined=True
    ),
}

DECLINE_MESSAGES: Final = {
    "card_declined": "Your card was declined.",
    "insufficient_funds": "Your card has insufficient funds.",
    "authentication_required": "The card's issuer requires the customer to authenticate.",
}

#: Saved cards' tokens: ``pm_fake_saved_<payment hex>_<the test token>``.
SAVED_PREFIX: Final = "pm_fake_saved_"


def saved_token(payment_id: UUID, token: str) -> str:
    """The token of the card a payment saved from ``token``."""
    return f"{SAVED_PREFIX}{payment_id.hex}_{token}"


def token_of_saved(value: str) -> str | None:
    """The test token a saved card's token was saved from, or ``None`` if it is not one."""
    if not value.startswith(SAVED_PREFIX):
        return None
    _, sep, token = value[len(SAVED_PREFIX) :].partition("_")
    return token if sep and token in FAKE_TOKENS else None

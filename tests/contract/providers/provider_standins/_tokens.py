"""The test tokens every stand-in understands: the fake provider's, plus how each behaves when
it is charged again without the customer (off-session) and whether its charge gets disputed.

The wire contract (CONTRACT.md, "Saved cards and off-session charges", "Disputes") adds three
tokens to the fake provider's; the stand-ins give them the same outcomes whatever the fake
provider's own table says, so a stand-in test does not depend on the core's progress:

- ``pm_card_offSessionAuthRequired``: on-session charges complete; every off-session charge of
  the saved card is refused because the issuer wants the customer to authenticate;
- ``pm_card_offSessionDeclined``: on-session charges complete; off-session ones are declined;
- ``pm_card_createDispute``: the charge completes, then the cardholder's bank disputes it
  (reason: fraud) for the whole amount.

A token whose on-session outcome is ``requires_action`` cannot be charged off-session either
(there is nobody to pass 3-D Secure): the real providers answer "authentication required".
The card numbers behind the new tokens are Stripe's test cards with the same behaviour.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

from payment_core.model.payment import Card
from payment_core.testing import FAKE_TOKENS

OffSession = Literal["ok", "authentication_required", "declined"]

_EXP = {"exp_month": 12, "exp_year": 2034}


@dataclass(frozen=True)
class Token:
    outcome: str  # succeeded | declined | requires_action | timeout | mismatch
    card: Card
    decline_code: str | None = None
    refunds_fail: bool = False
    off_session: OffSession = "ok"
    disputed: bool = False

    def off_session_outcome(self) -> OffSession:
        if self.outcome == "requires_action":
            return "authentication_required"
        return self.off_session


def _from_fake(name: str, default: Card) -> Card:
    fake = FAKE_TOKENS.get(name)
    return fake.card if fake is not None else default


TOKENS: dict[str, Token] = {
    name: Token(t.outcome, t.card, t.decline_code, t.refunds_fail)
    for name, t in FAKE_TOKENS.items()
}
TOKENS.update(
    {
        "pm_card_offSessionAuthRequired": Token(
            "succeeded",
            _from_fake("pm_card_offSessionAuthRequired", Card("visa", "3155", **_EXP)),
            off_session="authentication_required",
        ),
        "pm_card_offSessionDeclined": Token(
            "succeeded",
            _from_fake("pm_card_offSessionDeclined", Card("visa", "0341", **_EXP)),
            off_session="declined",
        ),
        "pm_card_createDispute": Token(
            "succeeded",
            _from_fake("pm_card_createDispute", Card("visa", "0259", **_EXP)),
            disputed=True,
        ),
    }
)

#: The test card numbers behind the tokens (they must never appear in a log).
NEW_PANS = ("4000002500003155", "4000000000000341", "4000000000000259")

#: The evidence text that wins or loses a dispute at every stand-in (Stripe's test mode words).
WINNING_EVIDENCE = "winning_evidence"
LOSING_EVIDENCE = "losing_evidence"


def verdict(text: str | None) -> Literal["won", "lost"] | None:
    """What submitted evidence text decides at the stand-ins: ``None`` leaves it under review."""
    if text and LOSING_EVIDENCE in text:
        return "lost"
    if text and WINNING_EVIDENCE in text:
        return "won"
    return None

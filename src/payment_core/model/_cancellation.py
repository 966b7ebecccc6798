"""Cancellation policies and the decision a cancellation gets: a pure function of the
policy, what the plan costs and has paid, and the instant, which records how it decided.

``days_before = check_in - today`` (today's date in the property's time zone), in whole days.
The tier that applies is the one with the largest ``days_before_check_in`` not above
``days_before``; when none does, nothing is refunded (``refund_bps = 0``) under a policy, and
everything (``10000``) without one. What the property keeps is
``round_half_even(total * (10000 - refund_bps) / 10000)``, and the refund is what was paid
beyond that, never below zero.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import date, datetime
from typing import Final
from uuid import UUID

import attrs

from payment_core.errors import ValidationError
from payment_core.model._plan_schedule import (
    BPS_WHOLE,
    MAX_DAYS_BEFORE,
    check_bps,
    days_until,
    share_of,
    zone_of,
)
from payment_core.plan_errors import (
    CancellationTiersDuplicatedError,
    CancellationTiersUnorderedError,
)

__all__ = [
    "MAX_TIERS",
    "CancellationDecision",
    "CancellationPolicy",
    "CancellationTier",
    "decide_cancellation",
    "no_show_fee",
    "split_refund",
]

MAX_TIERS: Final = 20


@attrs.frozen(slots=True)
class CancellationTier:
    """Cancelled at least ``days_before_check_in`` days ahead: ``refund_bps`` of the total
    back."""

    days_before_check_in: int
    refund_bps: int

    def __attrs_post_init__(self) -> None:
        days = self.days_before_check_in
        if type(days) is not int or not 0 <= days <= MAX_DAYS_BEFORE:
            raise ValidationError(
                field="cancellation_policy.tiers.days_before_check_in",
                reason=f"must be an int from 0 to {MAX_DAYS_BEFORE}",
            )
        check_bps(self.refund_bps, "cancellation_policy.tiers.refund_bps")


@attrs.frozen(slots=True)
class CancellationPolicy:
    """A booking's rules: tiers from the most days ahead to the fewest, and the no-show fee.

    Each tier names fewer days than the one before it (``CancellationTiersDuplicatedError``
    for the same days twice, ``CancellationTiersUnorderedError`` otherwise) and refunds no
    more than it, so cancelling later never refunds more.
    """

    tiers: tuple[CancellationTier, ...] = ()
    no_show_fee_bps: int = 0

    def __attrs_post_init__(self) -> None:
        check_bps(self.no_show_fee_bps, "cancellation_policy.no_show_fee_bps")
        if len(self.tiers) > MAX_TIERS:
            raise ValidationError(
                field="cancellation_policy.tiers", reason=f"at most {MAX_TIERS} tiers"
            )
        for earlier, later in zip(self.tiers, self.tiers[1:], strict=False):
            if later.days_before_check_in == earlier.days_before_check_in:
                raise CancellationTiersDuplicatedError(
                    field="cancellation_policy.tiers",
                    reason=f"{later.days_before_check_in} days before check-in appears twice",
                )
            if later.days_before_check_in > earlier.days_before_check_in:
                raise CancellationTiersUnorderedError(
                    field="cancellation_policy.tiers",
                    reason="must go from the most days before check-in to the fewest",
                )
            if later.refund_bps > earlier.refund_bps:
                raise CancellationTiersUnorderedError(
                    field="cancellation_policy.tiers",
                    reason="a tier nearer check-in may not refund more than one further from it",
                )

    def describe(self) -> str:
        """The policy in words, as a guest's bank reads it in a dispute's evidence."""
        parts = [
            f"cancelled {t.days_before_check_in} or more days before check-in: "
            f"{t.refund_bps / 100:g} % refunded"
            for t in self.tiers
        ]
        parts.append("cancelled later: nothing refunded" if self.tiers else "no refund")
        if self.no_show_fee_bps:
            parts.append(f"no-show: {self.no_show_fee_bps / 100:g} % of the total charged")
        return "; ".join(parts) + " (days counted in the property's time zone)."

    def tier_for(self, days_before: int) -> CancellationTier | None:
        """The tier with the largest ``days_before_check_in`` not above ``days_before``."""
        # Tiers are ordered from the most days to the fewest: the first that fits is it.
        return next((t for t in self.tiers if t.days_before_check_in <= days_before), None)


@attrs.frozen(slots=True)
class CancellationDecision:
    """What a cancellation refunds and why (the plan view's ``cancellation``)."""

    cancelled_at: datetime
    days_before_check_in: int
    refund_bps: int
    amount_retained: int
    amount_refunded: int
    #: The tier that applied (``None``: none did, or there is no policy).
    tier: CancellationTier | None
    #: The reasoning in words, kept with the decision.
    explanation: str
    reason: str | None = None


def decide_cancellation(
    policy: CancellationPolicy | None,
    *,
    total: int,
    amount_paid: int,
    check_in: date,
    time_zone: str,
    at: datetime,
    reason: str | None = None,
) -> CancellationDecision:
    """How much a cancellation at ``at`` refunds of what was paid, by ``policy``."""
    days_before = days_until(check_in, at, zone_of(time_zone))
    tier = None if policy is None else policy.tier_for(days_before)
    if policy is None:
        refund_bps, why = BPS_WHOLE, "no cancellation policy: everything paid is refunded"
    elif tier is None:
        refund_bps = 0
        why = f"{days_before} days before check-in: no tier applies, nothing is refunded"
    else:
        refund_bps = tier.refund_bps
        why = (
            f"{days_before} days before check-in: the tier of "
            f"{tier.days_before_check_in} days applies, {tier.refund_bps} bps refunded"
        )
    retained = share_of(total, BPS_WHOLE - refund_bps)
    refund = max(0, amount_paid - retained)
    why += f"; {retained} of {total} retained, {amount_paid} paid, {refund} refunded"
    return CancellationDecision(
        cancelled_at=at,
        days_before_check_in=days_before,
        refund_bps=refund_bps,
        amount_retained=retained,
        amount_refunded=refund,
        tier=tier,
        explanation=why,
        reason=reason,
    )


def no_show_fee(policy: CancellationPolicy | None, *, total: int, amount_paid: int) -> int:
    """``max(0, round_half_even(total * no_show_fee_bps / 10000) - amount_paid)``."""
    fee_bps = 0 if policy is None else policy.no_show_fee_bps
    return max(0, share_of(total, fee_bps) - amount_paid)


def split_refund(amount: int, paid: Sequence[tuple[UUID, int]]) -> list[tuple[UUID, int]]:
    """``amount`` taken from paid payments, the latest first: ``paid`` is
    ``(payment_id, what may still be refunded of it)`` oldest first; never more than each
    allows, never more than ``amount`` in all."""
    parts: list[tuple[UUID, int]] = []
    left = amount
    for payment_id, refundable in reversed(paid):
        if left <= 0:
            break
        take = min(left, max(0, refundable))
        if take:
            parts.append((payment_id, take))
            left -= take
    return parts

"""Backoff policies: pure functions of the attempt number and an injected random source.

No float touches a delay: everything is integer milliseconds, and the random source is a
``randbelow``-like callable so tests can pin it.
"""

from __future__ import annotations

import secrets
from collections.abc import Callable, Sequence
from datetime import timedelta

import attrs

from payment_core.errors import ValidationError

__all__ = ["RandBelow", "ReconcileSchedule", "RetryPolicy"]

#: ``randbelow(n)`` returns an int in ``[0, n)``, like :func:`secrets.randbelow`.
RandBelow = Callable[[int], int]


def _positive(_: object, attribute: attrs.Attribute[timedelta], value: timedelta) -> None:
    if value <= timedelta(0):
        raise ValidationError(field=attribute.name, reason="must be positive")


@attrs.frozen(slots=True)
class RetryPolicy:
    """Exponential backoff with equal jitter, capped, for a bounded number of attempts.

    Attempt ``n`` (1-based) waits between half and all of ``min(cap, base * 2**(n-1))``: the
    doubling spreads retries out, the jitter keeps many failed refunds from retrying in step.
    """

    base: timedelta = attrs.field(default=timedelta(seconds=2), validator=_positive)
    cap: timedelta = attrs.field(default=timedelta(hours=1), validator=_positive)
    max_attempts: int = 8

    def __attrs_post_init__(self) -> None:
        if type(self.max_attempts) is not int or self.max_attempts < 1:
            raise ValidationError(field="max_attempts", reason="must be an integer >= 1")
        if self.cap < self.base:
            raise ValidationError(field="cap", reason="must be at least the base delay")

    def ceiling(self, attempt: int) -> timedelta:
        """The largest delay after failed attempt ``attempt`` (without jitter)."""
        if attempt < 1:
            raise ValidationError(field="attempt", reason="attempts count from 1")
        base_ms = self.base // timedelta(milliseconds=1)
        cap_ms = self.cap // timedelta(milliseconds=1)
        # Bound the exponent so that a huge attempt number cannot build a huge integer.
        exp_ms = min(cap_ms, base_ms << min(attempt - 1, 62))
        return timedelta(milliseconds=exp_ms)

    def delay(self, attempt: int, randbelow: RandBelow = secrets.randbelow) -> timedelta:
        """How long to wait after failed attempt ``attempt``: in ``[ceiling/2, ceiling]``."""
        ceiling_ms = self.ceiling(attempt) // timedelta(milliseconds=1)
        half = ceiling_ms // 2
        return timedelta(milliseconds=half + randbelow(ceiling_ms - half + 1))

    def exhausted(self, attempts: int) -> bool:
        """Whether no attempt is left after ``attempts`` attempts."""
        return attempts >= self.max_attempts


@attrs.frozen(slots=True)
class ReconcileSchedule:
    """When to ask the provider again about an unsettled payment: a growing schedule.

    The defaults ask after 5 minutes, then an hour later, then daily until it settles.
    """

    steps: Sequence[timedelta] = (
        timedelta(minutes=5),
        timedelta(hours=1),
        timedelta(days=1),
    )

    def __attrs_post_init__(self) -> None:
        if not self.steps or any(s <= timedelta(0) for s in self.steps):
            raise ValidationError(field="steps", reason="needs at least one positive step")

    def after_stuck(self, elapsed: timedelta) -> timedelta:
        """The wait for something unsettled for ``elapsed``: the longest step not beyond it.

        With the defaults: every 5 minutes for the first hour, hourly for the first day, then
        daily. It needs no counter, only how long the thing has been stuck.
        """
        fitting = [s for s in self.steps if s <= elapsed]
        return max(fitting) if fitting else min(self.steps)

    def after(self, attempts: int) -> timedelta:
        """The wait after ``attempts`` unanswered asks (0-based: the first wait is steps[0])."""
        return self.steps[min(max(attempts, 0), len(self.steps) - 1)]

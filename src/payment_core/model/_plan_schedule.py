"""When a plan's installments fall due and how much each is: pure functions of the plan's
terms, its time zone and the moment it is made.

Local dates are the property's: "14 days before check-in" is 00:00 of that date on the
property's wall clock, whatever the guest's or the server's. Where a time zone skips midnight
(a DST change at 00:00, as in America/Santiago), the first instant of that date is meant; where
midnight happens twice, the first one.
"""

from __future__ import annotations

from datetime import UTC, date, datetime, time, timedelta
from typing import Final, NamedTuple
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from payment_core.money import MAX_AMOUNT, round_half_even
from payment_core.plan_errors import (
    DepositTooSmallError,
    InvalidBasisPointsError,
    PlanTotalOutOfRangeError,
    UnknownTimeZoneError,
)

__all__ = [
    "BPS_WHOLE",
    "MAX_DAYS_BEFORE",
    "PlannedInstallment",
    "check_bps",
    "days_until",
    "local_date",
    "plan_schedule",
    "share_of",
    "start_of_local_day",
    "zone_of",
]

BPS_WHOLE: Final = 10_000
#: No booking is made ten years ahead; a bound keeps date arithmetic in range.
MAX_DAYS_BEFORE: Final = 3660
_MAX_ZONE_NAME: Final = 64


def zone_of(name: object) -> ZoneInfo:
    """The IANA time zone called ``name``; :class:`UnknownTimeZoneError` otherwise."""
    if not isinstance(name, str) or not 1 <= len(name) <= _MAX_ZONE_NAME or not name.isascii():
        raise UnknownTimeZoneError(field="time_zone", reason="must be an IANA time zone name")
    try:
        # ZoneInfo refuses absolute and relative paths (ValueError) before it reads a file.
        return ZoneInfo(name)
    except (ZoneInfoNotFoundError, ValueError, OSError):
        raise UnknownTimeZoneError(
            field="time_zone", reason="is not a known IANA time zone"
        ) from None


def local_date(instant: datetime, zone: ZoneInfo) -> date:
    """The date on the wall clock of ``zone`` at ``instant`` (an aware datetime)."""
    return instant.astimezone(zone).date()


def start_of_local_day(day: date, zone: ZoneInfo) -> datetime:
    """The first instant of ``day`` in ``zone``, in UTC.

    ``fold=0`` picks the first of two midnights; a midnight skipped by a DST change maps (by
    the offset before the change) to the instant the day actually starts.
    """
    return datetime.combine(day, time(0), zone).astimezone(UTC)


def days_until(check_in: date, instant: datetime, zone: ZoneInfo) -> int:
    """Whole days from today's date in ``zone`` (at ``instant``) to ``check_in``; negative
    after it."""
    return (check_in - local_date(instant, zone)).days


def check_bps(value: object, field: str) -> int:
    """``value`` as basis points: an int from 0 to 10000, else :class:`InvalidBasisPointsError`."""
    if type(value) is not int or not 0 <= value <= BPS_WHOLE:
        raise InvalidBasisPointsError(field=field, reason="must be an int from 0 to 10000")
    return value


def share_of(total: int, bps: int) -> int:
    """``round_half_even(total * bps / 10000)``: a share of ``total`` in minor units."""
    return round_half_even(total * bps, BPS_WHOLE)


class PlannedInstallment(NamedTuple):
    """One installment as the terms make it: ``DEPOSIT`` or ``BALANCE``, its amount and when
    it falls due (the deposit: at once)."""

    kind: str
    amount: int
    due_at: datetime


def plan_schedule(
    *,
    total: int,
    check_in: date,
    zone: ZoneInfo,
    deposit_bps: int,
    balance_due_days_before_check_in: int | None,
    balance_due_at: datetime | None,
    now: datetime,
) -> list[PlannedInstallment]:
    """The installments of a plan made at ``now``.

    A ``DEPOSIT`` of ``share_of(total, deposit_bps)`` due now and a ``BALANCE`` of the rest
    due at ``balance_due_at`` (when given) or at the start of
    ``check_in - balance_due_days_before_check_in`` in ``zone``. When that moment is not in
    the future, or the deposit is the whole total, one ``DEPOSIT`` of the whole total. The
    amounts add up to ``total`` exactly (the balance is what the deposit leaves).
    """
    if type(total) is not int or not 1 <= total <= MAX_AMOUNT:
        raise PlanTotalOutOfRangeError(
            field="total_amount", reason=f"must be an int from 1 to {MAX_AMOUNT} minor units"
        )
    check_bps(deposit_bps, "deposit_bps")
    if balance_due_at is not None:
        due = balance_due_at.astimezone(UTC)
    else:
        days = 0 if balance_due_days_before_check_in is None else balance_due_days_before_check_in
        due = start_of_local_day(check_in - timedelta(days=days), zone)
    deposit = share_of(total, deposit_bps)
    if deposit >= total or due <= now:
        return [PlannedInstallment("DEPOSIT", total, now)]
    if deposit == 0:
        raise DepositTooSmallError(
            field="deposit_bps",
            reason="the deposit saves the card the balance is charged to: it must be at least "
            "one minor unit while a balance is due later",
        )
    return [
        PlannedInstallment("DEPOSIT", deposit, now),
        PlannedInstallment("BALANCE", total - deposit, due),
    ]

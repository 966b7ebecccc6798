"""Errors of payment plans and cancellation policies: each a bad input with its own stable
``code`` (mapped to a problem by ``payment_http.errors``), raised before anything changes."""

from __future__ import annotations

from typing import ClassVar

import attrs

from payment_core.errors import InvalidTransitionError, ValidationError

__all__ = [
    "CancellationTiersDuplicatedError",
    "CancellationTiersUnorderedError",
    "CheckInInPastError",
    "DepositTooSmallError",
    "InstallmentInProgressError",
    "InvalidBasisPointsError",
    "PlanTotalOutOfRangeError",
    "UnknownTimeZoneError",
]


@attrs.frozen(auto_exc=True)
class UnknownTimeZoneError(ValidationError):
    """``time_zone`` is not an IANA time zone this system knows."""

    code: ClassVar[str] = "unknown_time_zone"


@attrs.frozen(auto_exc=True)
class CheckInInPastError(ValidationError):
    """``check_in`` is before today's date in the plan's time zone."""

    code: ClassVar[str] = "check_in_in_past"


@attrs.frozen(auto_exc=True)
class InvalidBasisPointsError(ValidationError):
    """A share in basis points is not an int from 0 to 10000."""

    code: ClassVar[str] = "invalid_basis_points"


@attrs.frozen(auto_exc=True)
class CancellationTiersUnorderedError(ValidationError):
    """Tiers must go from the most days before check-in to the fewest, each refunding no more
    than the one before it (so cancelling later never refunds more)."""

    code: ClassVar[str] = "cancellation_tiers_unordered"


@attrs.frozen(auto_exc=True)
class CancellationTiersDuplicatedError(ValidationError):
    """Two tiers name the same ``days_before_check_in``."""

    code: ClassVar[str] = "cancellation_tiers_duplicated"


@attrs.frozen(auto_exc=True)
class PlanTotalOutOfRangeError(ValidationError):
    """``total_amount`` is not from 1 to the money limit (99,999,999,999 minor units)."""

    code: ClassVar[str] = "amount_out_of_range"


@attrs.frozen(auto_exc=True)
class DepositTooSmallError(ValidationError):
    """The deposit rounds to nothing while a balance is due later: the deposit is what saves
    the card the balance is charged to, and nothing cannot be charged."""

    code: ClassVar[str] = "deposit_too_small"


@attrs.frozen(auto_exc=True)
class InstallmentInProgressError(InvalidTransitionError):
    """An installment's charge is in flight (its outcome not known yet): a no-show's fee is
    what the policy asks beyond what was paid, which is not known until it settles."""

    code: ClassVar[str] = "installment_in_progress"

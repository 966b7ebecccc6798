"""The payment plan's states, its installments' states and kinds, and their transition tables."""

from __future__ import annotations

from collections.abc import Mapping
from enum import StrEnum
from typing import Final

__all__ = [
    "INSTALLMENT_TRANSITIONS",
    "PLAN_TRANSITIONS",
    "InstallmentKind",
    "InstallmentStatus",
    "PlanStatus",
]


class PlanStatus(StrEnum):
    ACTIVE = "ACTIVE"
    PAID = "PAID"
    CANCELLED = "CANCELLED"
    DEFAULTED = "DEFAULTED"
    NO_SHOW = "NO_SHOW"


class InstallmentStatus(StrEnum):
    SCHEDULED = "SCHEDULED"
    PROCESSING = "PROCESSING"
    PAID = "PAID"
    FAILED = "FAILED"
    CANCELLED = "CANCELLED"


class InstallmentKind(StrEnum):
    DEPOSIT = "DEPOSIT"
    BALANCE = "BALANCE"
    NO_SHOW_FEE = "NO_SHOW_FEE"


_P = PlanStatus
PLAN_TRANSITIONS: Final[Mapping[PlanStatus, frozenset[PlanStatus]]] = {
    _P.ACTIVE: frozenset({_P.PAID, _P.CANCELLED, _P.DEFAULTED, _P.NO_SHOW}),
    _P.PAID: frozenset({_P.CANCELLED, _P.NO_SHOW}),
    _P.DEFAULTED: frozenset({_P.PAID, _P.ACTIVE, _P.CANCELLED, _P.NO_SHOW}),
    _P.CANCELLED: frozenset(),
    _P.NO_SHOW: frozenset(),
}

_I = InstallmentStatus
INSTALLMENT_TRANSITIONS: Final[Mapping[InstallmentStatus, frozenset[InstallmentStatus]]] = {
    _I.SCHEDULED: frozenset({_I.PROCESSING, _I.CANCELLED}),
    _I.PROCESSING: frozenset({_I.PAID, _I.FAILED}),
    _I.FAILED: frozenset({_I.PROCESSING, _I.CANCELLED}),
    _I.PAID: frozenset(),
    _I.CANCELLED: frozenset(),
}

"""The request and list shapes of ``/api/v1/payment-plans``.

Basis points, the total and the time zone are plain values here and checked by the core, so
that each wrong one gets its own problem ``code`` (``invalid_basis_points``,
``amount_out_of_range``, ``unknown_time_zone``, ``check_in_in_past``,
``cancellation_tiers_unordered``, ``cancellation_tiers_duplicated``) rather than the schema's
generic ``validation_error``.
"""

from __future__ import annotations

from datetime import date, datetime
from typing import Annotated
from uuid import UUID

from msgspec import Meta, Struct

from payment_adapters.wire.payment_plans import PaymentPlanView
from payment_http.schemas import CurrencyField, NextCursor, Token

__all__ = [
    "CancelPlanRequest",
    "CancellationPolicyRequest",
    "CancellationTierRequest",
    "CreatePaymentPlanRequest",
    "PayInstallmentRequest",
    "PaymentPlanList",
    "PaymentPlanView",
]

Bps = Annotated[
    int, Meta(description="Basis points, 0 to 10000 (else 422 `invalid_basis_points`).")
]


class CancellationTierRequest(Struct, forbid_unknown_fields=True, kw_only=True):
    days_before_check_in: Annotated[int, Meta(examples=[30])]
    refund_bps: Bps


class CancellationPolicyRequest(Struct, forbid_unknown_fields=True, kw_only=True):
    tiers: Annotated[
        list[CancellationTierRequest],
        Meta(
            max_length=20,
            description="From the most days before check-in to the fewest, each refunding no "
            "more than the one before (else 422 `cancellation_tiers_unordered`; the same days "
            "twice: `cancellation_tiers_duplicated`).",
        ),
    ] = []
    no_show_fee_bps: Bps = 0


class CreatePaymentPlanRequest(Struct, forbid_unknown_fields=True, kw_only=True):
    booking_id: UUID
    guest_id: UUID
    currency: CurrencyField
    total_amount: Annotated[
        int,
        Meta(
            description="Minor units, 1 to 99,999,999,999 (else 422 `amount_out_of_range`).",
            examples=[100000],
        ),
    ]
    check_in: Annotated[
        date, Meta(description="Not before today in `time_zone` (else `check_in_in_past`).")
    ]
    time_zone: Annotated[
        str,
        Meta(
            max_length=64,
            description="The property's IANA time zone (else 422 `unknown_time_zone`).",
            examples=["Europe/Lisbon"],
        ),
    ]
    deposit_bps: Bps = 10_000
    balance_due_days_before_check_in: Annotated[int, Meta(ge=0, le=3660)] | None = None
    balance_due_at: Annotated[datetime, Meta(tz=True)] | None = None
    payment_method: Token | None = None
    provider: Annotated[str, Meta(min_length=1, max_length=40)] | None = None
    cancellation_policy: CancellationPolicyRequest | None = None


class PayInstallmentRequest(Struct, forbid_unknown_fields=True, kw_only=True):
    payment_method: Token | None = None


class CancelPlanRequest(Struct, forbid_unknown_fields=True, kw_only=True):
    reason: Annotated[str, Meta(max_length=500)] | None = None


class PaymentPlanList(Struct):
    items: list[PaymentPlanView]
    next_cursor: NextCursor | None

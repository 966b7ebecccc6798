"""The objects the Stripe stand-in keeps: PaymentIntents, refunds, customers, saved payment
methods and disputes."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

CREATED = 1_767_268_800


@dataclass
class Intent:
    id: str
    amount: int
    currency: str
    metadata: dict[str, str]
    description: str | None
    client_secret: str
    status: str = "requires_payment_method"
    #: A test token (``pm_card_visa``) or the id of a payment method the stand-in made.
    payment_method: str | None = None
    latest_charge: str | None = None
    next_action: dict[str, Any] | None = None
    last_payment_error: dict[str, Any] | None = None
    created: int = CREATED
    #: Charges that took money (a hold takes none until it is captured).
    charges: int = 0
    capture_method: str = "automatic"
    customer: str | None = None
    setup_future_usage: str | None = None
    off_session: bool = False
    #: ``payment_method_options[card][request_incremental_authorization]=if_available``.
    incremental: bool = False
    increments: int = 0
    amount_capturable: int = 0
    amount_received: int = 0
    capture_before: int | None = None
    canceled_at: int | None = None
    cancellation_reason: str | None = None


@dataclass
class Refund:
    id: str
    payment_intent: str
    amount: int
    currency: str
    status: str
    metadata: dict[str, str]
    reason: str | None = None
    failure_reason: str | None = None
    created: int = CREATED
    key: str | None = None
    extra: dict[str, Any] = field(default_factory=dict)


@dataclass
class Customer:
    id: str
    email: str | None
    name: str | None
    description: str | None
    metadata: dict[str, str]
    created: int = CREATED


@dataclass
class Method:
    """A PaymentMethod the stand-in made from a test token (saved for later, or attached)."""

    id: str
    token: str
    customer: str | None = None
    #: Saved for future use (``setup_future_usage``) or attached: it may be charged again.
    reusable: bool = False
    detached: bool = False
    used: bool = False
    created: int = CREATED


@dataclass
class Dispute:
    id: str
    intent: str
    charge: str
    amount: int
    currency: str
    reason: str
    status: str
    due_by: int
    evidence: dict[str, Any]
    created: int
    submission_count: int = 0
    has_evidence: bool = False
    metadata: dict[str, str] = field(default_factory=dict)
    balance_transactions: list[dict[str, Any]] = field(default_factory=list)

    @property
    def open(self) -> bool:
        return self.status in ("needs_response", "under_review")

    @property
    def inquiry(self) -> bool:
        return self.status.startswith("warning_")

"""Fixtures for the core's unit tests: the in-memory harness and a few builders over it.

Everything here drives the real services over ``payment_core.testing``: no mocks, no patches.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from datetime import UTC, datetime
from itertools import count
from typing import Any
from uuid import UUID

import pytest

from payment_core import (
    BillingRecord,
    CreateInvoice,
    CreatePayment,
    Invoice,
    LineItem,
    Payment,
    ServiceConfig,
    Services,
)
from payment_core.services.webhooks import WebhookResult
from payment_core.testing import Harness, SettableClock, build_in_memory

START = datetime(2026, 3, 14, 9, 30, tzinfo=UTC)

_numbers = count(1)


def new_uuid() -> UUID:
    """A fresh UUID for references owned by other services (bookings, guests)."""
    return UUID(int=(0xB << 124) + next(_numbers))


class Kit:
    """Builders over one harness, so a test reads as the behaviour it states."""

    def __init__(self, harness: Harness) -> None:
        self.harness = harness
        self.services: Services = harness.services
        self._event_ids = count(1)

    # ------------------------------------------------------------------ payments
    async def create(
        self,
        token: str | None = "pm_card_visa",
        *,
        amount: int = 10_000,
        currency: str = "EUR",
        booking_id: UUID | None = None,
        guest_id: UUID | None = None,
        metadata: Mapping[str, str] | None = None,
        description: str | None = "Room 12, 2 nights",
    ) -> Payment:
        return await self.services.payments.create(
            CreatePayment(
                booking_id=booking_id or new_uuid(),
                guest_id=guest_id or new_uuid(),
                amount=amount,
                currency=currency,
                payment_method=token,
                description=description,
                metadata=dict(metadata or {}),
            )
        )

    async def paid(self, token: str = "pm_card_visa", **kwargs: Any) -> Payment:
        """A payment created and confirmed with ``token`` (COMPLETED for the default token)."""
        payment = await self.create(token, **kwargs)
        return await self.services.payments.confirm(payment.id)

    async def hold(
        self,
        token: str | None = "pm_card_visa",
        *,
        amount: int = 10_000,
        guest_id: UUID | None = None,
        **fields: Any,
    ) -> Payment:
        """A payment created with ``capture_method=manual`` and confirmed at once
        (``AUTHORIZED`` for the default token)."""
        return await self.services.payments.create(
            CreatePayment(
                booking_id=new_uuid(),
                guest_id=guest_id or new_uuid(),
                amount=amount,
                currency="EUR",
                payment_method=token,
                capture_method="manual",
                confirm=True,
                **fields,
            )
        )

    async def saved(
        self, token: str = "pm_card_visa", *, guest_id: UUID | None = None, **fields: Any
    ) -> Payment:
        """A payment that saved its card (``setup_future_usage``), confirmed at once."""
        return await self.services.payments.create(
            CreatePayment(
                booking_id=new_uuid(),
                guest_id=guest_id or new_uuid(),
                amount=fields.pop("amount", 10_000),
                currency="EUR",
                payment_method=token,
                setup_future_usage="off_session",
                confirm=True,
                **fields,
            )
        )

    async def off_session(self, saved: Payment, amount: int = 4_000, **fields: Any) -> Payment:
        """An off-session charge of the card ``saved`` saved, for its guest."""
        assert saved.payment_method_id is not None
        return await self.services.payments.create(
            CreatePayment(
                booking_id=new_uuid(),
                guest_id=fields.pop("guest_id", saved.guest_id),
                amount=amount,
                currency="EUR",
                payment_method_id=fields.pop("payment_method_id", saved.payment_method_id),
                off_session=True,
                confirm=True,
                **fields,
            )
        )

    # ------------------------------------------------------------------ webhooks
    def signed(
        self, event_type: str, obj: Mapping[str, Any], *, event_id: str | None = None
    ) -> tuple[bytes, dict[str, str]]:
        return self.harness.provider.build_webhook(
            event_type,
            obj,
            event_id=event_id or f"evt_{next(self._event_ids)}",
            now=self.harness.clock.now(),
        )

    async def deliver(
        self, event_type: str, obj: Mapping[str, Any], *, event_id: str | None = None
    ) -> WebhookResult:
        body, headers = self.signed(event_type, obj, event_id=event_id)
        return await self.services.webhooks.receive("fake", body, headers)

    def intent(self, payment: Payment, *, status: str = "succeeded") -> dict[str, Any]:
        assert payment.provider_payment_id is not None
        return self.harness.provider.payment_intent_object(
            payment.provider_payment_id, status=status
        )

    # ------------------------------------------------------------------ invoices
    async def draft(
        self,
        lines: Sequence[LineItem] | None = None,
        *,
        payment_id: UUID | None = None,
        currency: str = "EUR",
        booking_id: UUID | None = None,
    ) -> Invoice:
        if booking_id is None and payment_id in self.harness.store.payments:
            # An invoice is for the booking of the payment it names (any other is refused).
            booking_id = self.harness.store.payments[payment_id].booking_id
        return await self.services.invoices.create(
            CreateInvoice(
                booking_id=booking_id or new_uuid(),
                guest_id=new_uuid(),
                currency=currency,
                line_items=([LineItem("Room", 2, 10_000, 1_000)] if lines is None else list(lines)),
                payment_id=payment_id,
            )
        )

    # ------------------------------------------------------------------ reading the store
    def records(self, booking_id: UUID) -> list[BillingRecord]:
        return list(self.harness.store.billing.get(booking_id, []))

    def all_records(self) -> list[BillingRecord]:
        return [r for chain in self.harness.store.billing.values() for r in chain]

    def calls(self, operation: str) -> list[str | None]:
        """The idempotency keys of every call of ``operation`` to the fake provider."""
        return [key for name, key in self.harness.provider.calls if name == operation]


@pytest.fixture
def clock() -> SettableClock:
    return SettableClock(START)


@pytest.fixture
def config() -> ServiceConfig:
    return ServiceConfig()


@pytest.fixture
def harness(clock: SettableClock, config: ServiceConfig) -> Harness:
    # randbelow pinned to 0: every retry waits exactly half its backoff ceiling.
    return build_in_memory(clock=clock, config=config, randbelow=lambda n: 0)


@pytest.fixture
def services(harness: Harness) -> Services:
    return harness.services


@pytest.fixture
def kit(harness: Harness) -> Kit:
    return Kit(harness)


@pytest.fixture
def make_kit() -> type[Kit]:
    """``make_kit(harness)``: builders over a harness a test builds itself."""
    return Kit

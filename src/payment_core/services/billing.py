"""Billing records: appending to a booking's chain, queries and chain verification."""

from __future__ import annotations

from uuid import UUID

from payment_core.model.billing import (
    BillingRecord,
    BillingRecordType,
    ChainVerification,
    ChainVerifier,
)
from payment_core.money import Money
from payment_core.pagination import Page, PageRequest
from payment_core.ports import UnitOfWork
from payment_core.services._deps import Dependencies
from payment_core.services._reads import read

__all__ = ["BillingService", "append_record"]


async def append_record(
    deps: Dependencies,
    uow: UnitOfWork,
    *,
    type: BillingRecordType,
    booking_id: UUID,
    guest_id: UUID,
    amount: Money,
    description: str,
    payment_id: UUID | None = None,
    refund_id: UUID | None = None,
    invoice_id: UUID | None = None,
) -> BillingRecord:
    """Append a record to the booking's chain inside ``uow`` (same transaction as the change)."""
    head = await uow.billing.head(booking_id)
    record = BillingRecord.append_to(
        head,
        id=deps.ids.new_id(),
        type=type,
        booking_id=booking_id,
        guest_id=guest_id,
        amount=amount,
        description=description,
        created_at=deps.clock.now(),
        payment_id=payment_id,
        refund_id=refund_id,
        invoice_id=invoice_id,
    )
    await uow.billing.add(record)
    return record


class BillingService:
    """Read the audit trail and verify its hash chains."""

    def __init__(self, deps: Dependencies) -> None:
        self._deps = deps

    async def list_by_booking(self, booking_id: UUID, page: PageRequest) -> Page[BillingRecord]:
        return await read(self._deps, lambda uow: uow.billing.list_by_booking(booking_id, page))

    async def list_by_guest(self, guest_id: UUID, page: PageRequest) -> Page[BillingRecord]:
        return await read(self._deps, lambda uow: uow.billing.list_by_guest(guest_id, page))

    async def verify(self) -> ChainVerification:
        """Walk every chain; report the first broken record, if any."""
        verifier = ChainVerifier()
        async with self._deps.uow() as uow:
            async for record in uow.billing.stream_chains():
                if verifier.feed(record) is not None:
                    break
        return verifier.result()

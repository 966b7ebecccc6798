"""``/api/v1/billing``: the audit trail by booking and by guest, and its verification."""

from __future__ import annotations

from litestar import Controller, get

from payment_adapters.wire import billing_record_view
from payment_http.controllers._common import (
    AUTH,
    Cursor,
    Limit,
    PathId,
    ServicesDep,
    page,
    parse_id,
    problems,
)
from payment_http.schemas import BillingRecordList, VerifyView

__all__ = ["BillingController"]


class BillingController(Controller):
    path = "/api/v1/billing"
    tags = ["billing"]  # noqa: RUF012 - Litestar's layer attribute

    @get(
        "/booking/{booking_id:str}",
        summary="A booking's billing records (oldest first)",
        operation_id="listBookingBillingRecords",
        response_description="A page of the booking's billing records.",
        security=AUTH,
        responses=problems(401, 404, 422),
    )
    async def by_booking(
        self,
        booking_id: PathId,
        services: ServicesDep,
        limit: Limit = 50,
        cursor: Cursor = None,
    ) -> BillingRecordList:
        result = await services.billing.list_by_booking(
            parse_id(booking_id, "booking"), page(limit, cursor)
        )
        return BillingRecordList(
            items=[billing_record_view(r) for r in result.items], next_cursor=result.next_cursor
        )

    @get(
        "/guest/{guest_id:str}",
        summary="A guest's billing records (oldest first)",
        operation_id="listGuestBillingRecords",
        response_description="A page of the guest's billing records.",
        security=AUTH,
        responses=problems(401, 404, 422),
    )
    async def by_guest(
        self,
        guest_id: PathId,
        services: ServicesDep,
        limit: Limit = 50,
        cursor: Cursor = None,
    ) -> BillingRecordList:
        result = await services.billing.list_by_guest(
            parse_id(guest_id, "guest"), page(limit, cursor)
        )
        return BillingRecordList(
            items=[billing_record_view(r) for r in result.items], next_cursor=result.next_cursor
        )

    @get(
        "/verify",
        summary="Verify every booking's hash chain",
        operation_id="verifyBillingRecords",
        response_description="Whether every chain is intact, and how many records it checked.",
        description='`{"ok": true, "records": N}`, or `{"ok": false, ...}` naming the first '
        "broken record.",
        security=AUTH,
        responses=problems(401),
    )
    async def verify(self, services: ServicesDep) -> VerifyView:
        result = await services.billing.verify()
        return VerifyView(
            ok=result.ok,
            records=result.records,
            broken_record_id=result.broken_record_id,
            booking_id=result.booking_id,
            reason=result.reason,
        )

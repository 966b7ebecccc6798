"""``/api/v1/refunds``: create, read, process now, list by payment; read by reference."""

from __future__ import annotations

from typing import Any

from litestar import Controller, Request, get, post

from payment_adapters.wire import refund_safe_view, refund_view
from payment_core.errors import NotFoundError
from payment_core.ids import is_reference
from payment_http.body import body_of, json_body
from payment_http.controllers._common import (
    AUTH,
    PUBLIC,
    Cursor,
    IdempotencyKey,
    Limit,
    PathId,
    Reference,
    ServicesDep,
    page,
    parse_id,
    problems,
)
from payment_http.idempotency import request_key
from payment_http.schemas import (
    CreateRefundRequest,
    EmptyRequest,
    RefundList,
    RefundSafeView,
    RefundView,
)

__all__ = ["RefundController"]


class RefundController(Controller):
    path = "/api/v1/refunds"
    tags = ["refunds"]  # noqa: RUF012 - Litestar's layer attribute

    @post(
        "/",
        status_code=201,
        summary="Refund a completed payment",
        operation_id="createRefund",
        response_description="The refund, after its first attempt at the provider.",
        description="`amount` defaults to the whole refundable remainder. The first attempt at "
        "the provider is made at once; a failed attempt is retried in the background.",
        opt=json_body(CreateRefundRequest),
        security=AUTH,
        responses=problems(400, 401, 404, 409, 413, 415, 422),
    )
    async def create(
        self,
        request: Request[Any, Any, Any],
        services: ServicesDep,
        idempotency_key: IdempotencyKey = None,
    ) -> RefundView:
        body = body_of(request, CreateRefundRequest)
        refund = await services.refunds.create(
            body.payment_id,
            body.amount,
            body.reason,
            idempotency_key=request_key(request.scope),
        )
        return refund_view(refund)

    @get(
        "/{refund_id:str}",
        summary="Get a refund",
        operation_id="getRefund",
        response_description="The refund.",
        security=AUTH,
        responses=problems(401, 404),
    )
    async def get_refund(self, refund_id: PathId, services: ServicesDep) -> RefundView:
        return refund_view(await services.refunds.get(parse_id(refund_id, "refund")))

    @get(
        "/reference/{reference:str}",
        summary="Get a refund's safe view by its public reference (no key needed)",
        operation_id="getRefundByReference",
        response_description="What a guest may see of the refund.",
        opt=PUBLIC,
        responses=problems(404),
    )
    async def get_by_reference(self, reference: Reference, services: ServicesDep) -> RefundSafeView:
        if not is_reference(reference, "re"):
            raise NotFoundError(entity="refund", key="(reference)")
        refund = await services.refunds.get_by_reference(reference)
        return refund_safe_view(refund)

    @get(
        "/payment/{payment_id:str}",
        summary="List a payment's refunds (oldest first)",
        operation_id="listPaymentRefunds",
        response_description="A page of the payment's refunds.",
        security=AUTH,
        responses=problems(401, 404, 422),
    )
    async def list_by_payment(
        self,
        payment_id: PathId,
        services: ServicesDep,
        limit: Limit = 50,
        cursor: Cursor = None,
    ) -> RefundList:
        result = await services.refunds.list_by_payment(
            parse_id(payment_id, "payment"), page(limit, cursor)
        )
        return RefundList(
            items=[refund_view(r) for r in result.items], next_cursor=result.next_cursor
        )

    @post(
        "/{refund_id:str}/process",
        status_code=200,
        summary="Attempt a refund at the provider now",
        operation_id="processRefund",
        response_description="The refund after the attempt.",
        description="A `COMPLETED` (or in-flight) refund is returned as it is; a `FAILED` one "
        "gets 409.",
        opt=json_body(EmptyRequest, required=False),
        security=AUTH,
        responses=problems(400, 401, 404, 409, 413, 415, 422),
    )
    async def process(
        self,
        request: Request[Any, Any, Any],
        refund_id: PathId,
        services: ServicesDep,
        idempotency_key: IdempotencyKey = None,
    ) -> RefundView:
        refund = await services.refunds.process(
            parse_id(refund_id, "refund"), idempotency_key=request_key(request.scope)
        )
        return refund_view(refund)

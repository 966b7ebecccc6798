"""``/api/v1/payment-methods``: a guest's saved cards: read one, list a guest's, detach one.

A card is saved by the payment that asked for it (``setup_future_usage``) and charged by a
payment that names it (``payment_method_id``); the provider's token and customer id are never
shown.
"""

from __future__ import annotations

from litestar import Controller, delete, get

from payment_adapters.wire import payment_method_view
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
from payment_http.schemas import PaymentMethodList, PaymentMethodView

__all__ = ["PaymentMethodController"]


class PaymentMethodController(Controller):
    path = "/api/v1/payment-methods"
    tags = ["payment methods"]  # noqa: RUF012 - Litestar's layer attribute

    @get(
        "/{payment_method_id:str}",
        summary="Get a saved payment method",
        operation_id="getPaymentMethod",
        response_description="The saved payment method.",
        security=AUTH,
        responses=problems(401, 404),
    )
    async def get_payment_method(
        self, payment_method_id: PathId, services: ServicesDep
    ) -> PaymentMethodView:
        method = await services.payment_methods.get(parse_id(payment_method_id, "payment_method"))
        return payment_method_view(method)

    @get(
        "/guest/{guest_id:str}",
        summary="List a guest's saved payment methods (oldest first)",
        operation_id="listGuestPaymentMethods",
        response_description="A page of the guest's saved payment methods, active or detached.",
        security=AUTH,
        responses=problems(401, 404, 422),
    )
    async def list_by_guest(
        self,
        guest_id: PathId,
        services: ServicesDep,
        limit: Limit = 50,
        cursor: Cursor = None,
    ) -> PaymentMethodList:
        result = await services.payment_methods.list_by_guest(
            parse_id(guest_id, "guest"), page(limit, cursor)
        )
        return PaymentMethodList(
            items=[payment_method_view(m) for m in result.items], next_cursor=result.next_cursor
        )

    @delete(
        "/{payment_method_id:str}",
        status_code=200,
        summary="Detach a saved payment method",
        operation_id="detachPaymentMethod",
        response_description="The payment method, `DETACHED`.",
        description="Detached at the provider too; it is never charged again. Detaching it "
        "again returns it as it is. The provider unreachable: 503, nothing changed.",
        security=AUTH,
        responses=problems(401, 404),
    )
    async def detach(self, payment_method_id: PathId, services: ServicesDep) -> PaymentMethodView:
        method = await services.payment_methods.detach(
            parse_id(payment_method_id, "payment_method")
        )
        return payment_method_view(method)

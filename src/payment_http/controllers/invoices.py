"""``/api/v1/invoices``: drafts, edits and state moves (PATCH), reads by id, number, booking."""

from __future__ import annotations

from typing import Any, TypeVar

import msgspec
from litestar import Controller, Request, get, patch, post

from payment_adapters.wire import invoice_view
from payment_core.model.customer import Address, Customer
from payment_core.model.invoice import UNSET, LineItem
from payment_core.money import Currency
from payment_core.services import CreateInvoice, Services, UpdateInvoice
from payment_http.body import body_of, json_body
from payment_http.controllers._common import (
    AUTH,
    Cursor,
    IdempotencyKey,
    Limit,
    PathId,
    PathText,
    ServicesDep,
    page,
    parse_id,
    problems,
)
from payment_http.idempotency import request_key
from payment_http.schemas import (
    CreateInvoiceRequest,
    CustomerRequest,
    InvoiceList,
    InvoiceView,
    LineItemRequest,
    UpdateInvoiceRequest,
)

__all__ = ["InvoiceController"]

T = TypeVar("T")

_PAID_BY = (
    "`payment_id` must name a payment of the invoice's booking and currency (else 422 "
    "`invoice_payment_mismatch`). That payment pays the invoice as far as it holds the money "
    "(its amount less refunds and less what it paid other invoices) when the invoice is "
    "issued, when the payment completes and when the invoice is marked `PAID`; the invoice is "
    "`PAID` once `amount_paid` covers `total`, else it stays `OPEN` with the part paid."
)
_LINES_LIMIT = (
    " The lines may not add up to more than 99,999,999,999 minor units (422 "
    "`validation_error` naming the field)."
)


def _lines(items: list[LineItemRequest]) -> tuple[LineItem, ...]:
    return tuple(
        LineItem(
            description=item.description,
            quantity=item.quantity,
            unit_amount=item.unit_amount,
            tax_rate_bps=item.tax_rate_bps,
        )
        for item in items
    )


def _customer(body: CustomerRequest | None) -> Customer | None:
    """The core's customer (which checks what the schema cannot: e-mail shape, country)."""
    if body is None:
        return None
    address = body.address
    return Customer(
        name=body.name,
        email=body.email,
        tax_id=body.tax_id,
        address=None
        if address is None
        else Address(
            line1=address.line1,
            line2=address.line2,
            city=address.city,
            postal_code=address.postal_code,
            country=address.country,
        ),
    )


def _check_create(services: Services, body: Any) -> None:
    Currency.of(body.currency)
    _lines(body.line_items)
    _customer(body.customer)


def _check_update(services: Services, body: Any) -> None:
    if not isinstance(body.line_items, msgspec.UnsetType):
        _lines(body.line_items)
    if not isinstance(body.customer, msgspec.UnsetType):
        _customer(body.customer)


def _unset(value: T | msgspec.UnsetType) -> Any:
    """msgspec's UNSET (absent from the PATCH) as the core's UNSET."""
    return UNSET if isinstance(value, msgspec.UnsetType) else value


class InvoiceController(Controller):
    path = "/api/v1/invoices"
    tags = ["invoices"]  # noqa: RUF012 - Litestar's layer attribute

    @post(
        "/",
        status_code=201,
        summary="Create a draft invoice",
        description=_PAID_BY + _LINES_LIMIT,
        operation_id="createInvoice",
        response_description="The invoice, `DRAFT`.",
        opt=json_body(CreateInvoiceRequest, check=_check_create),
        security=AUTH,
        responses=problems(400, 401, 409, 413, 415, 422),
    )
    async def create(
        self,
        request: Request[Any, Any, Any],
        services: ServicesDep,
        idempotency_key: IdempotencyKey = None,
    ) -> InvoiceView:
        body = body_of(request, CreateInvoiceRequest)
        invoice = await services.invoices.create(
            CreateInvoice(
                booking_id=body.booking_id,
                guest_id=body.guest_id,
                currency=body.currency,
                line_items=_lines(body.line_items),
                due_date=body.due_date,
                payment_id=body.payment_id,
                notes=body.notes,
                customer=_customer(body.customer),
            ),
            idempotency_key=request_key(request.scope),
        )
        return invoice_view(invoice)

    @get(
        "/{invoice_id:str}",
        summary="Get an invoice",
        operation_id="getInvoice",
        response_description="The invoice.",
        security=AUTH,
        responses=problems(401, 404),
    )
    async def get_invoice(self, invoice_id: PathId, services: ServicesDep) -> InvoiceView:
        return invoice_view(await services.invoices.get(parse_id(invoice_id, "invoice")))

    @get(
        "/number/{number:str}",
        summary="Get an issued invoice by its number (INV-2026-000001)",
        operation_id="getInvoiceByNumber",
        response_description="The invoice.",
        security=AUTH,
        responses=problems(401, 404),
    )
    async def get_by_number(self, number: PathText, services: ServicesDep) -> InvoiceView:
        return invoice_view(await services.invoices.get_by_number(number))

    @get(
        "/booking/{booking_id:str}",
        summary="List a booking's invoices (oldest first)",
        operation_id="listBookingInvoices",
        response_description="A page of the booking's invoices.",
        security=AUTH,
        responses=problems(401, 404, 422),
    )
    async def list_by_booking(
        self,
        booking_id: PathId,
        services: ServicesDep,
        limit: Limit = 50,
        cursor: Cursor = None,
    ) -> InvoiceList:
        result = await services.invoices.list_by_booking(
            parse_id(booking_id, "booking"), page(limit, cursor)
        )
        return InvoiceList(
            items=[invoice_view(i) for i in result.items], next_cursor=result.next_cursor
        )

    @patch(
        "/{invoice_id:str}",
        summary="Edit a draft and/or move an invoice along its states",
        operation_id="updateInvoice",
        response_description="The invoice after the change.",
        description="`line_items`, `due_date`, `notes`, `payment_id` and `customer` change only "
        "in `DRAFT` "
        "(else 409 `invoice_not_editable`); `status` moves it: `DRAFT -> OPEN | VOID`, "
        "`OPEN -> PAID | VOID | UNCOLLECTIBLE`, `UNCOLLECTIBLE -> PAID` (else 409 "
        "`invalid_state_transition`). Issuing (`OPEN`) assigns the next gap-free number and needs "
        "at least one line. " + _PAID_BY + _LINES_LIMIT,
        opt=json_body(UpdateInvoiceRequest, check=_check_update),
        security=AUTH,
        responses=problems(400, 401, 404, 409, 413, 415, 422),
    )
    async def update(
        self,
        request: Request[Any, Any, Any],
        invoice_id: PathId,
        services: ServicesDep,
        idempotency_key: IdempotencyKey = None,
    ) -> InvoiceView:
        body = body_of(request, UpdateInvoiceRequest)
        ident = parse_id(invoice_id, "invoice")
        lines = None if isinstance(body.line_items, msgspec.UnsetType) else _lines(body.line_items)
        invoice = await services.invoices.update(
            ident,
            UpdateInvoice(
                line_items=lines,
                due_date=_unset(body.due_date),
                notes=_unset(body.notes),
                payment_id=_unset(body.payment_id),
                customer=UNSET
                if isinstance(body.customer, msgspec.UnsetType)
                else _customer(body.customer),
                status=None if isinstance(body.status, msgspec.UnsetType) else body.status,
            ),
        )
        return invoice_view(invoice)

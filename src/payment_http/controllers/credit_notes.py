"""Credit notes: issue one against an invoice, list an invoice's, read one."""

from __future__ import annotations

from typing import Any

from litestar import Controller, Request, get, post

from payment_adapters.wire import CreditNoteView, credit_note_view
from payment_core.model.credit_note import check_request
from payment_core.services import CreateCreditNote, Services
from payment_http.body import body_of, json_body
from payment_http.controllers._common import (
    AUTH,
    Cursor,
    IdempotencyKey,
    Limit,
    PathId,
    ServicesDep,
    page,
    parse_id,
    problems,
)
from payment_http.idempotency import request_key
from payment_http.schemas import CreateCreditNoteRequest, CreditNoteList

__all__ = ["CreditNoteController"]

_CREATE = (
    "For an `OPEN` or `PAID` invoice (else 409 `invalid_state_transition`). `amount` includes "
    "tax; the note's `tax` is the invoice's tax share of it, rounded half-even. All credit "
    "notes of an invoice never add up to more than its `total` (else 422 "
    "`credit_exceeds_invoice`). The note gets the next number of the gap-free yearly "
    "sequence `CN-2026-000001`. `refund_id`, when given, must name a `COMPLETED` refund of "
    "the invoice's payment, credited no further than its amount and once per invoice (else "
    "422 `validation_error`). A refund that completes for a payment with `PAID` invoices "
    "issues its credit notes by itself."
)


def _check_create(services: Services, body: Any) -> None:
    check_request(body.amount, body.reason, body.memo)


class CreditNoteController(Controller):
    path = "/api/v1"
    tags = ["credit notes"]  # noqa: RUF012 - Litestar's layer attribute

    @post(
        "/invoices/{invoice_id:str}/credit-notes",
        status_code=201,
        operation_id="createCreditNote",
        response_description="The credit note, numbered.",
        summary="Issue a credit note against an invoice",
        description=_CREATE,
        opt=json_body(CreateCreditNoteRequest, check=_check_create),
        security=AUTH,
        responses=problems(400, 401, 404, 409, 413, 415, 422),
    )
    async def create(
        self,
        request: Request[Any, Any, Any],
        invoice_id: PathId,
        services: ServicesDep,
        idempotency_key: IdempotencyKey = None,
    ) -> CreditNoteView:
        data = body_of(request, CreateCreditNoteRequest)
        note = await services.credit_notes.create(
            parse_id(invoice_id, "invoice"),
            CreateCreditNote(
                amount=data.amount, reason=data.reason, memo=data.memo, refund_id=data.refund_id
            ),
            idempotency_key=request_key(request.scope),
        )
        return credit_note_view(note)

    @get(
        "/invoices/{invoice_id:str}/credit-notes",
        operation_id="listInvoiceCreditNotes",
        response_description="A page of the invoice's credit notes.",
        summary="List an invoice's credit notes (oldest first)",
        security=AUTH,
        responses=problems(401, 404, 422),
    )
    async def list_by_invoice(
        self,
        invoice_id: PathId,
        services: ServicesDep,
        limit: Limit = 50,
        cursor: Cursor = None,
    ) -> CreditNoteList:
        result = await services.credit_notes.list_by_invoice(
            parse_id(invoice_id, "invoice"), page(limit, cursor)
        )
        return CreditNoteList(
            items=[credit_note_view(n) for n in result.items], next_cursor=result.next_cursor
        )

    @get(
        "/credit-notes/{credit_note_id:str}",
        operation_id="getCreditNote",
        response_description="The credit note.",
        summary="Get a credit note",
        security=AUTH,
        responses=problems(401, 404),
    )
    async def get_credit_note(
        self, credit_note_id: PathId, services: ServicesDep
    ) -> CreditNoteView:
        return credit_note_view(
            await services.credit_notes.get(parse_id(credit_note_id, "credit note"))
        )

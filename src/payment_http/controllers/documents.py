"""The PDFs: an invoice, a credit note, and a payment's public receipt.

Each is rendered from the same views the JSON endpoints serve, in a worker thread (drawing a
page is CPU work that would stall the event loop), and the bytes of a document are kept in
memory by its content (:func:`payment_adapters.documents.sources.render`): the same version
of a document is drawn once and served with the same bytes and the same ``ETag``.
"""

from __future__ import annotations

import hashlib
from typing import Any, Final

import anyio.to_thread
from litestar import Controller, Request, Response, get
from litestar.openapi.datastructures import ResponseSpec

from payment_adapters.documents import Party, seller_from_settings
from payment_adapters.documents.sources import (
    Document,
    load_credit_note_document,
    load_invoice_document,
    load_receipt_document,
    render,
)
from payment_core.errors import NotFoundError
from payment_core.ids import is_reference
from payment_http.controllers._common import (
    AUTH,
    PUBLIC,
    PathId,
    Reference,
    ServicesDep,
    parse_id,
    problems,
)

__all__ = ["DocumentController"]

PDF: Final = "application/pdf"
_PDF_RESPONSE: Final = ResponseSpec(
    data_container=bytes,
    description="The PDF (`application/pdf`). `ETag` names the document's version; "
    "`If-None-Match` with it answers `304`.",
    media_type=PDF,
    generate_examples=False,
)


def _seller(request: Request[Any, Any, Any]) -> Party:
    return seller_from_settings(request.app.state.runtime.settings)


def _filename(name: str) -> str:
    return "".join(c if c.isalnum() or c in "-_" else "-" for c in name)[:80] + ".pdf"


async def _pdf(request: Request[Any, Any, Any], document: Document, name: str) -> Response[bytes]:
    content = await anyio.to_thread.run_sync(render, document)
    etag = '"' + hashlib.sha256(content).hexdigest()[:32] + '"'
    headers = {
        "ETag": etag,
        # A document changes with its invoice or payment: keep it, but ask again each time.
        "Cache-Control": "private, no-cache",
        "Content-Disposition": f'inline; filename="{_filename(name)}"',
        "X-Content-Type-Options": "nosniff",
    }
    wanted = request.headers.get("if-none-match", "")
    if etag in (tag.strip() for tag in wanted.split(",")):
        return Response(content=b"", status_code=304, headers=headers, media_type=PDF)
    return Response(content=content, media_type=PDF, headers=headers)


class DocumentController(Controller):
    path = "/api/v1"
    tags = ["documents"]  # noqa: RUF012 - Litestar's layer attribute

    @get(
        "/invoices/{invoice_id:str}/pdf",
        operation_id="getInvoicePdf",
        summary="Get an invoice as PDF",
        description="Seller (`SELLER_*` settings), customer, number, dates, lines, tax by rate, "
        "totals, paid, credit notes, due, and a `DRAFT`, `PAID`, `VOID` or `UNCOLLECTIBLE` mark.",
        media_type=PDF,
        security=AUTH,
        responses={200: _PDF_RESPONSE, **problems(401, 404)},
    )
    async def invoice_pdf(
        self, request: Request[Any, Any, Any], invoice_id: PathId, services: ServicesDep
    ) -> Response[bytes]:
        document = await load_invoice_document(
            services, parse_id(invoice_id, "invoice"), _seller(request)
        )
        return await _pdf(request, document, document.number or f"invoice-draft-{invoice_id}")

    @get(
        "/credit-notes/{credit_note_id:str}/pdf",
        operation_id="getCreditNotePdf",
        summary="Get a credit note as PDF",
        media_type=PDF,
        security=AUTH,
        responses={200: _PDF_RESPONSE, **problems(401, 404)},
    )
    async def credit_note_pdf(
        self, request: Request[Any, Any, Any], credit_note_id: PathId, services: ServicesDep
    ) -> Response[bytes]:
        document = await load_credit_note_document(
            services, parse_id(credit_note_id, "credit note"), _seller(request)
        )
        return await _pdf(request, document, document.number)

    @get(
        "/payments/reference/{reference:str}/receipt",
        operation_id="getPaymentReceipt",
        summary="Get a completed payment's receipt as PDF, by its public reference (no key)",
        description="The merchant, the amount, the date, the card's brand and last four "
        "digits, the reference and the refunds so far; nothing else about the guest. Only a "
        "`COMPLETED` payment has a receipt (as Stripe makes receipts for successful payments "
        "only): any other reference is `404`, as an unknown one is.",
        media_type=PDF,
        opt=PUBLIC,
        responses={200: _PDF_RESPONSE, **problems(404)},
    )
    async def receipt(
        self, request: Request[Any, Any, Any], reference: Reference, services: ServicesDep
    ) -> Response[bytes]:
        if not is_reference(reference, "pay"):
            raise NotFoundError(entity="receipt", key="(reference)")
        document = await load_receipt_document(services, reference, _seller(request))
        return await _pdf(request, document, f"receipt-{document.reference}")

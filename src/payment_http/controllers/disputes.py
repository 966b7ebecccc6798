"""``/api/v1/disputes``: read disputes (one, a payment's, by status) and answer one with
evidence.

Disputes are opened and moved by the providers' webhooks only; what a client does is add
evidence (prefilled from what the service knows) and submit it once, before
``evidence_due_by``.
"""

from __future__ import annotations

from typing import Annotated, Any, Literal

from litestar import Controller, Request, get, post
from litestar.params import QueryParameter

from payment_adapters.wire import dispute_view
from payment_core.model.dispute import DisputeStatus
from payment_http._dispute_schemas import DisputeEvidenceRequest, DisputeList, DisputeView
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

__all__ = ["DisputeController"]

StatusFilter = Annotated[
    Literal["NEEDS_RESPONSE", "UNDER_REVIEW", "WON", "LOST"] | None,
    QueryParameter(description="Only disputes in this state (all when left out)."),
]


class DisputeController(Controller):
    path = "/api/v1/disputes"
    tags = ["disputes"]  # noqa: RUF012 - Litestar's layer attribute

    @get(
        "/",
        summary="List disputes (oldest first)",
        operation_id="listDisputes",
        response_description="A page of disputes; `?status=NEEDS_RESPONSE` lists those that "
        "need an answer.",
        security=AUTH,
        responses=problems(401, 422),
    )
    async def list_disputes(
        self,
        services: ServicesDep,
        status: StatusFilter = None,
        limit: Limit = 50,
        cursor: Cursor = None,
    ) -> DisputeList:
        wanted = None if status is None else DisputeStatus(status)
        result = await services.disputes.list(wanted, page(limit, cursor))
        return DisputeList(
            items=[dispute_view(d) for d in result.items], next_cursor=result.next_cursor
        )

    @get(
        "/{dispute_id:str}",
        summary="Get a dispute",
        operation_id="getDispute",
        response_description="The dispute.",
        security=AUTH,
        responses=problems(401, 404),
    )
    async def get_dispute(self, dispute_id: PathId, services: ServicesDep) -> DisputeView:
        return dispute_view(await services.disputes.get(parse_id(dispute_id, "dispute")))

    @get(
        "/payment/{payment_id:str}",
        summary="List a payment's disputes (oldest first)",
        operation_id="listPaymentDisputes",
        response_description="A page of the payment's disputes.",
        security=AUTH,
        responses=problems(401, 404, 422),
    )
    async def list_by_payment(
        self,
        payment_id: PathId,
        services: ServicesDep,
        limit: Limit = 50,
        cursor: Cursor = None,
    ) -> DisputeList:
        result = await services.disputes.list_by_payment(
            parse_id(payment_id, "payment"), page(limit, cursor)
        )
        return DisputeList(
            items=[dispute_view(d) for d in result.items], next_cursor=result.next_cursor
        )

    @post(
        "/{dispute_id:str}/evidence",
        status_code=200,
        summary="Add evidence to a dispute, and submit it",
        operation_id="addDisputeEvidence",
        response_description="The dispute with its evidence merged (`UNDER_REVIEW` once "
        "submitted).",
        description="The fields given are merged into the evidence (`null` removes one); "
        "with `submit: true` all of it goes to the provider, once, and the dispute is "
        "`UNDER_REVIEW`. After the submission, past `evidence_due_by`, or once the dispute is "
        "closed: 409 `dispute_evidence_closed`. A provider that cannot take evidence: 422 "
        "`not_supported_by_provider`.",
        opt=json_body(DisputeEvidenceRequest),
        security=AUTH,
        responses=problems(400, 401, 404, 409, 413, 415, 422),
    )
    async def add_evidence(
        self,
        dispute_id: PathId,
        request: Request[Any, Any, Any],
        services: ServicesDep,
        idempotency_key: IdempotencyKey = None,
    ) -> DisputeView:
        body = body_of(request, DisputeEvidenceRequest)
        dispute = await services.disputes.add_evidence(
            parse_id(dispute_id, "dispute"), body.evidence.fields(), submit=body.submit
        )
        return dispute_view(dispute)

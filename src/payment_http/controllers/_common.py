"""What every controller shares: id parsing, paging parameters, documented problem responses."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Annotated, Final
from uuid import UUID

from litestar.di import NamedDependency
from litestar.openapi.datastructures import ResponseSpec
from litestar.params import HeaderParameter, PathParameter, QueryParameter

from payment_core.errors import NotFoundError
from payment_core.pagination import DEFAULT_LIMIT, MAX_LIMIT, PageRequest
from payment_core.services import Services
from payment_http.auth import PUBLIC
from payment_http.errors import PROBLEM_JSON
from payment_http.schemas import CURSOR_PATTERN, IDEMPOTENCY_KEY_PATTERN, Problem

__all__ = [
    "AUTH",
    "PUBLIC",
    "Cursor",
    "IdempotencyKey",
    "Limit",
    "PathId",
    "PathText",
    "Reference",
    "ServicesDep",
    "page",
    "parse_id",
    "problems",
]

#: The security requirement of every operation that needs a key.
AUTH: Final[list[dict[str, list[str]]]] = [{"BearerAuth": []}]

_DESCRIPTIONS: Final[Mapping[int, str]] = {
    400: "Malformed JSON or a malformed header (`malformed_json`, `invalid_idempotency_key`), "
    "or a bad webhook signature (`invalid_signature`).",
    401: "Missing or wrong API key (`unauthorized`).",
    402: "Declined by the payment provider (`provider_declined`; a hold's increase: "
    "`card_declined`, and the hold stays as it was).",
    404: "Unknown resource, or a malformed id in the path (`not_found`).",
    409: "Illegal state transition (`invalid_state_transition`, `capture_in_progress`, "
    "`invoice_not_editable`, `invoice_has_credit_notes`, `payment_method_detached`, "
    "`payment_disputed`, `dispute_evidence_closed`), "
    "an idempotent request still in flight (`idempotency_request_in_progress`), or a "
    "concurrent modification (`concurrent_modification`).",
    413: "The body is over 64 KiB (`payload_too_large`).",
    415: "The body is not `application/json` (`unsupported_media_type`).",
    422: "Validation failed (`validation_error`, `invalid_amount`, `unknown_currency`, "
    "`raw_card_data_forbidden`, `refund_exceeds_refundable`, `capture_exceeds_authorized`, "
    "`payment_method_guest_mismatch`, `payment_method_required`, `not_supported_by_provider`, "
    "`credit_exceeds_invoice`, `idempotency_key_reused`, ...).",
    500: "An unexpected error (`internal_error`); no detail is given.",
    503: "A dependency is down and nothing was accepted (`service_unavailable`, "
    "`provider_unavailable`).",
}


def problems(*statuses: int) -> dict[int, ResponseSpec]:
    """Problem-document responses for ``statuses`` (plus 400, 500 and 503, which any call can
    get: a malformed header, a bug, a database outage)."""
    codes = sorted({*statuses, 400, 500, 503})
    return {
        status: ResponseSpec(
            data_container=Problem,
            description=_DESCRIPTIONS[status],
            media_type=PROBLEM_JSON,
            generate_examples=False,
        )
        for status in codes
    }


PathId = Annotated[
    str,
    PathParameter(
        description="A UUID. A malformed one answers 404 `not_found`, like an unknown one.",
        schema_extra={"format": "uuid"},
    ),
]
Reference = Annotated[
    str,
    PathParameter(description="A public reference (`pay_...`, `re_...`); unknown: 404."),
]
PathText = Annotated[str, PathParameter()]
#: The use cases, injected by name.
ServicesDep = NamedDependency[Services]
Limit = Annotated[
    int,
    QueryParameter(
        ge=1, le=MAX_LIMIT, description=f"Page size, 1-{MAX_LIMIT} (default {DEFAULT_LIMIT})."
    ),
]
Cursor = Annotated[
    str | None,
    QueryParameter(
        max_length=200,
        pattern=CURSOR_PATTERN,
        description="The `next_cursor` of the previous page, as it was returned; omit it for the "
        "first page. A cursor the API did not return is 422 `validation_error`.",
    ),
]
IdempotencyKey = Annotated[
    str | None,
    HeaderParameter(
        name="Idempotency-Key",
        required=False,
        min_length=1,
        max_length=255,
        pattern=IDEMPOTENCY_KEY_PATTERN,
        description="1-255 printable ASCII characters (else 400 `invalid_idempotency_key`), "
        "unique per request you mean: a repeat with the same request replays its first response "
        "(`Idempotent-Replayed: true`); with another request it is 422 `idempotency_key_reused`.",
    ),
]


def parse_id(value: str, entity: str) -> UUID:
    """A path id as a UUID; a malformed one is as unknown as a missing one (404)."""
    try:
        ident = UUID(value) if len(value) <= 64 else None
    except ValueError:
        ident = None
    if ident is None:
        raise NotFoundError(entity=entity, key="(malformed id)")
    return ident


def page(limit: int, cursor: str | None) -> PageRequest:
    return PageRequest.parse(limit=limit, cursor=cursor)

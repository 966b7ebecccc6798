"""Errors as RFC 9457 problem details, mapped from domain errors in one table.

Every error body is ``application/problem+json`` with ``type``, ``title``, ``status``,
``detail`` and a stable ``code`` (the domain error's ``code``); validation problems add
``errors: [{"field", "reason"}]``. Nothing internal reaches a body: an unexpected exception is a
500 with a generic detail, a database outage a 503 with a generic detail, and every detail passes
through :func:`payment_http.logging.redact` so not even an echoed path segment can carry a card
number out.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping, Sequence
from typing import Any, Final

import attrs
import msgspec
from litestar import Request, Response
from litestar.exceptions import (
    HTTPException,
    MethodNotAllowedException,
    NotFoundException,
    ValidationException,
)

from payment_core.errors import (
    ConcurrencyError,
    CreditExceedsInvoiceError,
    CurrencyMismatchError,
    IdempotencyKeyReusedError,
    IdempotencyRequestInProgressError,
    InvalidAmountError,
    InvalidTransitionError,
    InvoiceCreditedError,
    InvoiceNotEditableError,
    InvoicePaymentMismatchError,
    MalformedBodyError,
    NotFoundError,
    PaymentError,
    ProviderDeclinedError,
    ProviderError,
    ProviderRejectedError,
    ProviderUnavailableError,
    RawCardDataError,
    RefundExceedsRefundableError,
    UnknownCurrencyError,
    UnknownProviderError,
    ValidationError,
    WebhookSignatureError,
)
from payment_http.logging import error_location, redact

__all__ = [
    "DOMAIN_ERRORS",
    "PROBLEM_JSON",
    "HttpProblem",
    "exception_handlers",
    "is_database_unavailable",
    "problem_body",
    "problem_type",
]

logger = logging.getLogger(__name__)

PROBLEM_JSON: Final = "application/problem+json"
_TYPE_PREFIX: Final = "urn:payment-service:problem:"


@attrs.frozen(slots=True)
class _Mapping:
    status: int
    title: str


#: THE table: each domain error's HTTP status and title. Its ``code`` is the error class's own
#: stable ``code``. The most specific class wins (the lookup walks the MRO).
DOMAIN_ERRORS: Final[Mapping[type[PaymentError], _Mapping]] = {
    InvalidTransitionError: _Mapping(409, "Invalid state transition"),
    InvoiceNotEditableError: _Mapping(409, "Invoice not editable"),
    InvoicePaymentMismatchError: _Mapping(422, "Payment of another booking or currency"),
    InvoiceCreditedError: _Mapping(409, "Invoice has credit notes"),
    CreditExceedsInvoiceError: _Mapping(422, "Credit exceeds the invoice"),
    NotFoundError: _Mapping(404, "Not found"),
    RefundExceedsRefundableError: _Mapping(422, "Refund exceeds the refundable amount"),
    MalformedBodyError: _Mapping(400, "Malformed JSON"),
    ValidationError: _Mapping(422, "Validation failed"),
    InvalidAmountError: _Mapping(422, "Invalid amount"),
    UnknownCurrencyError: _Mapping(422, "Unknown currency"),
    CurrencyMismatchError: _Mapping(422, "Currency mismatch"),
    RawCardDataError: _Mapping(422, "Raw card data forbidden"),
    IdempotencyKeyReusedError: _Mapping(422, "Idempotency key reused"),
    IdempotencyRequestInProgressError: _Mapping(409, "Idempotent request in progress"),
    ConcurrencyError: _Mapping(409, "Concurrent modification"),
    WebhookSignatureError: _Mapping(400, "Invalid signature"),
    UnknownProviderError: _Mapping(422, "Unknown payment provider"),
    # Outcome unknown at create: nothing was accepted, the client may retry with the same key.
    ProviderUnavailableError: _Mapping(503, "Payment provider unavailable"),
    # The provider refused the request itself (not a card decline, which is an outcome):
    # the request is what is wrong, so 422 rather than 402.
    ProviderRejectedError: _Mapping(422, "Rejected by the payment provider"),
    ProviderDeclinedError: _Mapping(402, "Declined by the payment provider"),
    ProviderError: _Mapping(502, "Payment provider error"),
    PaymentError: _Mapping(422, "Request failed"),
}

#: Litestar's own HTTP exceptions (routing, methods) by status: code and title.
_HTTP_CODES: Final[Mapping[int, tuple[str, str]]] = {
    400: ("bad_request", "Bad request"),
    401: ("unauthorized", "Unauthorized"),
    403: ("forbidden", "Forbidden"),
    404: ("not_found", "Not found"),
    405: ("method_not_allowed", "Method not allowed"),
    406: ("not_acceptable", "Not acceptable"),
    413: ("payload_too_large", "Payload too large"),
    415: ("unsupported_media_type", "Unsupported media type"),
    422: ("validation_error", "Validation failed"),
    429: ("rate_limited", "Too many requests"),
    500: ("internal_error", "Internal server error"),
    503: ("service_unavailable", "Service unavailable"),
}


#: Titles of the codes the HTTP layer raises itself, and of every domain error's code.
_TITLES: Final[Mapping[str, str]] = {
    "malformed_json": "Malformed JSON",
    "invalid_idempotency_key": "Invalid Idempotency-Key",
    **{cls.code: mapping.title for cls, mapping in DOMAIN_ERRORS.items()},
    **dict(_HTTP_CODES.values()),
}


def problem_type(code: str) -> str:
    """The ``type`` URI of a problem: a URN per stable code (listed in docs/api.md)."""
    return _TYPE_PREFIX + code


class HttpProblem(Exception):  # noqa: N818 - it is a problem document, raised
    """A problem raised by the HTTP layer itself (transport, headers, request validation)."""

    def __init__(
        self,
        status: int,
        code: str,
        detail: str,
        *,
        title: str | None = None,
        errors: Sequence[tuple[str, str]] = (),
        headers: Mapping[str, str] | None = None,
    ) -> None:
        super().__init__(detail)
        self.status = status
        self.code = code
        self.detail = detail
        self.title = title or _TITLES.get(code) or _HTTP_CODES.get(status, ("", "Error"))[1]
        self.errors = tuple(errors)
        self.headers = dict(headers or {})


def problem_body(
    status: int,
    code: str,
    title: str,
    detail: str,
    *,
    errors: Sequence[tuple[str, str]] = (),
    request_id: str | None = None,
    extra: Mapping[str, Any] | None = None,
) -> bytes:
    """The encoded problem document (details are redacted of anything card-like)."""
    body: dict[str, Any] = {
        "type": problem_type(code),
        "title": title,
        "status": status,
        "detail": redact(detail),
        "code": code,
    }
    if errors:
        body["errors"] = [
            {"field": redact(field), "reason": redact(reason)} for field, reason in errors
        ]
    if extra:
        body.update(extra)
    if request_id:
        body["request_id"] = request_id
    return msgspec.json.encode(body)


def _request_id(request: Request[Any, Any, Any]) -> str | None:
    value = request.scope.get("state", {}).get("request_id")
    return value if isinstance(value, str) else None


def _response(
    request: Request[Any, Any, Any],
    status: int,
    code: str,
    title: str,
    detail: str,
    *,
    errors: Sequence[tuple[str, str]] = (),
    headers: Mapping[str, str] | None = None,
) -> Response[bytes]:
    return Response(
        content=problem_body(
            status, code, title, detail, errors=errors, request_id=_request_id(request)
        ),
        status_code=status,
        media_type=PROBLEM_JSON,
        headers=dict(headers or {}),
    )


def _lookup(exc: PaymentError) -> _Mapping:
    for cls in type(exc).__mro__:
        mapping = DOMAIN_ERRORS.get(cls)
        if mapping is not None:
            return mapping
    return DOMAIN_ERRORS[PaymentError]


def _field_errors(exc: PaymentError) -> tuple[tuple[str, str], ...]:
    if isinstance(exc, ValidationError):
        return ((exc.field, exc.reason),)
    if isinstance(exc, InvalidAmountError):
        return (("amount", exc.reason),)
    if isinstance(exc, UnknownCurrencyError):
        return (("currency", "not an ISO 4217 currency with a minor unit"),)
    if isinstance(exc, RawCardDataError):
        return ((exc.field, "raw card data is forbidden"),)
    return ()


def domain_error_handler(request: Request[Any, Any, Any], exc: Exception) -> Response[bytes]:
    assert isinstance(exc, PaymentError)
    mapping = _lookup(exc)
    headers: dict[str, str] = {}
    if isinstance(exc, ProviderUnavailableError) and exc.retry_after_seconds:
        headers["Retry-After"] = str(exc.retry_after_seconds)
    if mapping.status >= 500:
        logger.warning("request failed: %s (%s)", exc.code, exc.describe())
    return _response(
        request,
        mapping.status,
        exc.code,
        mapping.title,
        exc.describe(),
        errors=_field_errors(exc),
        headers=headers,
    )


def http_problem_handler(request: Request[Any, Any, Any], exc: Exception) -> Response[bytes]:
    assert isinstance(exc, HttpProblem)
    return _response(
        request,
        exc.status,
        exc.code,
        exc.title,
        exc.detail,
        errors=exc.errors,
        headers=exc.headers,
    )


#: One reason for a parameter however it fails (a cursor out of the published format says
#: what the decoder says of any cursor the API did not issue).
_PARAMETER_REASONS: Final = {"cursor": "not a cursor this API returned"}


def _validation_errors(exc: ValidationException) -> tuple[tuple[str, str], ...]:
    extra = exc.extra if isinstance(exc.extra, list) else []
    errors = []
    for item in extra:
        if isinstance(item, Mapping):
            key = str(item.get("key", "request"))
            errors.append((key, _PARAMETER_REASONS.get(key, str(item.get("message", "invalid")))))
    return tuple(errors)


def litestar_error_handler(request: Request[Any, Any, Any], exc: Exception) -> Response[bytes]:
    """Litestar's own exceptions (routing, method, parameter validation) as problems."""
    assert isinstance(exc, HTTPException)
    if isinstance(exc, ValidationException):
        # A query, path or header parameter out of its declared range: a validation failure.
        errors = _validation_errors(exc)
        detail = "; ".join(f"{f}: {r}" for f, r in errors) or "the request is invalid"
        return _response(
            request, 422, "validation_error", "Validation failed", detail, errors=errors
        )
    status = exc.status_code
    if isinstance(exc, NotFoundException):
        detail = "no such resource"
    elif isinstance(exc, MethodNotAllowedException):
        detail = f"{request.method} is not allowed here"
    elif status >= 500:
        detail = "the request could not be handled"
    else:
        detail = str(exc.detail) if exc.detail else _HTTP_CODES.get(status, ("", "Error"))[1]
    code, title = _HTTP_CODES.get(status, (f"http_{status}", "Error"))
    headers = {k: v for k, v in (exc.headers or {}).items() if k.lower() == "allow"}
    return _response(request, status, code, title, detail, headers=headers)


def is_database_unavailable(exc: BaseException) -> bool:
    """Whether ``exc`` says the database (or its pool) cannot be reached right now."""
    try:
        from sqlalchemy import exc as sa_exc  # noqa: PLC0415 - optional at import time
    except ImportError:  # pragma: no cover - the http extra installs it
        sa_types: tuple[type[BaseException], ...] = ()
    else:
        sa_types = (
            sa_exc.OperationalError,
            sa_exc.InterfaceError,
            sa_exc.DisconnectionError,
            sa_exc.TimeoutError,
        )
        if isinstance(exc, sa_exc.DBAPIError) and exc.connection_invalidated:
            return True
    if isinstance(exc, sa_types):
        return True
    if isinstance(exc, ConnectionError | TimeoutError):
        return True
    module = type(exc).__module__
    return module.startswith("asyncpg") and "Connection" in type(exc).__name__


def unexpected_error_handler(request: Request[Any, Any, Any], exc: Exception) -> Response[bytes]:
    """Anything else: a 503 when the database is down, else a 500; never the exception's text."""
    if is_database_unavailable(exc):
        logger.error("database unavailable: %s at %s", type(exc).__name__, error_location(exc))
        return _response(
            request,
            503,
            "service_unavailable",
            "Service unavailable",
            "the database is unavailable; the request was not accepted",
            headers={"Retry-After": "1"},
        )
    logger.error("unhandled error: %s at %s", type(exc).__name__, error_location(exc))
    return _response(
        request,
        500,
        "internal_error",
        "Internal server error",
        "an unexpected error occurred; quote the request id when reporting it",
    )


def exception_handlers() -> dict[type[Exception] | int, Any]:
    """The handlers to give Litestar: every error becomes a problem document."""
    return {
        PaymentError: domain_error_handler,
        HttpProblem: http_problem_handler,
        HTTPException: litestar_error_handler,
        Exception: unexpected_error_handler,
    }

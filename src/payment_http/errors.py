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
from litestar.types import ExceptionHandler

from payment_core.errors import (
    CaptureExceedsAuthorizedError,
    CaptureInProgressError,
    CardDeclinedError,
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
    NotSupportedByProviderError,
    PaymentError,
    PaymentMethodDetachedError,
    PaymentMethodGuestMismatchError,
    PaymentMethodRequiredError,
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
from payment_http._dispute_errors import DISPUTE_ERRORS
from payment_http.context import request_id
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
#: stable ``code``. Each row is one Litestar exception handler (:func:`exception_handlers`), so
#: the most specific class in an error's MRO wins.
DOMAIN_ERRORS: Final[Mapping[type[PaymentError], _Mapping]] = {
    InvalidTransitionError: _Mapping(409, "Invalid state transition"),
    CaptureInProgressError: _Mapping(409, "Capture in progress"),
    CaptureExceedsAuthorizedError: _Mapping(422, "Capture exceeds the authorized amount"),
    PaymentMethodGuestMismatchError: _Mapping(422, "Payment method of another guest"),
    PaymentMethodRequiredError: _Mapping(422, "Saved payment method required"),
    PaymentMethodDetachedError: _Mapping(409, "Payment method detached"),
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
    NotSupportedByProviderError: _Mapping(422, "Not supported by the payment provider"),
    ProviderDeclinedError: _Mapping(402, "Declined by the payment provider"),
    CardDeclinedError: _Mapping(402, "Card declined"),
    ProviderError: _Mapping(502, "Payment provider error"),
    PaymentError: _Mapping(422, "Request failed"),
    **{cls: _Mapping(*row) for cls, row in DISPUTE_ERRORS.items()},
}

#: The HTTP layer's own codes (transport, routing, headers) and their titles.
_HTTP_TITLES: Final[Mapping[str, str]] = {
    "bad_request": "Bad request",
    "unauthorized": "Unauthorized",
    "forbidden": "Forbidden",
    "method_not_allowed": "Method not allowed",
    "not_acceptable": "Not acceptable",
    "payload_too_large": "Payload too large",
    "unsupported_media_type": "Unsupported media type",
    "invalid_idempotency_key": "Invalid Idempotency-Key",
    "rate_limited": "Too many requests",
    "internal_error": "Internal server error",
    "service_unavailable": "Service unavailable",
}
#: Every code's title: the HTTP layer's and each domain error's (from the table).
_TITLES: Final[Mapping[str, str]] = {
    **{cls.code: mapping.title for cls, mapping in DOMAIN_ERRORS.items()},
    **_HTTP_TITLES,
}
#: The status of each domain error's code, for problems the HTTP layer finds itself (a body
#: that fails validation is refused as the domain would refuse it).
_DOMAIN_STATUS: Final[Mapping[str, int]] = {
    cls.code: mapping.status for cls, mapping in DOMAIN_ERRORS.items()
}
#: Litestar's own HTTP exceptions (routing, methods) by status: their code.
_HTTP_CODES: Final[Mapping[int, str]] = {
    400: "bad_request",
    401: "unauthorized",
    403: "forbidden",
    404: NotFoundError.code,
    405: "method_not_allowed",
    406: "not_acceptable",
    413: "payload_too_large",
    415: "unsupported_media_type",
    422: ValidationError.code,
    429: "rate_limited",
    500: "internal_error",
    503: "service_unavailable",
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
        self.title = title or _title(code, status)
        self.errors = tuple(errors)
        self.headers = dict(headers or {})

    @classmethod
    def refused(
        cls, code: str, detail: str, *, errors: Sequence[tuple[str, str]] = ()
    ) -> HttpProblem:
        """A request refused for a domain error's ``code``, with that error's status and title
        (:data:`DOMAIN_ERRORS`), for what the HTTP layer checks itself (a body's shape)."""
        return cls(_DOMAIN_STATUS[code], code, detail, errors=errors)


def _title(code: str, status: int) -> str:
    return _TITLES.get(code) or _TITLES.get(_HTTP_CODES.get(status, ""), "Error")


def problem_body(
    status: int,
    code: str,
    detail: str,
    *,
    title: str | None = None,
    errors: Sequence[tuple[str, str]] = (),
    request_id: str | None = None,
    extra: Mapping[str, Any] | None = None,
) -> bytes:
    """The encoded problem document (details are redacted of anything card-like); its title is
    the code's unless given."""
    body: dict[str, Any] = {
        "type": problem_type(code),
        "title": title or _title(code, status),
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


def _response(
    request: Request[Any, Any, Any],
    status: int,
    code: str,
    detail: str,
    *,
    title: str | None = None,
    errors: Sequence[tuple[str, str]] = (),
    headers: Mapping[str, str] | None = None,
) -> Response[bytes]:
    return Response(
        content=problem_body(
            status,
            code,
            detail,
            title=title,
            errors=errors,
            request_id=request_id(request.scope),
        ),
        status_code=status,
        media_type=PROBLEM_JSON,
        headers=dict(headers or {}),
    )


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


def _domain_error_handler(mapping: _Mapping) -> ExceptionHandler[Any]:
    """The handler of one row of :data:`DOMAIN_ERRORS` (Litestar picks the row of the most
    specific class in the error's MRO)."""

    def handle(request: Request[Any, Any, Any], exc: Exception) -> Response[bytes]:
        assert isinstance(exc, PaymentError)
        headers: dict[str, str] = {}
        if isinstance(exc, ProviderUnavailableError) and exc.retry_after_seconds:
            headers["Retry-After"] = str(exc.retry_after_seconds)
        if mapping.status >= 500:
            logger.warning("request failed: %s (%s)", exc.code, exc.describe())
        return _response(
            request,
            mapping.status,
            exc.code,
            exc.describe(),
            title=mapping.title,
            errors=_field_errors(exc),
            headers=headers,
        )

    return handle


def http_problem_handler(request: Request[Any, Any, Any], exc: Exception) -> Response[bytes]:
    assert isinstance(exc, HttpProblem)
    return _response(
        request,
        exc.status,
        exc.code,
        exc.detail,
        title=exc.title,
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
        return _response(request, 422, ValidationError.code, detail, errors=errors)
    status = exc.status_code
    code = _HTTP_CODES.get(status, f"http_{status}")
    if isinstance(exc, NotFoundException):
        detail = "no such resource"
    elif isinstance(exc, MethodNotAllowedException):
        detail = f"{request.method} is not allowed here"
    elif status >= 500:
        detail = "the request could not be handled"
    else:
        detail = str(exc.detail) if exc.detail else _title(code, status)
    headers = {k: v for k, v in (exc.headers or {}).items() if k.lower() == "allow"}
    return _response(request, status, code, detail, headers=headers)


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
            "the database is unavailable; the request was not accepted",
            headers={"Retry-After": "1"},
        )
    logger.error("unhandled error: %s at %s", type(exc).__name__, error_location(exc))
    return _response(
        request,
        500,
        "internal_error",
        "an unexpected error occurred; quote the request id when reporting it",
    )


def exception_handlers() -> dict[type[Exception] | int, ExceptionHandler[Any]]:
    """The handlers to give Litestar: every error becomes a problem document, each domain error
    as its row of :data:`DOMAIN_ERRORS` says."""
    return {
        **{cls: _domain_error_handler(mapping) for cls, mapping in DOMAIN_ERRORS.items()},
        HttpProblem: http_problem_handler,
        HTTPException: litestar_error_handler,
        Exception: unexpected_error_handler,
    }

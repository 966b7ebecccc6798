"""``/api/v1/payments``: create, read, confirm, cancel (or release), capture, increase a hold,
list by booking; read by reference."""

from __future__ import annotations

from typing import Any

from litestar import Controller, Request, get, post

from payment_adapters.wire import payment_safe_view, payment_view
from payment_core.errors import NotFoundError
from payment_core.ids import is_reference
from payment_core.money import Currency
from payment_core.services import CreatePayment, Services
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
    CapturePaymentRequest,
    ConfirmPaymentRequest,
    CreatePaymentRequest,
    EmptyRequest,
    IncrementAuthorizationRequest,
    PaymentList,
    PaymentSafeView,
    PaymentView,
)

__all__ = ["PaymentController"]


def _command(body: CreatePaymentRequest) -> CreatePayment:
    return CreatePayment(
        booking_id=body.booking_id,
        guest_id=body.guest_id,
        amount=body.amount,
        currency=body.currency,
        provider=body.provider,
        payment_method=body.payment_method,
        description=body.description,
        metadata=dict(body.metadata or {}),
        capture_method=body.capture_method,
        setup_future_usage=body.setup_future_usage,
        payment_method_id=body.payment_method_id,
        off_session=body.off_session,
        confirm=body.confirm,
    )


def _check_create(services: Services, body: Any) -> None:
    """What the body's schema cannot say, refused before the idempotency key is claimed.

    (Shape, lengths, ranges and card data were checked while decoding; the use case checks
    everything again itself.)
    """
    Currency.of(body.currency)
    services.deps.providers.get(body.provider or services.deps.config.default_provider)


class PaymentController(Controller):
    path = "/api/v1/payments"
    tags = ["payments"]  # noqa: RUF012 - Litestar's layer attribute

    @post(
        "/",
        status_code=201,
        summary="Create a payment",
        operation_id="createPayment",
        response_description="The payment, `PENDING` (with `confirm`: as the provider left it).",
        description="A `PENDING` payment, set up at the provider (nothing is charged yet). "
        "With `confirm: true` it is confirmed at once. `capture_method: manual` holds the money "
        "at confirm (`AUTHORIZED`) for a later capture; `setup_future_usage: off_session` saves "
        "the card once the payment succeeds (`payment_method_id` names it); "
        "`payment_method_id` with `off_session: true` charges a saved card without the guest "
        "(an issuer that wants the guest makes it `FAILED` with "
        "`failure_code=authentication_required`).",
        opt=json_body(CreatePaymentRequest, check=_check_create),
        security=AUTH,
        responses=problems(400, 401, 409, 413, 415, 422),
    )
    async def create(
        self,
        request: Request[Any, Any, Any],
        services: ServicesDep,
        idempotency_key: IdempotencyKey = None,
    ) -> PaymentView:
        body = body_of(request, CreatePaymentRequest)
        payment = await services.payments.create(
            _command(body), idempotency_key=request_key(request.scope)
        )
        return payment_view(payment)

    @get(
        "/{payment_id:str}",
        summary="Get a payment",
        operation_id="getPayment",
        response_description="The payment.",
        security=AUTH,
        responses=problems(401, 404),
    )
    async def get_payment(self, payment_id: PathId, services: ServicesDep) -> PaymentView:
        payment, disputed = await services.disputes.payment(parse_id(payment_id, "payment"))
        return payment_view(payment, amount_disputed=disputed)

    @get(
        "/reference/{reference:str}",
        summary="Get a payment's safe view by its public reference (no key needed)",
        operation_id="getPaymentByReference",
        response_description="What a guest may see of the payment.",
        opt=PUBLIC,
        responses=problems(404),
    )
    async def get_by_reference(
        self, reference: Reference, services: ServicesDep
    ) -> PaymentSafeView:
        if not is_reference(reference, "pay"):
            raise NotFoundError(entity="payment", key="(reference)")
        payment = await services.payments.get_by_reference(reference)
        return payment_safe_view(payment)

    @post(
        "/{payment_id:str}/confirm",
        status_code=200,
        summary="Confirm a payment",
        operation_id="confirmPayment",
        response_description="The payment as the provider left it.",
        description="`PENDING -> PROCESSING`, then the provider decides: the response shows "
        "`COMPLETED`, `FAILED` (with `failure_code`) or still `PROCESSING` (3-D Secure: "
        "`next_action`; an unknown outcome: settled later by webhook or reconciliation). "
        "With `verification_token` (Square), a `PROCESSING` payment waiting for the buyer "
        "is confirmed again with the buyer's proof of verification.",
        opt=json_body(ConfirmPaymentRequest, required=False),
        security=AUTH,
        responses=problems(400, 401, 404, 409, 413, 415, 422),
    )
    async def confirm(
        self,
        request: Request[Any, Any, Any],
        payment_id: PathId,
        services: ServicesDep,
        idempotency_key: IdempotencyKey = None,
    ) -> PaymentView:
        body = body_of(request, ConfirmPaymentRequest)
        ident = parse_id(payment_id, "payment")
        payment = await services.payments.confirm(
            ident,
            body.payment_method,
            body.verification_token,
            idempotency_key=request_key(request.scope),
        )
        return payment_view(payment)

    @post(
        "/{payment_id:str}/cancel",
        status_code=200,
        summary="Cancel a pending payment, or release a hold",
        operation_id="cancelPayment",
        response_description="The payment, `CANCELLED`.",
        description="`PENDING -> CANCELLED`, or `AUTHORIZED -> CANCELLED`: the hold is "
        "released (not while a capture is in flight: 409 `capture_in_progress`).",
        opt=json_body(EmptyRequest, required=False),
        security=AUTH,
        responses=problems(400, 401, 404, 409, 413, 415, 422),
    )
    async def cancel(
        self,
        request: Request[Any, Any, Any],
        payment_id: PathId,
        services: ServicesDep,
        idempotency_key: IdempotencyKey = None,
    ) -> PaymentView:
        payment = await services.payments.cancel(
            parse_id(payment_id, "payment"), idempotency_key=request_key(request.scope)
        )
        return payment_view(payment)

    @post(
        "/{payment_id:str}/capture",
        status_code=200,
        summary="Capture a hold (all of it, or part)",
        operation_id="capturePayment",
        response_description="The payment, `COMPLETED` with `amount_captured` (a capture whose "
        "outcome is unknown: still `AUTHORIZED` with `amount_capture_pending`).",
        description="`AUTHORIZED -> COMPLETED`: takes `amount` (default: all of "
        "`amount_capturable`) and releases the rest of the hold. In another state 409 "
        "`invalid_state_transition` (a capture in flight: `capture_in_progress`); more than "
        "`amount_capturable` 422 `capture_exceeds_authorized`; a partial capture its provider "
        "cannot make 422 `not_supported_by_provider`.",
        opt=json_body(CapturePaymentRequest, required=False),
        security=AUTH,
        responses=problems(400, 401, 402, 404, 409, 413, 415, 422),
    )
    async def capture(
        self,
        request: Request[Any, Any, Any],
        payment_id: PathId,
        services: ServicesDep,
        idempotency_key: IdempotencyKey = None,
    ) -> PaymentView:
        body = body_of(request, CapturePaymentRequest)
        payment = await services.payments.capture(
            parse_id(payment_id, "payment"),
            body.amount,
            idempotency_key=request_key(request.scope),
        )
        return payment_view(payment)

    @post(
        "/{payment_id:str}/increment_authorization",
        status_code=200,
        summary="Raise a hold's amount",
        operation_id="incrementAuthorization",
        response_description="The payment, `AUTHORIZED`, with its new `amount` and "
        "`amount_capturable`.",
        description="`AUTHORIZED` only (else 409 `invalid_state_transition`); `amount` is the "
        "new total, larger than the payment's (else 422 `validation_error`). Declined by the "
        "issuer: 402 `card_declined`, and the hold stays as it was.",
        opt=json_body(IncrementAuthorizationRequest),
        security=AUTH,
        responses=problems(400, 401, 402, 404, 409, 413, 415, 422),
    )
    async def increment_authorization(
        self,
        request: Request[Any, Any, Any],
        payment_id: PathId,
        services: ServicesDep,
        idempotency_key: IdempotencyKey = None,
    ) -> PaymentView:
        body = body_of(request, IncrementAuthorizationRequest)
        payment = await services.payments.increment_authorization(
            parse_id(payment_id, "payment"),
            body.amount,
            idempotency_key=request_key(request.scope),
        )
        return payment_view(payment)

    @get(
        "/booking/{booking_id:str}",
        summary="List a booking's payments (oldest first)",
        operation_id="listBookingPayments",
        response_description="A page of the booking's payments.",
        security=AUTH,
        responses=problems(401, 404, 422),
    )
    async def list_by_booking(
        self,
        booking_id: PathId,
        services: ServicesDep,
        limit: Limit = 50,
        cursor: Cursor = None,
    ) -> PaymentList:
        result, disputed = await services.disputes.booking_payments(
            parse_id(booking_id, "booking"), page(limit, cursor)
        )
        return PaymentList(
            items=[payment_view(p, amount_disputed=disputed[p.id]) for p in result.items],
            next_cursor=result.next_cursor,
        )

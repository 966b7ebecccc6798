"""``/api/v1/payment-plans``: create a plan (its deposit charged at once), read one, list a
booking's, pay an installment now, cancel by the plan's policy, record a no-show."""

from __future__ import annotations

from typing import Any

from litestar import Controller, Request, get, post

from payment_adapters.wire.payment_plans import payment_plan_view
from payment_core.services import CreatePaymentPlan, Policy, Services, Tier
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
from payment_http.plan_schemas import (
    CancelPlanRequest,
    CreatePaymentPlanRequest,
    PayInstallmentRequest,
    PaymentPlanList,
    PaymentPlanView,
)
from payment_http.schemas import EmptyRequest

__all__ = ["PaymentPlanController"]


def _command(body: CreatePaymentPlanRequest) -> CreatePaymentPlan:
    policy = body.cancellation_policy
    return CreatePaymentPlan(
        booking_id=body.booking_id,
        guest_id=body.guest_id,
        currency=body.currency,
        total_amount=body.total_amount,
        check_in=body.check_in,
        time_zone=body.time_zone,
        deposit_bps=body.deposit_bps,
        balance_due_days_before_check_in=body.balance_due_days_before_check_in,
        balance_due_at=body.balance_due_at,
        payment_method=body.payment_method,
        provider=body.provider,
        cancellation_policy=None
        if policy is None
        else Policy(
            tuple(Tier(t.days_before_check_in, t.refund_bps) for t in policy.tiers),
            policy.no_show_fee_bps,
        ),
    )


def _check_create(services: Services, body: Any) -> None:
    """Every check of the plan, refused before the idempotency key is claimed (the use case
    checks it all again)."""
    services.plans.validate(_command(body))


class PaymentPlanController(Controller):
    path = "/api/v1/payment-plans"
    tags = ["payment plans"]  # noqa: RUF012 - Litestar's layer attribute

    @post(
        "/",
        status_code=201,
        summary="Create a payment plan",
        operation_id="createPaymentPlan",
        response_description="The plan, its deposit charged (declined: `DEFAULTED`).",
        description="A `DEPOSIT` of `deposit_bps` of the total (half-even) is charged at once "
        "with `payment_method`, which is saved; the `BALANCE` is charged off-session with the "
        "saved card at `balance_due_at`, or at 00:00 in `time_zone` "
        "`balance_due_days_before_check_in` days before `check_in`. When that moment has "
        "passed, or `deposit_bps` is 10000, one `DEPOSIT` of the whole total. A declined "
        "deposit makes the plan `DEFAULTED` at once (201 still).",
        opt=json_body(CreatePaymentPlanRequest, check=_check_create),
        security=AUTH,
        responses=problems(400, 401, 409, 413, 415, 422),
    )
    async def create(
        self,
        request: Request[Any, Any, Any],
        services: ServicesDep,
        idempotency_key: IdempotencyKey = None,
    ) -> PaymentPlanView:
        body = body_of(request, CreatePaymentPlanRequest)
        plan = await services.plans.create(
            _command(body), idempotency_key=request_key(request.scope)
        )
        return payment_plan_view(plan)

    @get(
        "/{plan_id:str}",
        summary="Get a payment plan",
        operation_id="getPaymentPlan",
        response_description="The plan with its installments and, once cancelled, the decision.",
        security=AUTH,
        responses=problems(401, 404),
    )
    async def get_plan(self, plan_id: PathId, services: ServicesDep) -> PaymentPlanView:
        return payment_plan_view(await services.plans.get(parse_id(plan_id, "payment_plan")))

    @get(
        "/booking/{booking_id:str}",
        summary="List a booking's payment plans (oldest first)",
        operation_id="listBookingPaymentPlans",
        response_description="A page of the booking's plans.",
        security=AUTH,
        responses=problems(401, 404, 422),
    )
    async def list_by_booking(
        self,
        booking_id: PathId,
        services: ServicesDep,
        limit: Limit = 50,
        cursor: Cursor = None,
    ) -> PaymentPlanList:
        result = await services.plans.list_by_booking(
            parse_id(booking_id, "booking"), page(limit, cursor)
        )
        return PaymentPlanList(
            items=[payment_plan_view(p) for p in result.items], next_cursor=result.next_cursor
        )

    @post(
        "/{plan_id:str}/installments/{installment_id:str}/pay",
        status_code=200,
        summary="Pay an installment now",
        operation_id="payPaymentPlanInstallment",
        response_description="The plan after the attempt.",
        description="A `SCHEDULED` or `FAILED` installment (else 409 "
        "`invalid_state_transition`), off-session with the saved card, or on-session with "
        "`payment_method`. A `DEFAULTED` plan whose installments are all paid is `PAID` again.",
        opt=json_body(PayInstallmentRequest, required=False),
        security=AUTH,
        responses=problems(400, 401, 404, 409, 413, 415, 422),
    )
    async def pay_installment(
        self,
        request: Request[Any, Any, Any],
        plan_id: PathId,
        installment_id: PathId,
        services: ServicesDep,
        idempotency_key: IdempotencyKey = None,
    ) -> PaymentPlanView:
        body = body_of(request, PayInstallmentRequest)
        plan = await services.plans.pay_installment(
            parse_id(plan_id, "payment_plan"),
            parse_id(installment_id, "installment"),
            body.payment_method,
            idempotency_key=request_key(request.scope),
        )
        return payment_plan_view(plan)

    @post(
        "/{plan_id:str}/cancel",
        status_code=200,
        summary="Cancel a payment plan by its policy",
        operation_id="cancelPaymentPlan",
        response_description="The plan, `CANCELLED`, with `cancellation`.",
        description="`days_before = check_in - today` in the plan's time zone; the tier with "
        "the largest `days_before_check_in` not above it gives `refund_bps` (none: 0; no "
        "policy: 10000). What is paid beyond `round_half_even(total * (10000 - refund_bps) / "
        "10000)` is refunded from the paid payments, latest first; unpaid installments are "
        "cancelled. A plan already cancelled or a no-show: 409 `invalid_state_transition`.",
        opt=json_body(CancelPlanRequest, required=False),
        security=AUTH,
        responses=problems(400, 401, 404, 409, 413, 415, 422),
    )
    async def cancel(
        self,
        request: Request[Any, Any, Any],
        plan_id: PathId,
        services: ServicesDep,
        idempotency_key: IdempotencyKey = None,
    ) -> PaymentPlanView:
        body = body_of(request, CancelPlanRequest)
        plan = await services.plans.cancel(
            parse_id(plan_id, "payment_plan"),
            body.reason,
            idempotency_key=request_key(request.scope),
        )
        return payment_plan_view(plan)

    @post(
        "/{plan_id:str}/no-show",
        status_code=200,
        summary="Record a no-show",
        operation_id="markPaymentPlanNoShow",
        response_description="The plan, `NO_SHOW`, its fee charged.",
        description="Unpaid installments are cancelled and a `NO_SHOW_FEE` installment of "
        "`max(0, round_half_even(total * no_show_fee_bps / 10000) - amount_paid)` is charged "
        "off-session at once. A plan cancelled or a no-show already: 409.",
        opt=json_body(EmptyRequest, required=False),
        security=AUTH,
        responses=problems(400, 401, 404, 409, 413, 415, 422),
    )
    async def no_show(
        self,
        request: Request[Any, Any, Any],
        plan_id: PathId,
        services: ServicesDep,
        idempotency_key: IdempotencyKey = None,
    ) -> PaymentPlanView:
        plan = await services.plans.no_show(
            parse_id(plan_id, "payment_plan"), idempotency_key=request_key(request.scope)
        )
        return payment_plan_view(plan)

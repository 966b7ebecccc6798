"""The console's payment plans: a plan's page (installments, the cancellation decided) and
its action, pay an installment now, after a confirmation, once whatever the clicks
(:mod:`._actions`). Plans in default are listed on the "needs a person" page."""

from __future__ import annotations

from typing import Any

from litestar import Controller, Request, get, post
from litestar.response import Template

from payment_core.errors import NotFoundError
from payment_core.model.plan import Installment, InstallmentStatus, PaymentPlan
from payment_http.console._actions import Outcome, perform, valid_form_key
from payment_http.console._common import PathText, form_of, page, parse_uuid
from payment_http.console._state import Console, ConsoleDep
from payment_http.console._views import money, when
from payment_http.console.forms import confirm_page, forbidden_page, form_key
from payment_http.console.pages import not_found

__all__ = ["ConsolePlans"]

_PAYABLE = (InstallmentStatus.SCHEDULED, InstallmentStatus.FAILED)


def installment_row(plan: PaymentPlan, item: Installment) -> dict[str, Any]:
    return {
        "id": item.id,
        "kind": item.kind.value,
        "amount": money(item.amount.amount, plan.currency.code),
        "due_at": item.due_at,
        "status": item.status.value,
        "payment_id": item.payment_id,
        "attempts": item.attempts,
        "next_attempt_at": item.next_attempt_at,
        "failure_code": item.failure_code,
        "payable": item.status in _PAYABLE,
    }


async def _plan(console: Console, plan_id: str) -> PaymentPlan | None:
    ident = parse_uuid(plan_id)
    try:
        return await console.services.plans.get(ident) if ident else None
    except NotFoundError:
        return None


class ConsolePlans(Controller):
    path = "/console"

    @get("/plans/{plan_id:str}")
    async def plan_page(
        self, request: Request[Any, Any, Any], console: ConsoleDep, plan_id: PathText
    ) -> Template:
        plan = await _plan(console, plan_id)
        if plan is None:
            return not_found(console, request, "payment plan")
        currency = plan.currency.code
        return page(
            console,
            request,
            "plan.html",
            nav="attention",
            title="Payment plan",
            plan=plan,
            total=money(plan.total_amount.amount, currency),
            paid=money(plan.amount_paid, currency),
            refunded=money(plan.amount_refunded, currency),
            installments=[installment_row(plan, i) for i in plan.installments],
            decision=plan.cancellation,
        )

    @get("/plans/{plan_id:str}/installments/{installment_id:str}/pay")
    async def pay_confirm(
        self,
        request: Request[Any, Any, Any],
        console: ConsoleDep,
        plan_id: PathText,
        installment_id: PathText,
    ) -> Template:
        plan = await _plan(console, plan_id)
        ident = parse_uuid(installment_id)
        item = next((i for i in (plan.installments if plan else ()) if i.id == ident), None)
        if plan is None or item is None:
            return not_found(console, request, "installment")
        amount = money(item.amount.amount, plan.currency.code)
        return confirm_page(
            console,
            request,
            nav="attention",
            heading="Pay an installment now",
            facts=[
                ("Plan", str(plan.id)),
                ("Installment", item.kind.value),
                ("Amount", amount),
                ("Status", item.status.value),
                ("Due", when(item.due_at)),
            ],
            action=f"/console/plans/{plan.id}/installments/{item.id}/pay",
            fields={"form_key": form_key()},
            button=f"Charge {amount}",
            back=f"/console/plans/{plan.id}",
            warning="The guest's saved card is charged now, without the guest. Only a "
            "SCHEDULED or FAILED installment can be paid, and only once.",
        )

    @post("/plans/{plan_id:str}/installments/{installment_id:str}/pay", status_code=303)
    async def pay(
        self,
        request: Request[Any, Any, Any],
        console: ConsoleDep,
        plan_id: PathText,
        installment_id: PathText,
    ) -> Any:
        form = await form_of(request)
        session = console.session(request)
        plan_ident, item_ident = parse_uuid(plan_id), parse_uuid(installment_id)
        if (
            not console.sessions.check_csrf(session, form.get("csrf_token"))
            or not valid_form_key(form.get("form_key"))
            or plan_ident is None
            or item_ident is None
        ):
            return forbidden_page(console, request)
        plan_page = f"/console/plans/{plan_ident}"

        async def run(key: str) -> Outcome:
            plan = await console.services.plans.pay_installment(
                plan_ident, item_ident, idempotency_key=key
            )
            item = plan.installment(item_ident)
            message = f"The installment is {item.status.value}"
            if item.failure_code:
                message += f" ({item.failure_code})"
            return Outcome(plan_page, True, f"{message}; the plan is {plan.status.value}.")

        return await perform(
            console,
            request,
            session,
            form,
            action="pay_installment",
            target=str(item_ident),
            run=run,
            on_error=plan_page,
        )

"""The console's hold action: capture an ``AUTHORIZED`` payment's whole hold, after a
confirmation, once whatever the clicks (:mod:`._actions`). Releasing a hold is the cancel
action (:mod:`.forms`); a partial capture is the API's (``POST .../capture`` with an
``amount``)."""

from __future__ import annotations

from typing import Any

from litestar import Controller, Request, get, post
from litestar.response import Template

from payment_core.errors import NotFoundError
from payment_http.console._actions import Outcome, perform, valid_form_key
from payment_http.console._common import PathText, form_of, page, parse_uuid
from payment_http.console._state import ConsoleDep
from payment_http.console._views import money, payment_view, when
from payment_http.console.forms import form_key
from payment_http.console.pages import not_found

__all__ = ["ConsoleHolds"]


class ConsoleHolds(Controller):
    path = "/console"

    @get("/payments/{payment_id:str}/capture")
    async def capture_confirm(
        self, request: Request[Any, Any, Any], console: ConsoleDep, payment_id: PathText
    ) -> Template:
        ident = parse_uuid(payment_id)
        try:
            payment = await console.services.payments.get(ident) if ident else None
        except NotFoundError:
            payment = None
        if payment is None:
            return not_found(console, request, "payment")
        view = payment_view(payment, flag_after=0)
        return page(
            console,
            request,
            "confirm.html",
            nav="payments",
            title="Capture the hold",
            heading="Capture the hold",
            facts=[
                ("Payment", view.reference),
                ("Held", view.capturable),
                ("Status", view.status),
                ("Hold expires", when(view.authorization_expires_at)),
            ],
            action=f"/console/payments/{payment.id}/capture",
            fields={"form_key": form_key()},
            button=f"Capture {view.capturable}",
            back=f"/console/payments/{payment.id}",
            warning="The whole hold is taken from the guest's card; only an AUTHORIZED "
            "payment can be captured, and only once.",
        )

    @post("/payments/{payment_id:str}/capture", status_code=303)
    async def capture(
        self, request: Request[Any, Any, Any], console: ConsoleDep, payment_id: PathText
    ) -> Any:
        form = await form_of(request)
        session = console.session(request)
        ident = parse_uuid(payment_id)
        if (
            not console.sessions.check_csrf(session, form.get("csrf_token"))
            or not valid_form_key(form.get("form_key"))
            or ident is None
        ):
            return page(console, request, "forbidden.html", title="Form expired", status_code=403)
        payment_page = f"/console/payments/{ident}"

        async def run(key: str) -> Outcome:
            payment = await console.services.payments.capture(ident, idempotency_key=key)
            if payment.capture_in_flight:
                message = f"Capture of {payment.reference} sent; the provider has not answered yet."
            else:
                taken = money(payment.amount_captured, payment.amount.currency.code)
                message = f"Payment {payment.reference} is {payment.status.value}: {taken} taken."
            return Outcome(payment_page, True, message)

        return await perform(
            console,
            request,
            session,
            form,
            action="capture",
            target=str(ident),
            run=run,
            on_error=payment_page,
        )

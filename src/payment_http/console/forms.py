"""The console's actions, each a form, a confirmation and one run (:mod:`._actions`).

- refund (whole or part): form -> review -> ``RefundService.create``;
- cancel a payment that is still ``PENDING``, or release a hold: confirm ->
  ``PaymentService.cancel``;
- retry a refund and replay a webhook are :mod:`._repairs`'s.

Every POST checks the session's CSRF token first; a form whose token does not match changes
nothing (403). Capturing a hold is :mod:`._holds`'s, paying an installment :mod:`._plans`'s and
a dispute's evidence :mod:`._disputes`'s.
"""

from __future__ import annotations

import secrets
from typing import Any, Final

from litestar import Controller, Request, get, post
from litestar.response import Template

from payment_core.errors import NotFoundError, PaymentError
from payment_core.model.refund import REFUND_REASONS
from payment_core.money import Money
from payment_http.console._actions import Outcome, perform, valid_form_key
from payment_http.console._common import PathText, form_of, page, parse_uuid
from payment_http.console._state import ConsoleDep
from payment_http.console._views import money, payment_view, refund_view
from payment_http.console.pages import not_found

__all__ = ["ConsoleForms", "confirm_page", "forbidden_page", "form_key"]

#: The reasons an operator may give (``booking_cancelled`` is the service's own).
REASONS: Final = tuple(sorted(REFUND_REASONS - {"booking_cancelled"}))


def form_key() -> str:
    """A new form's key: the idempotency key of its one submission."""
    return secrets.token_urlsafe(18)


def forbidden_page(console: ConsoleDep, request: Request[Any, Any, Any]) -> Template:
    return page(console, request, "forbidden.html", title="Form expired", status_code=403)


def confirm_page(
    console: ConsoleDep,
    request: Request[Any, Any, Any],
    *,
    heading: str,
    facts: list[tuple[str, str]],
    action: str,
    fields: dict[str, str],
    button: str,
    back: str,
    nav: str = "payments",
    warning: str = "",
) -> Template:
    return page(
        console,
        request,
        "confirm.html",
        nav=nav,
        title=heading,
        heading=heading,
        facts=facts,
        action=action,
        fields=fields,
        button=button,
        back=back,
        warning=warning,
    )


class ConsoleForms(Controller):
    path = "/console"

    # ------------------------------------------------------------------ refund
    async def _payment(self, console: ConsoleDep, payment_id: PathText) -> Any:
        ident = parse_uuid(payment_id)
        if ident is None:
            raise NotFoundError(entity="payment", key="(malformed id)")
        return await console.services.payments.get(ident)

    def _refund_form(
        self,
        console: ConsoleDep,
        request: Request[Any, Any, Any],
        payment: Any,
        *,
        form_key: str,
        amount: str = "",
        reason: str = "requested_by_customer",
        errors: list[str] | None = None,
    ) -> Template:
        view = payment_view(payment, flag_after=0)
        return page(
            console,
            request,
            "refund_form.html",
            nav="payments",
            title=f"Refund {payment.reference}",
            payment=view,
            form_key=form_key,
            amount=amount,
            reason=reason,
            reasons=REASONS,
            errors=errors or [],
            status_code=422 if errors else 200,
        )

    @get("/payments/{payment_id:str}/refund")
    async def refund_form(
        self, request: Request[Any, Any, Any], console: ConsoleDep, payment_id: PathText
    ) -> Template:
        try:
            payment = await self._payment(console, payment_id)
        except NotFoundError:
            return not_found(console, request, "payment")
        return self._refund_form(console, request, payment, form_key=form_key())

    @post("/payments/{payment_id:str}/refund/review", status_code=200)
    async def refund_review(
        self, request: Request[Any, Any, Any], console: ConsoleDep, payment_id: PathText
    ) -> Template:
        form = await form_of(request)
        session = console.session(request)
        if not console.sessions.check_csrf(session, form.get("csrf_token")):
            return forbidden_page(console, request)
        try:
            payment = await self._payment(console, payment_id)
        except NotFoundError:
            return not_found(console, request, "payment")
        key = form.get("form_key", "")
        if not valid_form_key(key):
            key = form_key()
        amount_text = form.get("amount", "").strip()
        reason = form.get("reason", "")
        errors: list[str] = []
        currency = payment.amount.currency
        amount: int | None = None
        if payment.status.value != "COMPLETED":
            errors.append(
                f"Only a COMPLETED payment can be refunded; this one is {payment.status.value}."
            )
        if reason not in REASONS:
            errors.append("Choose a reason.")
        if amount_text:
            try:
                amount = Money.parse(amount_text, currency).amount
            except PaymentError:
                errors.append(
                    f"Amount: a plain amount in {currency.code} such as "
                    f"{Money(min(payment.amount.amount, 2500), currency).format()}."
                )
            if amount is not None and not 0 < amount <= payment.refundable:
                errors.append(
                    f"Amount: more than 0 and at most {money(payment.refundable, currency.code)}."
                )
        elif payment.refundable <= 0:
            errors.append("Nothing is left to refund on this payment.")
        if errors:
            return self._refund_form(
                console,
                request,
                payment,
                form_key=key,
                amount=amount_text,
                reason=reason,
                errors=errors,
            )
        shown = money(amount if amount is not None else payment.refundable, currency.code)
        return confirm_page(
            console,
            request,
            heading="Confirm the refund",
            facts=[
                ("Payment", payment.reference),
                ("Refund", shown + ("" if amount is not None else " (all that remains)")),
                ("Reason", reason.replace("_", " ")),
                ("Provider", payment.provider),
            ],
            action=f"/console/payments/{payment.id}/refund",
            fields={
                "form_key": key,
                "amount": "" if amount is None else str(amount),
                "reason": reason,
            },
            button=f"Refund {shown}",
            back=f"/console/payments/{payment.id}",
            warning="The money goes back to the guest's card. This cannot be undone.",
        )

    @post("/payments/{payment_id:str}/refund", status_code=303)
    async def refund(
        self, request: Request[Any, Any, Any], console: ConsoleDep, payment_id: PathText
    ) -> Any:
        form = await form_of(request)
        session = console.session(request)
        ident = parse_uuid(payment_id)
        amount_text = form.get("amount", "")
        if (
            not console.sessions.check_csrf(session, form.get("csrf_token"))
            or not valid_form_key(form.get("form_key"))
            or ident is None
            or (amount_text and not amount_text.isdigit())
        ):
            return forbidden_page(console, request)
        payment_page = f"/console/payments/{ident}"
        amount = int(amount_text) if amount_text else None
        reason = form.get("reason") or None

        async def run(key: str) -> Outcome:
            refund = await console.services.refunds.create(
                ident, amount, reason, idempotency_key=key
            )
            view = refund_view(refund)
            return Outcome(
                payment_page,
                refund.status.value != "FAILED",
                f"Refund {refund.reference} of {view.amount}: {refund.status.value}.",
            )

        return await perform(
            console,
            request,
            session,
            form,
            action="refund",
            target=str(ident),
            run=run,
            on_error=payment_page,
        )

    # ------------------------------------------------------------------ cancel
    @get("/payments/{payment_id:str}/cancel")
    async def cancelconfirm_page(
        self, request: Request[Any, Any, Any], console: ConsoleDep, payment_id: PathText
    ) -> Template:
        try:
            payment = await self._payment(console, payment_id)
        except NotFoundError:
            return not_found(console, request, "payment")
        view = payment_view(payment, flag_after=0)
        hold = view.status == "AUTHORIZED"
        return confirm_page(
            console,
            request,
            heading="Release the hold" if hold else "Cancel the payment",
            facts=[("Payment", view.reference), ("Amount", view.amount), ("Status", view.status)],
            action=f"/console/payments/{payment.id}/cancel",
            fields={"form_key": form_key()},
            button="Release the hold" if hold else "Cancel the payment",
            back=f"/console/payments/{payment.id}",
            warning="The money held on the guest's card is released; nothing is taken."
            if hold
            else "Only a PENDING payment can be cancelled; the guest is not charged.",
        )

    @post("/payments/{payment_id:str}/cancel", status_code=303)
    async def cancel(
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
            return forbidden_page(console, request)
        payment_page = f"/console/payments/{ident}"

        async def run(key: str) -> Outcome:
            payment = await console.services.payments.cancel(ident, idempotency_key=key)
            return Outcome(
                payment_page, True, f"Payment {payment.reference} is {payment.status.value}."
            )

        return await perform(
            console,
            request,
            session,
            form,
            action="cancel",
            target=str(ident),
            run=run,
            on_error=payment_page,
        )

"""The console's repair actions, each confirmed and run once (:mod:`._actions`): retry a refund
now (one waiting for its next attempt: ``RefundService.process``) and replay a stored webhook
(``WebhookService.replay``)."""

from __future__ import annotations

from typing import Any
from uuid import UUID

from litestar import Controller, Request, get, post
from litestar.response import Template

from payment_core.errors import NotFoundError
from payment_core.ports import StoredWebhook
from payment_http.console._actions import Outcome, perform, valid_form_key
from payment_http.console._common import PathText, form_of, parse_uuid
from payment_http.console._state import ConsoleDep
from payment_http.console._views import refund_view
from payment_http.console.forms import confirm_page, forbidden_page, form_key
from payment_http.console.pages import not_found

__all__ = ["ConsoleRepairs"]


class ConsoleRepairs(Controller):
    path = "/console"

    # ------------------------------------------------------------------ retry a refund
    @get("/refunds/{refund_id:str}/retry")
    async def retryconfirm_page(
        self, request: Request[Any, Any, Any], console: ConsoleDep, refund_id: PathText
    ) -> Template:
        ident = parse_uuid(refund_id)
        try:
            refund = await console.services.refunds.get(ident) if ident else None
        except NotFoundError:
            refund = None
        if refund is None:
            return not_found(console, request, "refund")
        view = refund_view(refund)
        return confirm_page(
            console,
            request,
            heading="Retry the refund now",
            facts=[
                ("Refund", view.reference),
                ("Amount", view.amount),
                ("Status", view.status),
                ("Attempts so far", str(view.attempts)),
                ("Last error", view.last_error or "—"),
            ],
            action=f"/console/refunds/{refund.id}/retry",
            fields={"form_key": form_key()},
            button="Retry now",
            back=f"/console/payments/{refund.payment_id}",
            warning="One attempt at the provider is made now, under the refund's own provider "
            "key (it cannot pay twice).",
        )

    @post("/refunds/{refund_id:str}/retry", status_code=303)
    async def retry(
        self, request: Request[Any, Any, Any], console: ConsoleDep, refund_id: PathText
    ) -> Any:
        form = await form_of(request)
        session = console.session(request)
        ident = parse_uuid(refund_id)
        if (
            not console.sessions.check_csrf(session, form.get("csrf_token"))
            or not valid_form_key(form.get("form_key"))
            or ident is None
        ):
            return forbidden_page(console, request)
        try:
            refund = await console.services.refunds.get(ident)
        except NotFoundError:
            return not_found(console, request, "refund")
        payment_page = f"/console/payments/{refund.payment_id}"

        async def run(key: str) -> Outcome:
            done = await console.services.refunds.process(ident, idempotency_key=key)
            return Outcome(
                payment_page,
                done.status.value != "FAILED",
                f"Refund {done.reference}: {done.status.value} after {done.attempts} attempt(s).",
            )

        return await perform(
            console,
            request,
            session,
            form,
            action="retry_refund",
            target=str(ident),
            run=run,
            on_error=payment_page,
        )

    # ------------------------------------------------------------------ replay a webhook
    async def _webhook(self, console: ConsoleDep, webhook_id: UUID) -> StoredWebhook | None:
        async with console.services.deps.uow() as uow:
            return await uow.webhooks.get(webhook_id)

    @get("/webhooks/{webhook_id:str}/replay")
    async def replayconfirm_page(
        self, request: Request[Any, Any, Any], console: ConsoleDep, webhook_id: PathText
    ) -> Template:
        ident = parse_uuid(webhook_id)
        stored = await self._webhook(console, ident) if ident else None
        if stored is None:
            return not_found(console, request, "webhook")
        return confirm_page(
            console,
            request,
            heading="Replay the webhook",
            facts=[
                ("Provider", stored.provider),
                ("Event", stored.event_id),
                ("Received", stored.received_at.strftime("%Y-%m-%d %H:%M:%S UTC")),
                ("Processed", "yes" if stored.processed_at else "no"),
            ],
            action=f"/console/webhooks/{stored.id}/replay",
            fields={"form_key": form_key()},
            button="Replay",
            back="/console/webhooks",
            nav="webhooks",
            warning="Its event is applied again as it was verified when it arrived; a payment "
            "or refund it already moved stays where it is.",
        )

    @post("/webhooks/{webhook_id:str}/replay", status_code=303)
    async def replay(
        self, request: Request[Any, Any, Any], console: ConsoleDep, webhook_id: PathText
    ) -> Any:
        form = await form_of(request)
        session = console.session(request)
        ident = parse_uuid(webhook_id)
        if (
            not console.sessions.check_csrf(session, form.get("csrf_token"))
            or not valid_form_key(form.get("form_key"))
            or ident is None
        ):
            return forbidden_page(console, request)

        async def run(key: str) -> Outcome:
            result = await console.services.webhooks.replay(ident)
            return Outcome(
                "/console/webhooks",
                True,
                f"Webhook {result.event_id} replayed: {result.outcome.replace('_', ' ')}.",
            )

        return await perform(
            console,
            request,
            session,
            form,
            action="replay_webhook",
            target=str(ident),
            run=run,
            on_error="/console/webhooks",
        )

"""The console's pages: overview, search, a payment, what needs a person, webhooks, outbox."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any, Final
from uuid import UUID

from litestar import Controller, Request, get
from litestar.response import Redirect, Template

from payment_adapters.console import PaymentFilter
from payment_core.errors import NotFoundError, ValidationError
from payment_core.ids import is_reference
from payment_core.model.dispute import DisputeStatus
from payment_core.model.payment import PaymentStatus
from payment_core.pagination import PageRequest
from payment_http.console._common import PathText, QueryText, page, parse_uuid
from payment_http.console._dead_letters import dead_letters
from payment_http.console._dispute_chart import dispute_figures
from payment_http.console._disputes import dispute_rows
from payment_http.console._overview import DAYS, overview
from payment_http.console._state import ConsoleDep
from payment_http.console._timeline import invoice_rows, record_rows, timeline
from payment_http.console._views import (
    days_back,
    payment_view,
    plan_row,
    refund_view,
    refund_view_of,
    summary_rows,
)
from payment_http.console._webhooks import webhook_rows

__all__ = ["ConsolePages", "not_found"]

PAGE_SIZE: Final = 50
_MANY: Final = PageRequest(limit=200)


def not_found(console: ConsoleDep, request: Request[Any, Any, Any], what: str) -> Template:
    return page(console, request, "not_found.html", title="Not found", status_code=404, what=what)


def _day(value: str | None, field: str, errors: list[str]) -> datetime | None:
    if not value:
        return None
    try:
        return datetime.strptime(value, "%Y-%m-%d").replace(tzinfo=UTC)
    except ValueError:
        errors.append(f"{field}: a date such as 2026-12-31")
        return None


def _flag_after(console: ConsoleDep) -> int:
    return len(console.services.deps.config.reconcile_schedule.steps)


class ConsolePages(Controller):
    path = "/console"

    @get("/", name="console:overview")
    async def overview(
        self, request: Request[Any, Any, Any], console: ConsoleDep, currency: QueryText = ""
    ) -> Template:
        now = console.services.deps.clock.now()
        since = days_back(now, DAYS)
        figures = overview(
            now,
            await console.queries.daily_payments(since),
            await console.queries.daily_refunds(since),
            currency,
        )
        if console.capabilities.disputes:
            figures |= dispute_figures(now, await console.queries.daily_disputes(since))
        return page(console, request, "overview.html", nav="overview", title="Overview", **figures)

    @get("/find")
    async def find(
        self, request: Request[Any, Any, Any], console: ConsoleDep, q: QueryText = ""
    ) -> Any:
        """The header's box: a payment or refund reference, or a payment, booking or guest id."""
        text = q.strip()[:100]
        services = console.services
        try:
            if is_reference(text, "pay"):
                found = await services.payments.get_by_reference(text)
                return Redirect(f"/console/payments/{found.id}", status_code=303)
            if is_reference(text, "re"):
                refund = await services.refunds.get_by_reference(text)
                return Redirect(f"/console/payments/{refund.payment_id}", status_code=303)
        except NotFoundError:
            return Redirect(f"/console/payments?reference={text}", status_code=303)
        ident = parse_uuid(text)
        if ident is not None:
            try:
                await services.payments.get(ident)
                return Redirect(f"/console/payments/{ident}", status_code=303)
            except NotFoundError:
                pass
            for field, where in (
                ("booking_id", PaymentFilter(booking_id=ident)),
                ("guest_id", PaymentFilter(guest_id=ident)),
            ):
                if (await console.queries.search_payments(where, PageRequest(limit=1))).items:
                    return Redirect(f"/console/payments?{field}={ident}", status_code=303)
        return Redirect(
            "/console/payments?reference=" + text if text else "/console/payments", status_code=303
        )

    @get("/payments", name="console:payments")
    async def payments(  # noqa: PLR0917 - one parameter per search field
        self,
        request: Request[Any, Any, Any],
        console: ConsoleDep,
        reference: QueryText = "",
        booking_id: QueryText = "",
        guest_id: QueryText = "",
        status: QueryText = "",
        created_from: QueryText = "",
        created_to: QueryText = "",
        cursor: QueryText = "",
    ) -> Template:
        errors: list[str] = []
        fields = {
            "reference": reference.strip()[:64],
            "booking_id": booking_id.strip()[:64],
            "guest_id": guest_id.strip()[:64],
            "status": status if status in PaymentStatus.__members__ else "",
            "created_from": created_from[:10],
            "created_to": created_to[:10],
        }
        ids: dict[str, UUID | None] = {}
        for name in ("booking_id", "guest_id"):
            ids[name] = parse_uuid(fields[name])
            if fields[name] and ids[name] is None:
                errors.append(f"{name.replace('_', ' ')}: a UUID")
        start = _day(fields["created_from"], "from", errors)
        end = _day(fields["created_to"], "to", errors)
        where = PaymentFilter(
            booking_id=ids["booking_id"],
            guest_id=ids["guest_id"],
            reference=fields["reference"] or None,
            status=fields["status"] or None,
            created_from=start,
            created_until=end + timedelta(days=1) if end else None,
        )
        rows: list[dict[str, Any]] = []
        next_cursor = None
        if not errors:
            try:
                result = await console.queries.search_payments(
                    where, PageRequest.parse(limit=PAGE_SIZE, cursor=cursor or None)
                )
                rows, next_cursor = summary_rows(result.items), result.next_cursor
            except ValidationError:
                errors.append("that page is no longer valid: start again from the first page")
        query = "&".join(f"{k}={v}" for k, v in fields.items() if v)
        return page(
            console,
            request,
            "payments.html",
            nav="payments",
            title="Payments",
            fields=fields,
            statuses=[s.value for s in PaymentStatus],
            errors=errors,
            rows=rows,
            next_link=f"/console/payments?{query}&cursor={next_cursor}" if next_cursor else None,
            first_link=f"/console/payments?{query}" if cursor else None,
            searched=any(fields.values()),
        )

    @get("/payments/{payment_id:str}", name="console:payment")
    async def payment(
        self, request: Request[Any, Any, Any], console: ConsoleDep, payment_id: PathText
    ) -> Template:
        ident = parse_uuid(payment_id)
        services = console.services
        try:
            payment = await services.payments.get(ident) if ident else None
        except NotFoundError:
            payment = None
        if payment is None:
            return not_found(console, request, "payment")
        refunds = list((await services.refunds.list_by_payment(payment.id, _MANY)).items)
        events = list(await console.queries.stream_events(payment.id, 200))
        records = [
            r
            for r in (await services.billing.list_by_booking(payment.booking_id, _MANY)).items
            if r.payment_id == payment.id
        ]
        invoices = [
            i
            for i in (await services.invoices.list_by_booking(payment.booking_id, _MANY)).items
            if i.payment_id == payment.id
        ]
        view = payment_view(payment, flag_after=_flag_after(console))
        disputes = (await services.disputes.list_by_payment(payment.id, _MANY)).items
        return page(
            console,
            request,
            "payment.html",
            disputes=dispute_rows(list(disputes), services.deps.clock.now()),
            nav="payments",
            title=f"Payment {payment.reference}",
            payment=view,
            refunds=[refund_view(r) for r in refunds],
            timeline=timeline(payment, events, refunds, records, invoices),
            records=record_rows(records),
            invoices=invoice_rows(invoices),
            retention_days=console.runtime.settings.outbox_retention_seconds // 86400,
        )

    @get("/attention", name="console:attention")
    async def attention(
        self, request: Request[Any, Any, Any], console: ConsoleDep, cursor: QueryText = ""
    ) -> Template:
        queries = console.queries
        try:
            failed = await queries.failed_refunds(
                PageRequest.parse(limit=PAGE_SIZE, cursor=cursor or None)
            )
        except ValidationError:
            failed = await queries.failed_refunds(PageRequest(limit=PAGE_SIZE))
        flagged = await queries.flagged_payments(_flag_after(console), 100)
        retrying = await queries.retrying_refunds(100)
        return page(
            console,
            request,
            "attention.html",
            nav="attention",
            title="Needs a person",
            failed=[refund_view_of(r) for r in failed.items],
            failed_next=failed.next_cursor,
            flagged=summary_rows(flagged),
            retrying=[refund_view_of(r) for r in retrying],
            defaulted=[plan_row(p) for p in await queries.defaulted_plans(100)]
            if console.capabilities.plans
            else [],
            dead=await dead_letters(console.runtime.settings),
            disputes=dispute_rows(
                list(
                    (
                        await console.services.disputes.list(DisputeStatus.NEEDS_RESPONSE, _MANY)
                    ).items
                ),
                console.services.deps.clock.now(),
            ),
        )

    @get("/webhooks", name="console:webhooks")
    async def webhooks(
        self,
        request: Request[Any, Any, Any],
        console: ConsoleDep,
        cursor: QueryText = "",
        unprocessed: QueryText = "",
    ) -> Template:
        only = unprocessed == "1"
        try:
            request_page = PageRequest.parse(limit=PAGE_SIZE, cursor=cursor or None)
        except ValidationError:
            request_page = PageRequest(limit=PAGE_SIZE)
        found = await console.queries.webhooks(request_page, unprocessed=only)
        suffix = "&unprocessed=1" if only else ""
        return page(
            console,
            request,
            "webhooks.html",
            nav="webhooks",
            title="Webhooks",
            rows=await webhook_rows(console, found.items),
            unprocessed=only,
            next_link=f"/console/webhooks?cursor={found.next_cursor}{suffix}"
            if found.next_cursor
            else None,
        )

    @get("/outbox", name="console:outbox")
    async def outbox(self, request: Request[Any, Any, Any], console: ConsoleDep) -> Template:
        backlog = await console.queries.outbox_backlog(50)
        return page(
            console,
            request,
            "outbox.html",
            nav="outbox",
            title="Outbox",
            backlog=backlog,
            delivery="RabbitMQ" if console.runtime.settings.rabbitmq_url else "in process",
        )

"""The console's disputes: the list (those that need evidence first, with their deadline), a
dispute's page with its evidence form, and the evidence action: review, then save or submit
once, whatever the clicks (:mod:`._actions`), through the same use case as the API.

Its forms are here rather than in :mod:`.forms`; evidence fields are longer than the
console's other fields, so the form is read with the evidence's own limit.
"""

from __future__ import annotations

import secrets
from datetime import datetime
from typing import Any, Final
from uuid import UUID

import attrs
from litestar import Controller, Request, get, post
from litestar.response import Template

from payment_core.errors import NotFoundError, ValidationError
from payment_core.model.dispute import (
    EVIDENCE_FIELDS,
    MAX_EVIDENCE_TEXT,
    Dispute,
    DisputeStatus,
)
from payment_core.pagination import PageRequest
from payment_http.console._actions import Outcome, perform, valid_form_key
from payment_http.console._common import PathText, QueryText, page, parse_uuid
from payment_http.console._state import ConsoleDep
from payment_http.console._views import money

__all__ = ["ConsoleDisputes", "DisputeRow", "dispute_rows"]

#: The evidence fields in the order the form shows them, with their labels.
FIELDS: Final = (
    ("service_date", "Service date (check-in)"),
    ("cancellation_policy", "Cancellation policy"),
    ("receipt", "Receipts (invoice numbers)"),
    ("customer_email_address", "Guest's e-mail address"),
    ("customer_name", "Guest's name"),
    ("billing_address", "Billing address"),
    ("product_description", "What was sold"),
    ("cancellation_rebuttal", "Why the cancellation does not entitle a refund"),
    ("refund_refusal_explanation", "Why no refund was given"),
    ("uncategorized_text", "Anything else"),
)
assert {name for name, _ in FIELDS} == EVIDENCE_FIELDS
_PAGE: Final = 50


@attrs.frozen(slots=True)
class DisputeRow:
    """A dispute as the console shows it (no secret in it: its evidence is the service's own
    text and the operator's)."""

    id: UUID
    payment_id: UUID
    provider: str
    provider_dispute_id: str
    amount: str
    reason: str
    status: str
    inquiry: bool
    evidence_due_by: datetime | None
    evidence: dict[str, str]
    evidence_submitted_at: datetime | None
    funds_withdrawn: bool
    created_at: datetime
    takes_evidence: bool


def dispute_row(dispute: Dispute, now: datetime) -> DisputeRow:
    return DisputeRow(
        id=dispute.id,
        payment_id=dispute.payment_id,
        provider=dispute.provider,
        provider_dispute_id=dispute.provider_dispute_id,
        amount=money(dispute.amount.amount, dispute.amount.currency.code),
        reason=dispute.reason.replace("_", " "),
        status=dispute.status.value,
        inquiry=dispute.inquiry,
        evidence_due_by=dispute.evidence_due_by,
        evidence=dict(dispute.evidence),
        evidence_submitted_at=dispute.evidence_submitted_at,
        funds_withdrawn=dispute.funds_withdrawn,
        created_at=dispute.created_at,
        takes_evidence=dispute.is_open
        and dispute.evidence_submitted_at is None
        and not dispute.evidence_submitting
        and not dispute.past_due(now),
    )


def not_found(console: ConsoleDep, request: Request[Any, Any, Any], what: str) -> Template:
    return page(console, request, "not_found.html", title="Not found", status_code=404, what=what)


def dispute_rows(disputes: list[Dispute], now: datetime) -> list[DisputeRow]:
    return [dispute_row(d, now) for d in disputes]


async def _form(request: Request[Any, Any, Any]) -> dict[str, str]:
    """The submitted form, one value per field, cut to the evidence's own limit."""
    data = await request.form()
    return {str(k): str(v)[: MAX_EVIDENCE_TEXT + 1] for k, v in data.items() if isinstance(v, str)}


def _changes(form: dict[str, str], current: dict[str, str]) -> dict[str, str | None]:
    """The evidence fields the form changes (an emptied field is removed)."""
    changes: dict[str, str | None] = {}
    for name, _ in FIELDS:
        if f"evidence_{name}" not in form:
            continue
        value = form[f"evidence_{name}"].strip()
        if value != current.get(name, ""):
            changes[name] = value or None
    return changes


class ConsoleDisputes(Controller):
    path = "/console"

    @get("/disputes", name="console:disputes")
    async def disputes(
        self, request: Request[Any, Any, Any], console: ConsoleDep, status: QueryText = ""
    ) -> Template:
        wanted = DisputeStatus.NEEDS_RESPONSE
        if status == "all":
            wanted = None  # type: ignore[assignment]
        elif status in DisputeStatus.__members__:
            wanted = DisputeStatus(status)
        found = await console.services.disputes.list(wanted, PageRequest(limit=200))
        now = console.services.deps.clock.now()
        return page(
            console,
            request,
            "disputes.html",
            nav="disputes",
            title="Disputes",
            disputes=dispute_rows(list(found.items), now),
            status=status or "NEEDS_RESPONSE",
            statuses=[s.value for s in DisputeStatus],
        )

    async def _dispute(self, console: ConsoleDep, dispute_id: str) -> Dispute | None:
        ident = parse_uuid(dispute_id)
        try:
            return await console.services.disputes.get(ident) if ident else None
        except NotFoundError:
            return None

    @get("/disputes/{dispute_id:str}", name="console:dispute")
    async def dispute(
        self, request: Request[Any, Any, Any], console: ConsoleDep, dispute_id: PathText
    ) -> Template:
        found = await self._dispute(console, dispute_id)
        if found is None:
            return not_found(console, request, "dispute")
        now = console.services.deps.clock.now()
        return page(
            console,
            request,
            "dispute.html",
            nav="disputes",
            title="Dispute",
            dispute=dispute_row(found, now),
            fields=FIELDS,
            form_key=secrets.token_urlsafe(18),  # as forms.form_key makes them
            limit=MAX_EVIDENCE_TEXT,
        )

    @post("/disputes/{dispute_id:str}/evidence/review", status_code=200)
    async def review(
        self, request: Request[Any, Any, Any], console: ConsoleDep, dispute_id: PathText
    ) -> Template:
        form = await _form(request)
        session = console.session(request)
        if not console.sessions.check_csrf(session, form.get("csrf_token")) or not valid_form_key(
            form.get("form_key")
        ):
            return page(console, request, "forbidden.html", title="Form expired", status_code=403)
        found = await self._dispute(console, dispute_id)
        if found is None:
            return not_found(console, request, "dispute")
        changes = _changes(form, found.evidence)
        submit = form.get("submit") == "yes"
        fields = {"form_key": form["form_key"], "submit": "yes" if submit else "no"}
        fields |= {f"evidence_{k}": v or "" for k, v in changes.items()}
        labels = dict(FIELDS)
        facts = [("Dispute", f"{found.provider} {found.provider_dispute_id}")]
        facts += [(labels[k], v if v else "(removed)") for k, v in changes.items()]
        if not changes:
            facts.append(("Evidence", "unchanged"))
        return page(
            console,
            request,
            "confirm.html",
            nav="disputes",
            title="Dispute evidence",
            heading="Submit the evidence" if submit else "Save the evidence",
            facts=facts,
            action=f"/console/disputes/{found.id}/evidence",
            fields=fields,
            button=f"Submit to {found.provider}" if submit else "Save",
            back=f"/console/disputes/{found.id}",
            warning="The evidence goes to the provider once, and cannot be changed after."
            if submit
            else None,
        )

    @post("/disputes/{dispute_id:str}/evidence", status_code=303)
    async def evidence(
        self, request: Request[Any, Any, Any], console: ConsoleDep, dispute_id: PathText
    ) -> Any:
        form = await _form(request)
        session = console.session(request)
        ident = parse_uuid(dispute_id)
        if (
            not console.sessions.check_csrf(session, form.get("csrf_token"))
            or not valid_form_key(form.get("form_key"))
            or ident is None
        ):
            return page(console, request, "forbidden.html", title="Form expired", status_code=403)
        dispute_page = f"/console/disputes/{ident}"
        changes: dict[str, str | None] = {
            name: form[f"evidence_{name}"] or None
            for name, _ in FIELDS
            if f"evidence_{name}" in form
        }
        submit = form.get("submit") == "yes"

        async def run(key: str) -> Outcome:
            try:
                dispute = await console.services.disputes.add_evidence(
                    ident, changes, submit=submit
                )
            except ValidationError as exc:
                return Outcome(dispute_page, False, f"Not saved: {exc.describe()}")
            said = "submitted; now UNDER_REVIEW" if submit else "saved"
            return Outcome(dispute_page, True, f"Evidence {said} ({dispute.status.value}).")

        return await perform(
            console,
            request,
            session,
            form,
            action="dispute_evidence",
            target=str(ident),
            run=run,
            on_error=dispute_page,
        )

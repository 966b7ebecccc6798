"""A payment's story from what the service stores: its events, refunds, records and invoices.

The entries come from the payment itself (created, its latest provider answer, the
reconciliation's asks), the events still in the outbox for its stream (state changes of the
payment and its refunds, and whether each was published), its refunds, the billing records
that name it and the invoices it pays. Provider calls are not stored one by one, and stored
webhooks are not linked to the payment they acted on: the page says so rather than guess.
"""

from __future__ import annotations

from datetime import datetime
from typing import Final

import attrs

from payment_adapters.console import StreamEvent
from payment_core.model.billing import BillingRecord
from payment_core.model.invoice import Invoice
from payment_core.model.payment import Payment
from payment_core.model.refund import Refund
from payment_http.console._views import ago, money

__all__ = ["Entry", "InvoiceRow", "RecordRow", "invoice_rows", "record_rows", "timeline"]

_EVENT_TITLES: Final = {
    "payment.initiated": "Payment initiated",
    "payment.authorized": "Hold placed",
    "payment.authorization_expiring": "Hold expires soon",
    "payment.completed": "Payment completed",
    "payment.failed": "Payment failed",
    "payment.cancelled": "Payment cancelled",
    "payment.expired": "Hold expired",
    "refund.initiated": "Refund initiated",
    "refund.completed": "Refund completed",
    "refund.failed": "Refund failed",
    "refund.reversed": "Refund reversed by the provider",
    "dispute.created": "Dispute opened by the guest's bank",
    "dispute.closed": "Dispute closed",
}


_EVENT_STATUS: Final = {
    "payment.initiated": "PENDING",
    "payment.authorized": "AUTHORIZED",
    "payment.completed": "COMPLETED",
    "payment.failed": "FAILED",
    "payment.cancelled": "CANCELLED",
    "payment.expired": "EXPIRED",
    "refund.completed": "COMPLETED",
    "refund.failed": "FAILED",
}


@attrs.frozen(slots=True)
class Entry:
    at: datetime
    kind: str  # state, event, provider, refund, record, invoice
    title: str
    detail: str = ""
    status: str | None = None


@attrs.frozen(slots=True)
class RecordRow:
    type: str
    amount: str
    description: str
    created_at: datetime
    hash: str


@attrs.frozen(slots=True)
class InvoiceRow:
    id: str
    number: str
    status: str
    total: str
    paid: str
    issued_at: datetime | None
    paid_at: datetime | None


def record_rows(records: list[BillingRecord]) -> list[RecordRow]:
    return [
        RecordRow(
            type=r.type.value,
            amount=money(r.amount, r.currency),
            description=r.description,
            created_at=r.created_at,
            hash=r.hash[:12],
        )
        for r in records
    ]


def invoice_rows(invoices: list[Invoice]) -> list[InvoiceRow]:
    return [
        InvoiceRow(
            id=str(i.id),
            number=i.number or "draft",
            status=i.status.value,
            total=money(i.total.amount, i.currency.code),
            paid=money(i.amount_paid, i.currency.code),
            issued_at=i.issued_at,
            paid_at=i.paid_at,
        )
        for i in invoices
    ]


def timeline(
    payment: Payment,
    events: list[StreamEvent],
    refunds: list[Refund],
    records: list[BillingRecord],
    invoices: list[Invoice],
) -> list[Entry]:
    """Every entry, newest first."""
    entries: list[Entry] = []
    if not any(e.type == "payment.initiated" for e in events):
        # Its event has left the outbox (retention): the payment itself says when it began.
        entries.append(
            Entry(payment.created_at, "state", "Payment created", f"via {payment.provider}")
        )
    for event in events:
        published = (
            f"published {ago(event.created_at, event.published_at).replace(' ago', ' later')}"
            if event.published_at is not None
            else "not published yet"
        )
        entries.append(
            Entry(
                event.created_at,
                "event",
                _EVENT_TITLES.get(event.type, event.type),
                f"event {event.type}, {published}",
                _EVENT_STATUS.get(event.type),
            )
        )
    if payment.failure_code:
        entries.append(
            Entry(
                payment.updated_at,
                "provider",
                "Provider answer",
                f"{payment.failure_code}: {payment.failure_message or 'no message'}",
                payment.status.value,
            )
        )
    if payment.reconcile_attempts:
        entries.append(
            Entry(
                payment.updated_at,
                "provider",
                "Reconciliation asked the provider",
                f"{payment.reconcile_attempts} time(s) without a final answer",
                "FLAGGED",
            )
        )
    for refund in refunds:
        amount = money(refund.amount.amount, refund.amount.currency.code)
        entries.append(
            Entry(
                refund.created_at,
                "refund",
                f"Refund {refund.reference} of {amount} requested",
                f"reason: {refund.reason or 'none given'}",
            )
        )
        if refund.attempts or refund.status.value != "PENDING":
            detail = f"{refund.attempts} attempt(s) at the provider"
            if refund.failure_reason:
                detail += f"; failed: {refund.failure_reason}"
            elif refund.last_error:
                detail += f"; last error: {refund.last_error}"
            entries.append(
                Entry(
                    refund.updated_at,
                    "refund",
                    f"Refund {refund.reference} is {refund.status.value}",
                    detail,
                    refund.status.value,
                )
            )
    entries.extend(
        Entry(
            r.created_at,
            "record",
            f"Billing record {r.type.value}",
            f"{money(r.amount, r.currency)} · {r.description}",
        )
        for r in records
    )
    for invoice in invoices:
        number = invoice.number or "draft"
        if invoice.issued_at:
            entries.append(Entry(invoice.issued_at, "invoice", f"Invoice {number} issued"))
        if invoice.paid_at:
            entries.append(Entry(invoice.paid_at, "invoice", f"Invoice {number} paid", "", "PAID"))
    entries.sort(key=lambda e: e.at, reverse=True)
    return entries

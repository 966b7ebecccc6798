"""The evidence a new dispute starts with: what the service already knows of its booking.

- ``receipt``: the numbers of the booking's issued invoices (``INV-2026-000001, …``), the
  payment's own invoice first;
- ``customer_email_address``: the e-mail of the first of those invoices' customers that has
  one;
- ``service_date`` and ``cancellation_policy``: the booking's plan terms (its check-in and its
  policy in words): from its latest payment plan, or from a
  :class:`~payment_core.ports.PlanTermsSource` the service was built with.

Each is screened as all text that leaves or enters the service is; the operator may change
any of it before submitting.
"""

from __future__ import annotations

from typing import Final

from payment_core.model.dispute import MAX_EVIDENCE_TEXT
from payment_core.model.invoice import Invoice, InvoiceStatus
from payment_core.model.payment import Payment
from payment_core.outside_text import screen_text
from payment_core.pagination import MAX_LIMIT, PageRequest
from payment_core.ports import PlanTerms, PlanTermsSource, UnitOfWork

__all__ = ["prefilled_evidence"]

#: A booking has few invoices; more than a page of them adds nothing a bank reads.
_ISSUED: Final = frozenset({InvoiceStatus.OPEN, InvoiceStatus.PAID, InvoiceStatus.UNCOLLECTIBLE})


async def prefilled_evidence(
    uow: UnitOfWork, plan_terms: PlanTermsSource | None, payment: Payment
) -> dict[str, str]:
    """The evidence a dispute of ``payment`` starts with."""
    evidence: dict[str, str] = {}
    page = await uow.invoices.list_by_booking(payment.booking_id, PageRequest(limit=MAX_LIMIT))
    invoices = sorted(
        (i for i in page.items if i.number is not None and i.status in _ISSUED),
        key=lambda i: (i.payment_id != payment.id, i.created_at, i.id),
    )
    receipt = screen_text(", ".join(_numbers(invoices)), limit=MAX_EVIDENCE_TEXT)
    if receipt:
        evidence["receipt"] = receipt
    email = next(
        (i.customer.email for i in invoices if i.customer is not None and i.customer.email),
        None,
    )
    if email:
        screened = screen_text(email, limit=MAX_EVIDENCE_TEXT)
        if screened:
            evidence["customer_email_address"] = screened
    if plan_terms is None:
        terms = await _terms_of_plans(uow, payment)
    else:
        terms = await plan_terms.terms_for(payment.booking_id)
    if terms is not None:
        if terms.service_date is not None:
            evidence["service_date"] = terms.service_date.isoformat()
        policy = screen_text(terms.cancellation_policy, limit=MAX_EVIDENCE_TEXT)
        if policy:
            evidence["cancellation_policy"] = policy
    return evidence


async def _terms_of_plans(uow: UnitOfWork, payment: Payment) -> PlanTerms | None:
    """The booking's latest plan: its check-in and its policy in words."""
    plans = (
        await uow.payment_plans.list_by_booking(payment.booking_id, PageRequest(limit=MAX_LIMIT))
    ).items
    if not plans:
        return None
    plan = plans[-1]  # oldest first: the last one is the booking's plan now
    policy = plan.cancellation_policy
    return PlanTerms(plan.check_in, policy.describe() if policy is not None else None)


def _numbers(invoices: list[Invoice]) -> list[str]:
    return [i.number for i in invoices if i.number is not None]

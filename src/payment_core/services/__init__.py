"""Use cases, and :class:`Services`, the set of them built over one set of dependencies."""

from __future__ import annotations

import attrs

from payment_core.ports import NullObserver, Observer, PlanTermsSource
from payment_core.services._deps import (
    Dependencies,
    ExpiryAction,
    ProviderRegistry,
    ServiceConfig,
)
from payment_core.services.billing import BillingService
from payment_core.services.bookings import (
    BookingCancelled,
    BookingCreated,
    BookingEventHandler,
    HandledEvent,
)
from payment_core.services.credit_notes import CreateCreditNote, CreditNoteService
from payment_core.services.disputes import DisputeService
from payment_core.services.holds import HoldService, HoldSweepReport
from payment_core.services.invoices import CreateInvoice, InvoiceService, UpdateInvoice
from payment_core.services.payment_methods import PaymentMethodService
from payment_core.services.payments import CreatePayment, PaymentService
from payment_core.services.plans import (
    CreatePaymentPlan,
    PaymentPlanService,
    PlanSweepReport,
    Policy,
    Tier,
)
from payment_core.services.reconciliation import ReconciliationReport, ReconciliationService
from payment_core.services.refunds import RefundService
from payment_core.services.retry import ReconcileSchedule, RetryPolicy
from payment_core.services.webhooks import WebhookResult, WebhookService

__all__ = [
    "BillingService",
    "BookingCancelled",
    "BookingCreated",
    "BookingEventHandler",
    "CreateCreditNote",
    "CreateInvoice",
    "CreatePayment",
    "CreatePaymentPlan",
    "CreditNoteService",
    "Dependencies",
    "DisputeService",
    "ExpiryAction",
    "HandledEvent",
    "HoldService",
    "HoldSweepReport",
    "InvoiceService",
    "NullObserver",
    "Observer",
    "PaymentMethodService",
    "PaymentPlanService",
    "PaymentService",
    "PlanSweepReport",
    "Policy",
    "ProviderRegistry",
    "ReconcileSchedule",
    "ReconciliationReport",
    "ReconciliationService",
    "RefundService",
    "RetryPolicy",
    "ServiceConfig",
    "Services",
    "Tier",
    "UpdateInvoice",
    "WebhookResult",
    "WebhookService",
]


@attrs.frozen(slots=True)
class Services:
    """Every use case, wired to one set of dependencies."""

    deps: Dependencies
    payments: PaymentService
    holds: HoldService
    payment_methods: PaymentMethodService
    refunds: RefundService
    invoices: InvoiceService
    credit_notes: CreditNoteService
    billing: BillingService
    webhooks: WebhookService
    reconciliation: ReconciliationService
    bookings: BookingEventHandler
    plans: PaymentPlanService
    disputes: DisputeService

    @classmethod
    def build(cls, deps: Dependencies, *, plan_terms: PlanTermsSource | None = None) -> Services:
        """Wire every use case over ``deps`` (``plan_terms``: where disputes' evidence finds
        a booking's plan terms; its payment plans by default)."""
        payments = PaymentService(deps)
        refunds = RefundService(deps, payments)
        plans = PaymentPlanService(deps, payments, refunds)
        disputes = DisputeService(deps, plan_terms)
        return cls(
            deps=deps,
            payments=payments,
            holds=HoldService(deps),
            payment_methods=PaymentMethodService(deps),
            refunds=refunds,
            invoices=InvoiceService(deps),
            credit_notes=CreditNoteService(deps),
            billing=BillingService(deps),
            webhooks=WebhookService(deps, payments, refunds, disputes),
            reconciliation=ReconciliationService(deps, payments, refunds),
            bookings=BookingEventHandler(deps, payments, refunds, plans),
            plans=plans,
            disputes=disputes,
        )

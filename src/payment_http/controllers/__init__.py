"""The API's controllers, one module per resource."""

from __future__ import annotations

from payment_http.controllers.billing import BillingController
from payment_http.controllers.credit_notes import CreditNoteController
from payment_http.controllers.disputes import DisputeController
from payment_http.controllers.documents import DocumentController
from payment_http.controllers.health import HealthController
from payment_http.controllers.invoices import InvoiceController
from payment_http.controllers.payment_methods import PaymentMethodController
from payment_http.controllers.payment_plans import PaymentPlanController
from payment_http.controllers.payments import PaymentController
from payment_http.controllers.refunds import RefundController
from payment_http.controllers.webhooks import WebhookController

__all__ = [
    "CONTROLLERS",
    "BillingController",
    "CreditNoteController",
    "DisputeController",
    "DocumentController",
    "HealthController",
    "InvoiceController",
    "PaymentController",
    "PaymentMethodController",
    "PaymentPlanController",
    "RefundController",
    "WebhookController",
]

CONTROLLERS = (
    PaymentController,
    PaymentMethodController,
    PaymentPlanController,
    RefundController,
    InvoiceController,
    CreditNoteController,
    DocumentController,
    BillingController,
    DisputeController,
    WebhookController,
    HealthController,
)

"""The wire shapes of resources: each declared once, as a TypedDict, and built once, as a dict.

One declaration per view (payments, refunds, invoices, credit notes, billing records, disputes,
and the safe views of the reference endpoints) serves every reader of it:

- the builder functions make plain JSON-ready dicts, which msgspec (HTTP) and ``json`` (events)
  encode as they are: nothing is converted per request;
- the HTTP controllers name the views as their return types, and the OpenAPI document shows
  msgspec's JSON Schema of them (:mod:`payment_http.openapi`);
- the events carry them as ``data`` and FastStream documents them, through pydantic, on the
  real publishers (:mod:`payment_adapters.messaging.contract`), so an event's ``data`` is
  exactly what ``GET`` returns.

``PaymentData``, ``RefundData``, ``InvoiceData`` and ``CreditNoteData`` are what the events
carry; ``PaymentView`` adds the ``client_secret`` meant for the API caller alone; the other
``...View`` names are the same shapes under the names the HTTP document gives them.
"""

from __future__ import annotations

from payment_adapters.wire._common import rfc3339
from payment_adapters.wire.disputes import DisputeView, dispute_view
from payment_adapters.wire.invoices import (
    Address,
    BillingRecordView,
    CreditNoteData,
    CreditNoteView,
    Customer,
    InvoiceData,
    InvoiceView,
    LineItem,
    billing_record_view,
    credit_note_view,
    invoice_view,
)
from payment_adapters.wire.payment_methods import PaymentMethodView, payment_method_view
from payment_adapters.wire.payments import (
    Card,
    CardSafeView,
    NextAction,
    PaymentData,
    PaymentSafeView,
    PaymentView,
    RefundData,
    RefundSafeView,
    RefundView,
    payment_safe_view,
    payment_view,
    refund_safe_view,
    refund_view,
)

__all__ = [
    "Address",
    "BillingRecordView",
    "Card",
    "CardSafeView",
    "CreditNoteData",
    "CreditNoteView",
    "Customer",
    "DisputeView",
    "InvoiceData",
    "InvoiceView",
    "LineItem",
    "NextAction",
    "PaymentData",
    "PaymentMethodView",
    "PaymentSafeView",
    "PaymentView",
    "RefundData",
    "RefundSafeView",
    "RefundView",
    "billing_record_view",
    "credit_note_view",
    "dispute_view",
    "invoice_view",
    "payment_method_view",
    "payment_safe_view",
    "payment_view",
    "refund_safe_view",
    "refund_view",
    "rfc3339",
]

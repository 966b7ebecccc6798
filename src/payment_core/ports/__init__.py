"""Ports: what the core needs from the world, as ``typing.Protocol`` classes, grouped by what uses
them.

- :mod:`~payment_core.ports.storage` (and ``_disputes``): repositories, the unit of work, the
  inbox, booking locks and stored webhooks; where a booking's plan terms come from;
- :mod:`~payment_core.ports.providers`: :class:`PaymentProvider`, one request type per
  operation, the replies and the translated webhooks;
- :mod:`~payment_core.ports.system`: the clock, ids, event delivery and the metrics observer.

Adapters implement them structurally (no base classes to inherit): SQLAlchemy repositories and
unit of work, provider adapters (Stripe, PayPal, Square and the fake), event publishers.
``payment_core.testing`` has an in-memory implementation of each. Only what core code calls is
here; what only the adapters or the HTTP layer use (the field cipher, the idempotency-key store)
is declared beside its users in ``payment_adapters``.
"""

from payment_core.ports._disputes import (
    DisputeRepository,
    NoPlanTerms,
    PlanTerms,
    PlanTermsSource,
)
from payment_core.ports.providers import (
    CancelPaymentRequest,
    CapturePaymentRequest,
    ConfirmPaymentRequest,
    CreatePaymentRequest,
    DetachPaymentMethodRequest,
    DisputeProvider,
    FundsMovement,
    IncrementAuthorizationRequest,
    PaymentProvider,
    ProviderCapabilities,
    ProviderDispute,
    ProviderPayment,
    ProviderPaymentStatus,
    ProviderRefund,
    ProviderRefundStatus,
    RefundRequest,
    RetrieveDisputeRequest,
    RetrievePaymentRequest,
    RetrieveRefundRequest,
    SavedPaymentMethod,
    SubmitDisputeEvidenceRequest,
    WebhookEvent,
    WebhookKind,
    dispute_provider,
)
from payment_core.ports.storage import (
    BillingRepository,
    BookingLocks,
    CreditNoteNumberAllocator,
    CreditNoteRepository,
    Inbox,
    InvoiceNumberAllocator,
    InvoiceRepository,
    PaymentMethodRepository,
    PaymentPlanRepository,
    PaymentRepository,
    RefundRepository,
    StoredWebhook,
    UnitOfWork,
    UnitOfWorkFactory,
    WebhookStore,
)
from payment_core.ports.system import Clock, EventPublisher, Ids, NullObserver, Observer

__all__ = [
    "BillingRepository",
    "BookingLocks",
    "CancelPaymentRequest",
    "CapturePaymentRequest",
    "Clock",
    "ConfirmPaymentRequest",
    "CreatePaymentRequest",
    "CreditNoteNumberAllocator",
    "CreditNoteRepository",
    "DetachPaymentMethodRequest",
    "DisputeProvider",
    "DisputeRepository",
    "EventPublisher",
    "FundsMovement",
    "Ids",
    "Inbox",
    "IncrementAuthorizationRequest",
    "InvoiceNumberAllocator",
    "InvoiceRepository",
    "NoPlanTerms",
    "NullObserver",
    "Observer",
    "PaymentMethodRepository",
    "PaymentPlanRepository",
    "PaymentProvider",
    "PaymentRepository",
    "PlanTerms",
    "PlanTermsSource",
    "ProviderCapabilities",
    "ProviderDispute",
    "ProviderPayment",
    "ProviderPaymentStatus",
    "ProviderRefund",
    "ProviderRefundStatus",
    "RefundRepository",
    "RefundRequest",
    "RetrieveDisputeRequest",
    "RetrievePaymentRequest",
    "RetrieveRefundRequest",
    "SavedPaymentMethod",
    "StoredWebhook",
    "SubmitDisputeEvidenceRequest",
    "UnitOfWork",
    "UnitOfWorkFactory",
    "WebhookEvent",
    "WebhookKind",
    "WebhookStore",
    "dispute_provider",
]

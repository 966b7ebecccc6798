"""Repositories over SQLAlchemy Core, one per storage port of ``payment_core.ports``.

They run their statements through the unit of work's
:class:`~payment_adapters.sqlalchemy._session.Session` (one connection, one transaction) and
mirror ``payment_core.testing``'s in-memory ones exactly; the contract suite in
``tests/contract`` holds both to the same assertions. One module per aggregate or record kind.
"""

from __future__ import annotations

from payment_adapters.sqlalchemy.repositories._base import dialect_insert
from payment_adapters.sqlalchemy.repositories.billing import SqlAlchemyBillingRepository
from payment_adapters.sqlalchemy.repositories.bookings import (
    SqlAlchemyBookingLocks,
    SqlAlchemyInbox,
)
from payment_adapters.sqlalchemy.repositories.credit_notes import (
    SqlAlchemyCreditNoteNumberAllocator,
    SqlAlchemyCreditNoteRepository,
)
from payment_adapters.sqlalchemy.repositories.disputes import SqlAlchemyDisputeRepository
from payment_adapters.sqlalchemy.repositories.invoices import (
    SqlAlchemyInvoiceNumberAllocator,
    SqlAlchemyInvoiceRepository,
)
from payment_adapters.sqlalchemy.repositories.payment_methods import (
    SqlAlchemyPaymentMethodRepository,
)
from payment_adapters.sqlalchemy.repositories.payment_plans import (
    SqlAlchemyPaymentPlanRepository,
)
from payment_adapters.sqlalchemy.repositories.payments import SqlAlchemyPaymentRepository
from payment_adapters.sqlalchemy.repositories.refunds import SqlAlchemyRefundRepository
from payment_adapters.sqlalchemy.repositories.webhooks import SqlAlchemyWebhookStore

__all__ = [
    "SqlAlchemyBillingRepository",
    "SqlAlchemyBookingLocks",
    "SqlAlchemyCreditNoteNumberAllocator",
    "SqlAlchemyCreditNoteRepository",
    "SqlAlchemyDisputeRepository",
    "SqlAlchemyInbox",
    "SqlAlchemyInvoiceNumberAllocator",
    "SqlAlchemyInvoiceRepository",
    "SqlAlchemyPaymentMethodRepository",
    "SqlAlchemyPaymentPlanRepository",
    "SqlAlchemyPaymentRepository",
    "SqlAlchemyRefundRepository",
    "SqlAlchemyWebhookStore",
    "dialect_insert",
]

"""Explicit mapping between rows and domain objects, with field encryption on the way.

Plain functions rather than an ORM mapping: the aggregates stay ``attrs`` classes that know
nothing of storage, every column is visible here, and encryption happens in one place.
"""

from __future__ import annotations

from payment_adapters.sqlalchemy.mapping._documents import (
    billing_from_row,
    billing_to_row,
    credit_note_from_row,
    credit_note_to_row,
    invoice_from_row,
    invoice_to_row,
)
from payment_adapters.sqlalchemy.mapping._payments import (
    payment_from_row,
    payment_to_row,
    refund_from_row,
    refund_to_row,
)
from payment_adapters.sqlalchemy.mapping._plumbing import (
    response_from_row,
    utc_now,
    webhook_from_row,
    webhook_to_row,
)
from payment_adapters.sqlalchemy.mapping._sealing import (
    Row,
    associated_data,
    open_bytes,
    open_text,
    seal_bytes,
    seal_text,
)

__all__ = [
    "Row",
    "associated_data",
    "billing_from_row",
    "billing_to_row",
    "credit_note_from_row",
    "credit_note_to_row",
    "invoice_from_row",
    "invoice_to_row",
    "open_bytes",
    "open_text",
    "payment_from_row",
    "payment_to_row",
    "refund_from_row",
    "refund_to_row",
    "response_from_row",
    "seal_bytes",
    "seal_text",
    "utc_now",
    "webhook_from_row",
    "webhook_to_row",
]

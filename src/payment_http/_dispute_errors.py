"""The disputes' rows of :data:`payment_http.errors.DOMAIN_ERRORS` (status, title)."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Final

from payment_core.dispute_errors import DisputeEvidenceClosedError, PaymentDisputedError
from payment_core.errors import PaymentError

__all__ = ["DISPUTE_ERRORS"]

DISPUTE_ERRORS: Final[Mapping[type[PaymentError], tuple[int, str]]] = {
    PaymentDisputedError: (409, "Payment disputed"),
    DisputeEvidenceClosedError: (409, "Dispute takes no evidence"),
}

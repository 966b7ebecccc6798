"""Request and list bodies of the disputes' endpoints (beside ``schemas``, strict alike)."""

from __future__ import annotations

from typing import Annotated, TypeAlias

import msgspec
from msgspec import UNSET, Meta, Struct, UnsetType

from payment_adapters.wire import DisputeView
from payment_core.model.dispute import MAX_EVIDENCE_TEXT
from payment_http.schemas import NextCursor

__all__ = ["DisputeEvidence", "DisputeEvidenceRequest", "DisputeList", "DisputeView"]

EvidenceText = Annotated[
    str, Meta(max_length=MAX_EVIDENCE_TEXT, description="Text; `null` removes the field.")
]
_TEXT: TypeAlias = EvidenceText | UnsetType | None


class DisputeEvidence(Struct, forbid_unknown_fields=True, kw_only=True, omit_defaults=True):
    """The evidence fields (text only; files are not taken). Fields left out stay as they
    are."""

    service_date: _TEXT = UNSET
    cancellation_policy: _TEXT = UNSET
    receipt: _TEXT = UNSET
    customer_email_address: _TEXT = UNSET
    customer_name: _TEXT = UNSET
    billing_address: _TEXT = UNSET
    product_description: _TEXT = UNSET
    cancellation_rebuttal: _TEXT = UNSET
    refund_refusal_explanation: _TEXT = UNSET
    uncategorized_text: _TEXT = UNSET

    def fields(self) -> dict[str, str | None]:
        """The fields the request set (``None``: remove)."""
        return {
            name: value
            for name in self.__struct_fields__
            if (value := getattr(self, name)) is not UNSET
        }


class DisputeEvidenceRequest(Struct, forbid_unknown_fields=True, kw_only=True):
    evidence: DisputeEvidence = msgspec.field(default_factory=DisputeEvidence)
    #: Send everything to the provider now (once); the dispute is then `UNDER_REVIEW`.
    submit: bool = False


class DisputeList(Struct):
    items: list[DisputeView]
    next_cursor: NextCursor | None

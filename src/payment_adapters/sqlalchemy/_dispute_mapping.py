"""Disputes to rows and back.

The evidence is personal free text (the guest's e-mail, name and address, what the operator
wrote): it is sealed to its row like every such column (``ENCRYPTED_COLUMNS``)."""

from __future__ import annotations

import json
from typing import TYPE_CHECKING, Any

from payment_adapters.sqlalchemy.mapping import open_bytes, seal_bytes
from payment_core.model.dispute import Dispute, DisputeStatus
from payment_core.money import Currency, Money

if TYPE_CHECKING:
    from sqlalchemy.engine import RowMapping

    from payment_adapters.crypto import Cipher

__all__ = ["dispute_from_row", "dispute_to_row"]


_TABLE = "disputes"


def dispute_to_row(dispute: Dispute, cipher: Cipher) -> dict[str, Any]:
    return {
        "id": dispute.id,
        "payment_id": dispute.payment_id,
        "booking_id": dispute.booking_id,
        "guest_id": dispute.guest_id,
        "provider": dispute.provider,
        "provider_dispute_id": dispute.provider_dispute_id,
        "amount": dispute.amount.amount,
        "currency": dispute.amount.currency.code,
        "reason": dispute.reason,
        "status": dispute.status.value,
        "inquiry": dispute.inquiry,
        "evidence_due_by": dispute.evidence_due_by,
        "evidence": seal_bytes(
            cipher,
            _TABLE,
            "evidence",
            dispute.id,
            json.dumps(dispute.evidence, sort_keys=True, separators=(",", ":")).encode(),
        ),
        "evidence_submitted_at": dispute.evidence_submitted_at,
        "evidence_submitting": dispute.evidence_submitting,
        "funds_withdrawn": dispute.funds_withdrawn,
        "next_check_at": dispute.next_check_at,
        "closed_at": dispute.closed_at,
        "created_at": dispute.created_at,
        "updated_at": dispute.updated_at,
        "version": dispute.version,
    }


def dispute_from_row(row: RowMapping | dict[str, Any], cipher: Cipher) -> Dispute:
    evidence = json.loads(open_bytes(cipher, _TABLE, "evidence", row["id"], row["evidence"]))
    return Dispute(
        id=row["id"],
        payment_id=row["payment_id"],
        booking_id=row["booking_id"],
        guest_id=row["guest_id"],
        provider=row["provider"],
        provider_dispute_id=row["provider_dispute_id"],
        amount=Money(row["amount"], Currency.of(row["currency"])),
        reason=row["reason"],
        status=DisputeStatus(row["status"]),
        created_at=row["created_at"],
        updated_at=row["updated_at"],
        evidence_due_by=row["evidence_due_by"],
        inquiry=bool(row["inquiry"]),
        evidence={str(k): str(v) for k, v in evidence.items()},
        evidence_submitted_at=row["evidence_submitted_at"],
        evidence_submitting=bool(row["evidence_submitting"]),
        funds_withdrawn=bool(row["funds_withdrawn"]),
        next_check_at=row["next_check_at"],
        closed_at=row["closed_at"],
        version=row["version"],
    )

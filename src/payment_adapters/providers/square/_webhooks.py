"""Square's webhooks: the HMAC signature over the notification URL and the raw body, and
Square's events as the core reads them.

``x-square-hmacsha256-signature`` = base64(HMAC-SHA256(signature key, notification URL + raw
body)). Square signs no timestamp; a replayed delivery is caught by its event id.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
from collections.abc import Mapping, Sequence
from typing import Final

from payment_adapters.providers._common import get_header, parse_rfc3339, parse_uuid
from payment_adapters.providers.square._disputes import translate_dispute
from payment_adapters.providers.square._transformers import (
    REFUND_STATUS,
    decline_of,
    placeholder_id,
    square_card,
    square_money,
)
from payment_core.errors import WebhookSignatureError
from payment_core.ports import ProviderRefundStatus, WebhookEvent, WebhookKind
from payment_core.webhook_json import provider_id, read_envelope

__all__ = ["SIGNATURE_HEADER", "translate", "verify"]

SIGNATURE_HEADER: Final = "x-square-hmacsha256-signature"

_PAYMENT_EVENT_KINDS: Final[Mapping[str, WebhookKind]] = {
    "COMPLETED": WebhookKind.PAYMENT_SUCCEEDED,
    "FAILED": WebhookKind.PAYMENT_FAILED,
    "CANCELED": WebhookKind.PAYMENT_CANCELED,
    "APPROVED": WebhookKind.PAYMENT_PROCESSING,
    "PENDING": WebhookKind.PAYMENT_PROCESSING,
}


def verify(
    body: bytes,
    headers: Mapping[str, str],
    *,
    signature_keys: Sequence[str],
    notification_url: str | None,
) -> None:
    """Check a delivery's signature against every key (``WebhookSignatureError`` if none)."""
    if not signature_keys or not notification_url:
        raise WebhookSignatureError(reason="no webhook signature key is configured")
    signature = get_header(headers, SIGNATURE_HEADER)
    if not signature:
        raise WebhookSignatureError(reason="missing signature header")
    if len(signature) > 200:
        raise WebhookSignatureError(reason="signature header too long")
    payload = notification_url.encode() + body
    # Compared as bytes: compare_digest refuses str holding non-ASCII characters with a
    # TypeError, and a forged header may hold anything.
    candidate = signature.strip().encode("utf-8", "replace")
    matched = False
    for key in signature_keys:
        expected = base64.b64encode(hmac.new(key.encode(), payload, hashlib.sha256).digest())
        # Every key is checked (no early exit): timing says nothing about which matched.
        matched |= hmac.compare_digest(expected, candidate)
    if not matched:
        raise WebhookSignatureError(reason="no signature matches")


def translate(body: bytes) -> WebhookEvent:
    """A Square event body -> a :class:`WebhookEvent`."""
    envelope = read_envelope(
        body, id_field="event_id", created_field="created_at", created=parse_rfc3339
    )
    disputed = translate_dispute(envelope)
    if disputed is not None:
        return disputed
    obj = envelope.subject
    payment = obj.get("payment")
    if envelope.type in ("payment.created", "payment.updated") and isinstance(payment, dict):
        kind = _PAYMENT_EVENT_KINDS.get(str(payment.get("status")), WebhookKind.IGNORED)
        failure_code = None
        if kind is WebhookKind.PAYMENT_FAILED:
            failure_code = decline_of(payment)
            if failure_code is None:
                kind = WebhookKind.PAYMENT_REQUIRES_ACTION
        ours = parse_uuid(payment.get("reference_id"))
        amount = square_money(payment.get("amount_money"))
        return envelope.event(
            kind,
            provider_payment_id=provider_id(payment.get("id")),
            payment_id=ours,
            amount=amount,
            card=square_card(payment),
            failure_code=failure_code,
            # Our create named it so until Square did (a confirm whose answer was lost).
            placeholder_payment_id=(
                placeholder_id(ours, amount) if ours and amount and amount.is_positive else None
            ),
        )
    refund = obj.get("refund")
    if envelope.type in ("refund.created", "refund.updated") and isinstance(refund, dict):
        status = REFUND_STATUS.get(str(refund.get("status")))
        event = envelope.refund_event(
            status,
            refund_ref=refund.get("id"),
            payment_ref=refund.get("payment_id"),
            amount=square_money(refund.get("amount_money")),
            failure_code=(
                str(refund.get("status")).lower() if status is ProviderRefundStatus.FAILED else None
            ),
        )
        if event is not None:
            return event
    return envelope.ignored()

"""PayPal's webhooks, verified offline, and PayPal's events as the core reads them.

The scheme is PayPal's documented CRC32 one: the signed message is
``transmission_id|transmission_time|webhook_id|crc32(raw body)``, signed SHA256withRSA with the
certificate at ``PAYPAL-CERT-URL`` (:mod:`._certificates`). PayPal redelivers a webhook for up
to three days and does not document that a redelivery gets a new transmission time, so a
transmission time is accepted for :data:`PAYPAL_REDELIVERY_WINDOW` (a replay inside it is caught
by its event id, which the signature covers); one from the future only within the clock
tolerance.
"""

from __future__ import annotations

import base64
import binascii
import logging
import zlib
from collections.abc import Mapping
from datetime import datetime, timedelta
from typing import Final

from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import padding, rsa

from payment_adapters.providers._common import get_header, parse_rfc3339, parse_uuid
from payment_adapters.providers.paypal._certificates import Certificates
from payment_adapters.providers.paypal._disputes import translate_dispute
from payment_adapters.providers.paypal._transformers import (
    REFUND_STATUS,
    paypal_money,
    processor_code,
)
from payment_core.errors import WebhookSignatureError
from payment_core.ports import ProviderRefundStatus, WebhookEvent, WebhookKind
from payment_core.webhook_json import provider_id, read_envelope

__all__ = ["PAYPAL_REDELIVERY_WINDOW", "WebhookVerifier", "translate"]

logger = logging.getLogger(__name__)

#: How old a webhook's transmission time may be: PayPal retries a delivery "up to 25 times over
#: 3 days" (developer.paypal.com/api/rest/webhooks/rest), plus a day.
PAYPAL_REDELIVERY_WINDOW: Final = timedelta(days=4)

_AUTH_ALGO: Final = "SHA256withRSA"
_MAX_HEADER: Final = 500
_CAPTURE_EVENTS: Final[Mapping[str, WebhookKind]] = {
    "PAYMENT.CAPTURE.COMPLETED": WebhookKind.PAYMENT_SUCCEEDED,
    "PAYMENT.CAPTURE.DENIED": WebhookKind.PAYMENT_FAILED,
    "PAYMENT.CAPTURE.DECLINED": WebhookKind.PAYMENT_FAILED,
    "PAYMENT.CAPTURE.PENDING": WebhookKind.PAYMENT_PROCESSING,
}


class WebhookVerifier:
    """Checks the signature of a delivery to the endpoint PayPal knows as ``webhook_id``.

    ``tolerance_seconds`` bounds a transmission time in the future (clock skew), ``max_age``
    one in the past (PayPal's redeliveries).
    """

    def __init__(
        self,
        webhook_id: str | None,
        certificates: Certificates,
        *,
        tolerance_seconds: int,
        max_age: timedelta,
    ) -> None:
        self._webhook_id = webhook_id
        self._certificates = certificates
        self._tolerance = tolerance_seconds
        self._max_age = max_age

    async def prepare(self, headers: Mapping[str, str], *, now: datetime) -> None:
        """Fetch the delivery's signing certificate, if it is a PayPal one not cached yet.

        Never raises: a certificate that cannot be had makes :meth:`verify` refuse the
        delivery. One that verification would refuse anyway (no webhook id, another
        algorithm, a time out of the window) fetches nothing.
        """
        url = get_header(headers, "PAYPAL-CERT-URL")
        certificates = self._certificates
        if (
            not url
            or len(url) > _MAX_HEADER
            or not certificates.allowed(url)
            or url in certificates
        ):
            return
        sent = parse_rfc3339(get_header(headers, "PAYPAL-TRANSMISSION-TIME"))
        if (
            not self._webhook_id
            or get_header(headers, "PAYPAL-AUTH-ALGO") != _AUTH_ALGO
            or sent is None
            or self._stale(sent, now) is not None
        ):
            return
        await certificates.fetch(url)

    def verify(self, body: bytes, headers: Mapping[str, str], *, now: datetime) -> None:
        """Check a delivery's signature on its raw body (after :meth:`prepare`)."""
        if not self._webhook_id:
            raise WebhookSignatureError(reason="no webhook id is configured")
        transmission_id = get_header(headers, "PAYPAL-TRANSMISSION-ID")
        transmission_time = get_header(headers, "PAYPAL-TRANSMISSION-TIME")
        signature = get_header(headers, "PAYPAL-TRANSMISSION-SIG")
        cert_url = get_header(headers, "PAYPAL-CERT-URL")
        algorithm = get_header(headers, "PAYPAL-AUTH-ALGO")
        if not (transmission_id and transmission_time and signature and cert_url):
            raise WebhookSignatureError(reason="missing signature header")
        if algorithm != _AUTH_ALGO:
            raise WebhookSignatureError(reason="unsupported signature algorithm")
        if max(len(transmission_id), len(transmission_time), len(cert_url)) > _MAX_HEADER:
            raise WebhookSignatureError(reason="signature header too long")
        sent = parse_rfc3339(transmission_time)
        if sent is None:
            raise WebhookSignatureError(reason="malformed timestamp")
        stale = self._stale(sent, now)
        if stale is not None:
            raise WebhookSignatureError(reason=stale)
        try:
            raw_signature = base64.b64decode(signature, validate=True)
        except (binascii.Error, ValueError):
            raise WebhookSignatureError(reason="malformed signature") from None
        key = self._certificates.get(cert_url, now).public_key()
        if not isinstance(key, rsa.RSAPublicKey):
            raise WebhookSignatureError(reason="certificate key is not RSA")
        message = f"{transmission_id}|{transmission_time}|{self._webhook_id}|{zlib.crc32(body)}"
        try:
            key.verify(raw_signature, message.encode(), padding.PKCS1v15(), hashes.SHA256())
        except InvalidSignature:
            raise WebhookSignatureError(reason="no signature matches") from None

    def _stale(self, sent: datetime, now: datetime) -> str | None:
        """Why a transmission time is refused: older than PayPal's redeliveries, or ahead of
        our clock by more than the tolerance; ``None`` when it is fine."""
        age = (now - sent).total_seconds()
        if age > self._max_age.total_seconds():
            return "timestamp too old"
        if -age > self._tolerance:
            return "timestamp in the future"
        return None


def translate(body: bytes) -> WebhookEvent:
    """A PayPal event body -> a :class:`WebhookEvent`."""
    envelope = read_envelope(
        body,
        type_field="event_type",
        subject_at=("resource",),
        created_field="create_time",
        created=parse_rfc3339,
    )
    disputed = translate_dispute(envelope)
    if disputed is not None:
        return disputed
    resource = envelope.subject
    kind = _CAPTURE_EVENTS.get(envelope.type)
    if kind is not None:
        related = resource.get("supplementary_data")
        related_ids = related.get("related_ids") if isinstance(related, dict) else None
        order_id = related_ids.get("order_id") if isinstance(related_ids, dict) else None
        return envelope.event(
            kind,
            provider_payment_id=provider_id(order_id),
            payment_id=parse_uuid(resource.get("custom_id")),
            amount=paypal_money(resource.get("amount")),
            failure_code=processor_code(resource) if kind is WebhookKind.PAYMENT_FAILED else None,
        )
    if envelope.type == "PAYMENT.CAPTURE.REFUNDED":
        status = REFUND_STATUS.get(str(resource.get("status")))
        refund = envelope.refund_event(
            status,
            refund_ref=resource.get("id"),
            amount=paypal_money(resource.get("amount")),
            failure_code="refund_failed" if status is ProviderRefundStatus.FAILED else None,
        )
        if refund is not None:
            return refund
    if envelope.type == "PAYMENT.CAPTURE.REVERSED":
        # PayPal took the money back (a reversal, not a refund we asked for): nothing in
        # our model moves by itself; someone has to look.
        logger.warning("paypal reversed a capture (event %s); needs a human", envelope.id)
    return envelope.ignored()

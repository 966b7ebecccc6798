"""Stripe's webhook signature scheme, used by Stripe and by the fake provider.

Header ``t=<unix seconds>,v1=<hex HMAC-SHA256 of "t.body">[,v1=...]``. A delivery is accepted
when any ``v1`` matches any configured secret (several secrets let one rotate) in constant time,
and ``t`` is within the tolerance of now in either direction (a replay of an old delivery and a
forged future timestamp are both refused).
"""

from __future__ import annotations

import hashlib
import hmac
from collections.abc import Mapping, Sequence
from datetime import datetime
from typing import Final

from payment_core.errors import WebhookSignatureError

__all__ = ["DEFAULT_TOLERANCE_SECONDS", "get_header", "sign", "signature_header", "verify"]

DEFAULT_TOLERANCE_SECONDS: Final = 300
_MAX_HEADER: Final = 4096


def get_header(headers: Mapping[str, str] | None, name: str) -> str | None:
    """A header by case-insensitive name (webhook frameworks differ in how they case them)."""
    if not headers:
        return None
    direct = headers.get(name)
    if direct is not None:
        return direct
    lowered = name.lower()
    for key, value in headers.items():
        if key.lower() == lowered:
            return value
    return None


def sign(secret: str, timestamp: int, body: bytes) -> str:
    """The hex ``v1`` signature of ``body`` at ``timestamp``."""
    payload = str(timestamp).encode("ascii") + b"." + body
    return hmac.new(secret.encode("utf-8"), payload, hashlib.sha256).hexdigest()


def signature_header(secret: str, timestamp: int, body: bytes) -> str:
    """A complete header value for one secret."""
    return f"t={timestamp},v1={sign(secret, timestamp, body)}"


def verify(
    header: str | None,
    body: bytes,
    secrets: Sequence[str],
    *,
    now: datetime,
    tolerance_seconds: int = DEFAULT_TOLERANCE_SECONDS,
) -> int:
    """Check ``header`` against ``body``; the signed timestamp, or ``WebhookSignatureError``."""
    if not header:
        raise WebhookSignatureError(reason="missing signature header")
    if len(header) > _MAX_HEADER:
        raise WebhookSignatureError(reason="signature header too long")
    if not secrets:
        raise WebhookSignatureError(reason="no webhook secret is configured")
    timestamp: int | None = None
    signatures: list[str] = []
    for part in header.split(","):
        key, sep, value = part.strip().partition("=")
        if not sep:
            continue
        if key == "t":
            if not (value.isascii() and value.isdigit() and len(value) <= 12):
                raise WebhookSignatureError(reason="malformed timestamp")
            timestamp = int(value)
        elif key == "v1":
            signatures.append(value)
    if timestamp is None:
        raise WebhookSignatureError(reason="no timestamp in signature header")
    if not signatures:
        raise WebhookSignatureError(reason="no v1 signature in header")
    age = int(now.timestamp()) - timestamp
    if age > tolerance_seconds:
        raise WebhookSignatureError(reason="timestamp too old")
    if -age > tolerance_seconds:
        raise WebhookSignatureError(reason="timestamp in the future")
    # Compared as bytes: compare_digest refuses str holding non-ASCII characters with a
    # TypeError, and a forged header may hold anything.
    candidates = [c.encode("utf-8", "replace") for c in signatures]
    matched = False
    for secret in secrets:
        expected = sign(secret, timestamp, body).encode("ascii")
        for candidate in candidates:
            # Check every pair (no early exit), so timing says nothing about which matched.
            matched |= hmac.compare_digest(expected, candidate)
    if not matched:
        raise WebhookSignatureError(reason="no signature matches")
    return timestamp

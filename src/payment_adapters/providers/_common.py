"""What every provider adapter shares: bounded retries, redaction, small parsers.

Retries: an adapter retries only an *unknown* outcome (a timeout, a dropped connection, a 5xx,
a 429), and every attempt of one operation carries the same idempotency key, so the provider
does the work at most once whatever the number of attempts. A definite answer (a decline, a
rejection) is never retried here. The backoff is exponential with equal jitter and honours a
``Retry-After`` up to a bound; a provider asking for a longer pause gets the outcome reported as
unknown at once, which the services settle later (refund retries, reconciliation).
"""

from __future__ import annotations

import asyncio
import logging
import re
import secrets
from collections.abc import Awaitable, Callable, Iterable, Mapping
from datetime import UTC, datetime
from email.utils import parsedate_to_datetime
from typing import Final, TypeVar
from uuid import UUID

import attrs

from payment_core.card_data import find_raw_card_data, redact_card_numbers
from payment_core.errors import ProviderRejectedError, ProviderUnavailableError
from payment_core.ports import ProviderDispute
from payment_core.signing import get_header

__all__ = [
    "Backoff",
    "Redactor",
    "call_with_retries",
    "expect_dispute",
    "get_header",
    "labelled_evidence",
    "parse_retry_after",
    "parse_rfc3339",
    "parse_uuid",
    "redact_text",
    "refuse_raw_card_data",
    "retry_after",
]

T = TypeVar("T")

_MAX_MESSAGE: Final = 300


def _positive_attempts(_: object, __: object, value: int) -> None:
    if type(value) is not int or value < 1:
        raise ValueError("attempts must be an integer >= 1")


async def _default_sleep(seconds: float) -> None:
    await asyncio.sleep(seconds)


@attrs.frozen(kw_only=True)
class Backoff:
    """How often and how patiently an adapter retries an operation whose outcome is unknown.

    ``attempts`` counts every try (3: the first and two retries). Retry ``n`` waits between
    half and all of ``min(cap, base * 2**(n-1))`` seconds, or the provider's ``Retry-After``
    when that is longer and at most ``max_retry_after_seconds``. ``sleep`` and ``randbelow``
    are injectable so that tests never wait.
    """

    attempts: int = attrs.field(default=3, validator=_positive_attempts)
    base_seconds: float = 0.25
    cap_seconds: float = 4.0
    max_retry_after_seconds: float = 10.0
    sleep: Callable[[float], Awaitable[None]] = _default_sleep
    randbelow: Callable[[int], int] = secrets.randbelow

    def delay(self, retry: int, retry_after: int | None = None) -> float | None:
        """Seconds to wait before retry ``retry`` (1-based); ``None``: do not retry now."""
        ceiling_ms = int(min(self.cap_seconds, self.base_seconds * 2 ** min(retry - 1, 30)) * 1000)
        half = ceiling_ms // 2
        wait = (half + self.randbelow(ceiling_ms - half + 1)) / 1000
        if retry_after is not None:
            if retry_after > self.max_retry_after_seconds:
                return None
            wait = max(wait, float(retry_after))
        return wait


async def call_with_retries(
    call: Callable[[], Awaitable[T]],
    *,
    backoff: Backoff,
    provider: str,
    operation: str,
    logger: logging.Logger,
) -> T:
    """Run ``call`` until it gives a definite answer or the attempts run out.

    ``call`` must send the same idempotency key on every attempt; only
    ``ProviderUnavailableError`` (outcome unknown) is retried.
    """
    for attempt in range(1, backoff.attempts + 1):
        try:
            return await call()
        except ProviderUnavailableError as exc:
            if attempt == backoff.attempts:
                raise
            wait = backoff.delay(attempt, exc.retry_after_seconds)
            if wait is None:
                logger.info(
                    "%s %s: provider asks to wait %ss; reporting the outcome as unknown",
                    provider,
                    operation,
                    exc.retry_after_seconds,
                )
                raise
            logger.info(
                "%s %s: outcome unknown (%s); retry %d/%d with the same idempotency key in %.3fs",
                provider,
                operation,
                exc.message,
                attempt,
                backoff.attempts - 1,
                wait,
            )
            await backoff.sleep(wait)
    raise AssertionError("unreachable")  # pragma: no cover


# ---------------------------------------------------------------------------- redaction

_KEY_PATTERNS: Final = (
    # Stripe secret, restricted and publishable keys, webhook secrets.
    re.compile(r"\b(?:sk|rk|pk)_(?:live|test)_[A-Za-z0-9*]+"),
    re.compile(r"\bwhsec_[A-Za-z0-9]+"),
    # Bearer tokens and Basic credentials quoted back in an error.
    re.compile(r"(?i)\b(bearer|basic)\s+[A-Za-z0-9._~+/=-]{8,}"),
)


def redact_text(text: str) -> str:
    """``text`` without anything shaped like a key, a bearer token or a card number."""
    for pattern in _KEY_PATTERNS:
        text = pattern.sub("[redacted]", text)
    # Card numbers however they are separated (payment_core.card_data), ids left readable.
    return redact_card_numbers(text, "[redacted]")


def refuse_raw_card_data(**values: str | None) -> None:
    """Never send a provider anything that looks like a card number, whatever the caller did.

    The services refuse raw card data at the edge already; this is the adapters' own guard, so
    that a card number cannot reach a provider's request, its error message or an SDK's log.
    """
    found = find_raw_card_data({k: v for k, v in values.items() if v is not None})
    if found is not None:
        raise ProviderRejectedError(
            reason_code="raw_card_data_forbidden",
            message=f"{found}: raw card data is never sent to a provider; pass a token",
        )


class Redactor:
    """Strips secrets and card numbers from text that came from a provider.

    A provider's error message may quote what we sent (a parameter, a token, part of a key);
    such text goes into exception messages and logs only through :meth:`clean`.
    """

    def __init__(self, secrets_: Iterable[str | None] = ()) -> None:
        # Longest first, so that a secret containing another is removed whole.
        self._secrets = sorted({s for s in secrets_ if s and len(s) >= 4}, key=len, reverse=True)

    def clean(self, text: object, *, default: str = "") -> str:
        if not isinstance(text, str) or not text:
            return default
        out = text
        for secret in self._secrets:
            out = out.replace(secret, "[redacted]")
        out = " ".join(redact_text(out).split())
        return out[:_MAX_MESSAGE] or default


# ---------------------------------------------------------------------------- small parsers


def labelled_evidence(name: str, text: str) -> str:
    """One evidence field as text a provider files as notes: ``Customer name: Ana``; the
    free text (``uncategorized_text``) as it is."""
    if name == "uncategorized_text":
        return text
    return f"{name.replace('_', ' ').capitalize()}: {text}"


def expect_dispute(
    found: ProviderDispute | None, expected_id: str, provider: str
) -> ProviderDispute:
    """``found``, the dispute asked about; another one (or none) is refused."""
    if found is None or found.provider_dispute_id != expected_id:
        raise ProviderRejectedError(
            reason_code="unexpected_reply", message=f"{provider} answered with another dispute."
        )
    return found


def retry_after(headers: Mapping[str, str] | None) -> int | None:
    """The seconds a provider's ``Retry-After`` header asks for, or ``None``."""
    return parse_retry_after(get_header(headers, "Retry-After"))


def parse_retry_after(value: str | None, *, now: datetime | None = None) -> int | None:
    """``Retry-After`` as whole seconds (delta-seconds or an HTTP date), ``None`` if absent."""
    if not value:
        return None
    value = value.strip()
    if value.isascii() and value.isdigit() and len(value) <= 9:
        return int(value)
    try:
        when = parsedate_to_datetime(value)
    except (TypeError, ValueError, IndexError):
        return None
    if when.tzinfo is None:
        when = when.replace(tzinfo=UTC)
    seconds = int((when - (now or datetime.now(UTC))).total_seconds())
    return max(0, seconds)


def parse_rfc3339(value: object) -> datetime | None:
    """An RFC 3339 timestamp (``2026-01-01T12:00:00Z``, fractions allowed) as aware UTC."""
    if not isinstance(value, str) or not 10 <= len(value) <= 40:
        return None
    text = value.strip()
    if text.endswith(("Z", "z")):
        text = text[:-1] + "+00:00"
    try:
        parsed = datetime.fromisoformat(text)
    except ValueError:
        return None
    if parsed.tzinfo is None:
        return None
    return parsed.astimezone(UTC)


def parse_uuid(value: object) -> UUID | None:
    if not isinstance(value, str) or len(value) > 64:
        return None
    try:
        return UUID(value)
    except ValueError:
        return None

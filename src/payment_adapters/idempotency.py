"""The idempotency-key store the HTTP layer claims each ``Idempotency-Key`` in: the port, its
two records, and an in-memory implementation.

No use case calls it (the core makes its own retries safe with keys derived from our ids); it
serves ``payment_http.idempotency``, which replays a request's first response. The SQL store is
``payment_adapters.sqlalchemy.idempotency``; the two behave the same (tests/contract).
"""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Protocol

import attrs

from payment_core.errors import IdempotencyKeyReusedError, IdempotencyRequestInProgressError

__all__ = ["IdempotencyClaim", "IdempotencyStore", "InMemoryIdempotencyStore", "StoredResponse"]


@attrs.frozen(slots=True)
class StoredResponse:
    """What the first request with an idempotency key answered."""

    status: int
    body: bytes = attrs.field(repr=False)
    content_type: str = "application/json"


@attrs.frozen(slots=True)
class IdempotencyClaim:
    """The result of claiming a key: ours to run (``replay is None``) or a stored response."""

    replay: StoredResponse | None = None


class IdempotencyStore(Protocol):
    """Idempotency keys, claimed atomically (Brandur Leach's design, on our own store)."""

    async def claim(
        self,
        key: str,
        fingerprint: str,
        *,
        now: datetime,
        ttl: timedelta,
        lock_timeout: timedelta,
    ) -> IdempotencyClaim:
        """Claim ``key`` for a request whose method, path and body hash to ``fingerprint``.

        Returns an empty claim when the caller should run the request, or the stored response
        to replay. Raises ``IdempotencyKeyReusedError`` for another fingerprint and
        ``IdempotencyRequestInProgressError`` while a live first request holds it (a lock older
        than ``lock_timeout`` is taken over: a crashed request does not block its key forever).
        """
        ...

    async def complete(self, key: str, response: StoredResponse, *, now: datetime) -> None:
        """Store the response for replay and release the lock."""
        ...

    async def release(self, key: str) -> None:
        """Forget a claim whose request changed nothing (so a retry may run it)."""
        ...

    async def purge_expired(self, now: datetime, limit: int) -> int:
        """Delete up to ``limit`` expired keys; the number deleted."""
        ...


@attrs.define(slots=True)
class _Key:
    fingerprint: str
    created_at: datetime
    locked_at: datetime | None
    expires_at: datetime
    response: StoredResponse | None = None


class InMemoryIdempotencyStore:
    """Idempotency keys in memory, with the same claim semantics as the SQL store."""

    def __init__(self) -> None:
        self._keys: dict[str, _Key] = {}

    async def claim(
        self,
        key: str,
        fingerprint: str,
        *,
        now: datetime,
        ttl: timedelta,
        lock_timeout: timedelta,
    ) -> IdempotencyClaim:
        entry = self._keys.get(key)
        if entry is not None and entry.expires_at <= now:
            entry = None
        if entry is None:
            self._keys[key] = _Key(fingerprint, now, now, now + ttl)
            return IdempotencyClaim()
        if entry.fingerprint != fingerprint:
            raise IdempotencyKeyReusedError(key=key)
        if entry.response is not None:
            return IdempotencyClaim(replay=entry.response)
        if entry.locked_at is not None and now - entry.locked_at < lock_timeout:
            raise IdempotencyRequestInProgressError(key=key)
        entry.locked_at = now  # a stale lock: the first request died; take it over
        return IdempotencyClaim()

    async def complete(self, key: str, response: StoredResponse, *, now: datetime) -> None:
        entry = self._keys.get(key)
        if entry is not None:
            entry.response = response
            entry.locked_at = None

    async def release(self, key: str) -> None:
        self._keys.pop(key, None)

    async def purge_expired(self, now: datetime, limit: int) -> int:
        expired = [k for k, e in self._keys.items() if e.expires_at <= now][:limit]
        for k in expired:
            del self._keys[k]
        return len(expired)

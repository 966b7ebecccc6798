"""Idempotency keys in memory, with the same claim semantics as the SQL store."""

from __future__ import annotations

from datetime import datetime, timedelta

import attrs

from payment_core.errors import IdempotencyKeyReusedError, IdempotencyRequestInProgressError
from payment_core.ports import IdempotencyClaim, StoredResponse

__all__ = ["InMemoryIdempotencyStore"]


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

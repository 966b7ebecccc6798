"""A client-side token bucket, so that a burst of our own traffic stays under a provider's limits.

Providers answer a request over their limit with 429 (Stripe allows about 25 requests a second
in live mode, fewer in test mode); being refused costs a round trip and a backoff, so it is
cheaper not to send what would be refused. The bucket holds ``burst`` tokens, refills at
``rate`` tokens a second, and every request takes one, waiting for it if none is left.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Awaitable, Callable

__all__ = ["TokenBucket"]

_EPSILON = 1e-9
_MIN_WAIT = 0.001


class TokenBucket:
    """``await bucket.acquire()`` before each request; waiters are served in arrival order.

    ``clock`` (monotonic seconds) and ``sleep`` are injectable so tests run without waiting.
    """

    def __init__(
        self,
        rate: float = 25.0,
        burst: int | None = None,
        *,
        clock: Callable[[], float] = time.monotonic,
        sleep: Callable[[float], Awaitable[None]] = asyncio.sleep,
    ) -> None:
        if not rate > 0:
            raise ValueError("rate must be positive")
        capacity = burst if burst is not None else max(1, int(rate))
        if capacity < 1:
            raise ValueError("burst must be at least 1")
        self._rate = rate
        self._capacity = float(capacity)
        self._tokens = float(capacity)
        self._clock = clock
        self._sleep = sleep
        self._updated = clock()
        self._lock: asyncio.Lock | None = None

    @property
    def rate(self) -> float:
        return self._rate

    def _refill(self) -> None:
        now = self._clock()
        elapsed = max(0.0, now - self._updated)
        self._updated = now
        self._tokens = min(self._capacity, self._tokens + elapsed * self._rate)

    async def acquire(self) -> None:
        """Take one token, waiting until one is available."""
        if self._lock is None:
            self._lock = asyncio.Lock()
        # One waiter at a time: the next in line waits for the refill, the rest queue behind it.
        async with self._lock:
            while True:
                self._refill()
                # A hair of tolerance: float refills can land a rounding error short of 1.
                if self._tokens >= 1.0 - _EPSILON:
                    self._tokens = max(0.0, self._tokens - 1.0)
                    return
                await self._sleep(max((1.0 - self._tokens) / self._rate, _MIN_WAIT))

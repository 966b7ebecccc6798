"""Wake the outbox relays after a commit: one ``NOTIFY`` per interval per process, at most.

A ``NOTIFY`` inside the transaction that writes outbox rows would be the simplest wake-up,
but PostgreSQL serialises every notifying commit on one global lock (the notification
queue's): on a 2-core machine the same payment inserts commit about 1,900 times a second
with it and about 5,000 without (``bench/README.md``). So a commit only *pokes* this
process's waker, which sends ``NOTIFY payments_outbox`` on a connection of its own, in a
transaction of its own, after the commit:

- the first poke after a quiet spell is sent at once (an idle relay wakes within a round
  trip or two);
- pokes that arrive while a notification is in flight or within ``interval`` of the last
  are coalesced into one more, sent when the interval is over: at most ``1 / interval``
  notifications a second per process, whatever the commit rate.

A wake-up is a hint, never the guarantee: the relay polls the outbox too (once a second
when it listens), so a lost notification (this connection down, a crash between commit
and poke) delays an event by at most the poll interval, and never loses it.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from typing import Any, Final

__all__ = ["WAKE_INTERVAL", "OutboxWaker"]

logger = logging.getLogger(__name__)

#: The shortest time between two notifications of one process (seconds). The relay gathers
#: the commits of 10 ms after a wake-up anyway, so this costs no latency.
WAKE_INTERVAL: Final = 0.01
#: After a failed notification, how long pokes are only remembered (the relay polls).
RETRY_AFTER: Final = 1.0


class OutboxWaker:
    """Coalesced ``NOTIFY <channel>`` after commits (see the module's docstring)."""

    def __init__(self, dsn: str, channel: str, *, interval: float = WAKE_INTERVAL) -> None:
        self._dsn = dsn
        # A channel is an identifier: quoted, so that any name is sent as it is.
        self._statement = 'NOTIFY "' + channel.replace('"', '""') + '"'
        self.interval = interval
        self._pending = False
        self._task: asyncio.Task[None] | None = None
        self._conn: Any = None
        self._loop: asyncio.AbstractEventLoop | None = None
        self._failing = False
        #: Notifications sent (for tests and the benchmarks).
        self.sent = 0

    def poke(self) -> None:
        """A commit wrote outbox rows: make sure a notification follows (cheap, never waits)."""
        self._pending = True
        loop = asyncio.get_running_loop()
        task = self._task
        if task is not None and self._loop is loop and not task.done():
            return  # the sender sees it before it stops (no await between its check and end)
        if self._loop is not loop:
            # A new event loop (a test's, a second asyncio.run): the old loop's connection
            # cannot be used or awaited from here.
            self._abandon()
            self._loop = loop
        self._task = loop.create_task(self._send(), name="outbox-waker")

    async def _send(self) -> None:
        try:
            while self._pending:
                self._pending = False
                try:
                    await self._notify()
                except Exception as exc:
                    self._abandon()
                    if not self._failing:
                        logger.warning(
                            "outbox wake-up failed (%s): the relay's polling delivers",
                            type(exc).__name__,
                        )
                    self._failing = True
                    await asyncio.sleep(RETRY_AFTER)
                    continue
                self._failing = False
                await asyncio.sleep(self.interval)
        finally:
            if self._task is asyncio.current_task():
                self._task = None

    async def _notify(self) -> None:
        """One ``NOTIFY`` on this waker's connection, opened when there is none."""
        if self._conn is None or self._conn.is_closed():
            self._conn = await self._connect()
        await self._conn.execute(self._statement)
        self.sent += 1

    async def _connect(self) -> Any:
        import asyncpg  # noqa: PLC0415 - only on PostgreSQL

        return await asyncpg.connect(
            self._dsn,
            timeout=10,
            server_settings={"application_name": "payment-service-wake"},
        )

    def _abandon(self) -> None:
        conn, self._conn = self._conn, None
        if conn is not None and not conn.is_closed():
            # Its loop may be closed already (an app served from a thread that has ended):
            # then nothing can be sent on it, and its socket goes with the object.
            with contextlib.suppress(RuntimeError):
                conn.terminate()

    async def close(self) -> None:
        """Stop, sending one last notification if a commit may still be unannounced (a
        process that stops right after its last commit), then close the connection."""
        task, self._task = self._task, None
        same_loop = self._loop is asyncio.get_running_loop()
        last = self._pending or task is not None
        self._pending = False
        if task is not None and same_loop:
            task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await task
        if not same_loop:
            self._abandon()
            return
        if last:
            with contextlib.suppress(Exception):
                async with asyncio.timeout(2):
                    await self._notify()
        conn, self._conn = self._conn, None
        if conn is not None and not conn.is_closed():
            with contextlib.suppress(Exception):
                await asyncio.wait_for(conn.close(), 5)

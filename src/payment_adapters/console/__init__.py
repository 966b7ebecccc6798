"""What the operator console reads and keeps, beyond the use cases: its queries and its sessions.

The console's pages need reads that no use case has (a search over every payment, totals by
day, the lists of what needs a person, stored webhooks, the outbox backlog). They are a read
model here, beside the storage they read, not repository methods of the core: nothing in the
core decides anything by them, and they are shaped for a screen (summaries without any
secret field, newest first). Every action still goes through the use cases.

:func:`console_queries` and :func:`console_sessions` pick the implementation for a runtime:
SQL over its database, or the in-memory harness's store.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from payment_adapters.console.model import (
    DailyDisputes,
    DailyPayments,
    DailyRefunds,
    OutboxBacklog,
    OutboxItem,
    PaymentFilter,
    PaymentSummary,
    RefundSummary,
    SessionRecord,
    StreamEvent,
    WebhookSummary,
)
from payment_adapters.console.ports import ConsoleQueries, SessionStore

if TYPE_CHECKING:
    from payment_adapters.bootstrap import Runtime

__all__ = [
    "ConsoleQueries",
    "DailyDisputes",
    "DailyPayments",
    "DailyRefunds",
    "OutboxBacklog",
    "OutboxItem",
    "PaymentFilter",
    "PaymentSummary",
    "RefundSummary",
    "SessionRecord",
    "SessionStore",
    "StreamEvent",
    "WebhookSummary",
    "console_queries",
    "console_sessions",
]


def console_queries(runtime: Runtime) -> ConsoleQueries:
    """The read model over the runtime's storage."""
    if runtime.database is not None:
        from payment_adapters.console.sql import SqlConsoleQueries  # noqa: PLC0415

        return SqlConsoleQueries(runtime.database)
    if runtime.harness is None:  # pragma: no cover - every runtime has one or the other
        raise RuntimeError("the runtime has no storage to read")
    from payment_adapters.console.memory import InMemoryConsoleQueries  # noqa: PLC0415

    return InMemoryConsoleQueries(runtime.harness.store)


def console_sessions(runtime: Runtime) -> SessionStore:
    """Where the runtime keeps console sessions: its database, or this process's memory."""
    if runtime.database is not None:
        from payment_adapters.console.sql import SqlSessionStore  # noqa: PLC0415

        return SqlSessionStore(runtime.database)
    from payment_adapters.console.memory import InMemorySessionStore  # noqa: PLC0415

    return InMemorySessionStore()

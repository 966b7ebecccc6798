"""In-memory implementations of every storage port (kept for imports of this module's names;
the harness's public face is :mod:`payment_core.testing`)."""

from __future__ import annotations

from payment_core.testing._memory_store import InMemoryStore, OutboxEntry
from payment_core.testing._memory_uow import InMemoryUnitOfWork

__all__ = [
    "InMemoryStore",
    "InMemoryUnitOfWork",
    "OutboxEntry",
]

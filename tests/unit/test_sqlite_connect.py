"""The SQLite connect hook's WAL switch waits out a racing connection, and only that."""

from __future__ import annotations

import sqlite3

import pytest
from sqlalchemy.util import greenlet_spawn

from payment_adapters.sqlalchemy import _sqlite


class _Cursor:
    """Answers the WAL pragma with ``failures`` errors first, then success."""

    def __init__(self, failures: list[Exception]) -> None:
        self.failures = failures
        self.executed: list[str] = []

    def execute(self, sql: str) -> None:
        self.executed.append(sql)
        if sql == "PRAGMA journal_mode=WAL" and self.failures:
            raise self.failures.pop(0)


async def test_a_locked_database_is_asked_again_until_the_switch_succeeds():
    cursor = _Cursor([sqlite3.OperationalError("database is locked")] * 3)
    await greenlet_spawn(_sqlite._enable_wal, cursor)
    assert cursor.executed == ["PRAGMA journal_mode=WAL"] * 4


async def test_any_other_error_is_raised_at_once():
    cursor = _Cursor([sqlite3.OperationalError("disk I/O error")])
    with pytest.raises(sqlite3.OperationalError, match="disk I/O"):
        await greenlet_spawn(_sqlite._enable_wal, cursor)
    assert cursor.executed == ["PRAGMA journal_mode=WAL"]


async def test_a_lock_held_past_the_busy_timeout_is_raised(monkeypatch):
    monkeypatch.setattr(_sqlite, "BUSY_TIMEOUT_SECONDS", 0.05)
    cursor = _Cursor([sqlite3.OperationalError("database is locked")] * 10_000)
    with pytest.raises(sqlite3.OperationalError, match="locked"):
        await greenlet_spawn(_sqlite._enable_wal, cursor)
    assert 2 <= len(cursor.executed) < 10_000

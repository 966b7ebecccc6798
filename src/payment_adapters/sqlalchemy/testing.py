"""Throw-away PostgreSQL databases for tests and benchmarks.

``create_database`` makes a fresh, uniquely named database on a server (connecting to its
maintenance database with asyncpg) and returns an async SQLAlchemy URL for it;
``drop_database`` removes it again, disconnecting whoever is left. An unreachable server
raises: tests that need PostgreSQL fail, they never skip.
"""

from __future__ import annotations

import os
import re
import secrets
from typing import Final

import asyncpg
from sqlalchemy.engine import make_url

__all__ = ["DEFAULT_SERVER_URL", "create_database", "drop_database", "server_url"]

#: The local server the test suites use unless ``TEST_POSTGRES_URL`` says otherwise.
DEFAULT_SERVER_URL: Final = "postgresql://postgres@127.0.0.1:5432/postgres"
_NAME: Final = re.compile(r"[a-z0-9_]{1,63}")


def server_url() -> str:
    """The maintenance-database URL of the test server (``TEST_POSTGRES_URL`` or the default)."""
    return os.environ.get("TEST_POSTGRES_URL", DEFAULT_SERVER_URL)


def _dsn(url: str) -> str:
    return make_url(url).set(drivername="postgresql").render_as_string(hide_password=False)


async def create_database(prefix: str = "payments_test", *, server: str | None = None) -> str:
    """Create ``<prefix>_<random hex>`` and return its ``postgresql+asyncpg://`` URL."""
    name = f"{prefix}_{secrets.token_hex(6)}"
    if not _NAME.fullmatch(name):
        raise ValueError(f"not a safe database name: {name!r}")
    admin = server or server_url()
    conn = await asyncpg.connect(_dsn(admin), timeout=10)
    try:
        await conn.execute(f'CREATE DATABASE "{name}"')
    finally:
        await conn.close()
    url = make_url(admin).set(drivername="postgresql+asyncpg", database=name)
    return url.render_as_string(hide_password=False)


async def drop_database(url: str, *, server: str | None = None) -> None:
    """Drop the database ``url`` names, closing any connection still open to it."""
    name = make_url(url).database or ""
    if not _NAME.fullmatch(name):
        raise ValueError(f"not a safe database name: {name!r}")
    conn = await asyncpg.connect(_dsn(server or server_url()), timeout=10)
    try:
        await conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
    finally:
        await conn.close()

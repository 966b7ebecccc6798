"""Maintenance of the configured database, for the command line: migrations and key rotation.

The HTTP package reaches storage only through here and :mod:`payment_adapters.bootstrap`, so
that it never imports SQLAlchemy modules itself. Nothing happens at import time.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING

from payment_adapters.bootstrap import build_cipher

if TYPE_CHECKING:
    from payment_adapters.crypto import FieldCipher
    from payment_adapters.settings import Settings
    from payment_adapters.sqlalchemy import Database

__all__ = ["Admin"]


class Admin:
    """The configured database and field cipher, for one maintenance command."""

    def __init__(self, database: Database, cipher: FieldCipher) -> None:
        self._database = database
        self._cipher = cipher

    @classmethod
    def from_settings(cls, settings: Settings, *, pool_size: int = 2) -> Admin:
        """Over ``DATABASE_URL`` and ``ENCRYPTION_KEYS`` (no I/O yet).

        A setting that cannot work raises ``ValueError`` or ``RuntimeError`` naming its
        variable, as :func:`~payment_adapters.bootstrap.bootstrap` does.
        """
        from payment_adapters.sqlalchemy import Database  # noqa: PLC0415 - optional extra

        cipher = build_cipher(settings)
        database = Database.from_url(settings.database_url, cipher=cipher, pool_size=pool_size)
        return cls(database, cipher)

    @property
    def primary_key_id(self) -> str:
        """The id of the key new values are sealed with (the first of ``ENCRYPTION_KEYS``)."""
        return self._cipher.primary_key_id

    async def migrate(self) -> None:
        """Bring the schema to the latest revision (see ``Database.migrate``)."""
        await self._database.migrate()

    async def count_encrypted_rows(self) -> int:
        """How many rows hold encrypted values: what :meth:`rotate_keys` walks through."""
        from payment_adapters.sqlalchemy.rotation import count_encrypted_rows  # noqa: PLC0415

        return await count_encrypted_rows(self._database)

    async def rotate_keys(
        self, *, batch_size: int = 500, progress: Callable[[int], None] | None = None
    ) -> int:
        """Re-encrypt every value not under the primary key; the rows rewritten."""
        from payment_adapters.sqlalchemy.rotation import rotate_keys  # noqa: PLC0415

        return await rotate_keys(
            self._database, self._cipher, batch_size=batch_size, progress=progress
        )

    async def aclose(self) -> None:
        """Close the database pool."""
        await self._database.dispose()

"""Alembic migrations, run programmatically (there is no ``alembic.ini``).

``Database.migrate()`` is the way in: it takes a lock, opens a transaction and calls
:func:`upgrade` with the connection. To write a new revision, compare against a migrated
database with :func:`alembic_config` and ``alembic.command.revision(cfg, autogenerate=True)``
(``cfg.attributes["connection"] = <sync connection>``), then review the file by hand.
"""

from __future__ import annotations

from alembic import command
from alembic.config import Config
from alembic.runtime.migration import MigrationContext
from sqlalchemy.engine import Connection

__all__ = ["SCRIPT_LOCATION", "alembic_config", "current_revision", "upgrade"]

#: Where Alembic finds env.py and versions/: this package, wherever it is installed.
SCRIPT_LOCATION = "payment_adapters.sqlalchemy:migrations"


def alembic_config() -> Config:
    """An Alembic configuration pointing at this package."""
    config = Config()
    config.set_main_option("script_location", SCRIPT_LOCATION)
    return config


def upgrade(connection: Connection, revision: str = "head") -> None:
    """Apply migrations up to ``revision`` on ``connection``, inside its transaction."""
    config = alembic_config()
    config.attributes["connection"] = connection
    command.upgrade(config, revision)


def current_revision(connection: Connection) -> str | None:
    """The revision the database is at (``None`` before the first migration)."""
    return MigrationContext.configure(connection).get_current_revision()
